import { describe, expect, it } from 'vitest';
import { ddimPlan } from '../diffusion/schedulers/ddim.ts';
import { ddpmPlan } from '../diffusion/schedulers/ddpm.ts';
import { flowEulerPlan } from '../diffusion/schedulers/flow-euler.ts';
import { parseSchedulerConfig } from '../diffusion/schedulers/scheduler-config.ts';
import { mulberry32, randn } from '../numeric/random.ts';
import type { Denoiser } from './denoiser.ts';
import { invert, reconstruct } from './invert.ts';
import { ddimInversion } from './methods/ddim-inversion.ts';
import { fixedPointInversion } from './methods/fixed-point.ts';
import { preciseInversion } from './methods/preciseinv.ts';

const n = 24;

/** m(x, t) = tanh(W x + t/1000) with its exact Jacobian: a nonlinear, time-dependent stand-in. */
function analyticDenoiser(seed = 1): Denoiser {
  const w = Float64Array.from(randn(n * n, mulberry32(seed)), (v) => (0.8 * v) / Math.sqrt(n));
  const pre = (x: Float32Array, off: number, t: number) =>
    Array.from({ length: n }, (_, i) => {
      let s = t / 1000;
      for (let k = 0; k < n; k++) s += w[i * n + k]! * x[off + k]!;
      return s;
    });
  return {
    sampleSize: n,
    async predict(x, rows, t) {
      const out = new Float32Array(rows.length * n);
      rows.forEach((_, j) => pre(x, j * n, t).forEach((s, i) => (out[j * n + i] = Math.tanh(s))));
      return out;
    },
    async predictWithVjp(x, rows, t, r) {
      const out = new Float32Array(rows.length * n);
      const vjp = new Float32Array(rows.length * n);
      rows.forEach((_, j) => {
        const s = pre(x, j * n, t);
        s.forEach((si, i) => (out[j * n + i] = Math.tanh(si)));
        for (let k = 0; k < n; k++) {
          let acc = 0;
          for (let i = 0; i < n; i++) acc += w[i * n + k]! * (1 - Math.tanh(s[i]!) ** 2) * r[j * n + i]!;
          vjp[j * n + k] = acc;
        }
      });
      return { out, vjp };
    },
  };
}

const sd = parseSchedulerConfig({
  num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear',
  set_alpha_to_one: false, steps_offset: 1, prediction_type: 'epsilon', timestep_spacing: 'leading',
});

function images(count: number, seed = 9): Float32Array[] {
  const rand = mulberry32(seed);
  return Array.from({ length: count }, () => Float32Array.from(randn(n, rand)));
}

function rmse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s / a.length);
}

describe('inversion methods on an analytic denoiser', () => {
  for (const T of [2, 4, 10]) {
    it(`PreciseInv reaches eta at every step and reconstructs far better than DDIM inversion (T=${T})`, async () => {
      const d = analyticDenoiser();
      const x0 = images(3);
      const plan = ddimPlan(sd, T);
      const precise = await invert(preciseInversion({ eta: 1e-9, maxIters: 200 }), d, x0, plan, { seed: 0 });
      const naive = await invert(ddimInversion, d, x0, plan, { seed: 0 });
      expect(precise.steps.flat().every((s) => s.converged && s.residual < 1e-9)).toBe(true);
      const recP = await reconstruct(d, precise.latents, plan, 0);
      const recD = await reconstruct(d, naive.latents, plan, 0);
      for (let j = 0; j < 3; j++) {
        expect(rmse(recP[j]!, x0[j]!)).toBeLessThan(1e-3);
        expect(rmse(recD[j]!, x0[j]!)).toBeGreaterThan(10 * rmse(recP[j]!, x0[j]!));
      }
      expect(precise.trajectories[0]!.length).toBe(T);
      expect(precise.steps[0]!.every((s) => s.vjpEvals === s.iterations)).toBe(true);
    });
  }

  it('fixed-point iteration improves on the DDIM guess', async () => {
    const d = analyticDenoiser();
    const x0 = images(2);
    const plan = ddimPlan(sd, 4);
    const fp = await invert(fixedPointInversion(8), d, x0, plan, { seed: 0 });
    const naive = await invert(ddimInversion, d, x0, plan, { seed: 0 });
    const recF = await reconstruct(d, fp.latents, plan, 0);
    const recD = await reconstruct(d, naive.latents, plan, 0);
    expect(rmse(recF[0]!, x0[0]!)).toBeLessThan(rmse(recD[0]!, x0[0]!));
    expect(fp.steps[0]!.every((s) => s.forwardEvals === 8)).toBe(true);
  });

  it('stochastic DDPM: the recorded seed makes the inversion exact; another seed does not', async () => {
    const d = analyticDenoiser(3);
    const x0 = images(1, 4);
    const plan = ddpmPlan(sd, 4);
    const inv = await invert(preciseInversion({ eta: 1e-10, maxIters: 300 }), d, x0, plan, { seed: 42 });
    expect(rmse((await reconstruct(d, inv.latents, plan, 42))[0]!, x0[0]!)).toBeLessThan(1e-3);
    expect(rmse((await reconstruct(d, inv.latents, plan, 43))[0]!, x0[0]!)).toBeGreaterThan(1e-2);
  });

  it('flow-matching Euler: PreciseInv converges and reconstructs', async () => {
    const d = analyticDenoiser(5);
    const x0 = images(2, 6);
    const plan = flowEulerPlan(parseSchedulerConfig({ shift: 3, prediction_type: 'flow' }), 4);
    const inv = await invert(preciseInversion({ eta: 1e-10, maxIters: 300 }), d, x0, plan, { seed: 0 });
    const rec = await reconstruct(d, inv.latents, plan, 0);
    expect(rmse(rec[1]!, x0[1]!)).toBeLessThan(1e-3);
  });

  it('images in one batch are inverted exactly as they would be alone', async () => {
    const d = analyticDenoiser();
    const x0 = images(3, 11);
    const plan = ddimPlan(sd, 4);
    const solver = preciseInversion({ eta: 1e-8, maxIters: 100 });
    const together = await invert(solver, d, x0, plan, { seed: 0 });
    const alone = await invert(solver, d, [x0[2]!], plan, { seed: 0 });
    expect(Array.from(together.latents[2]!)).toEqual(Array.from(alone.latents[0]!));
  });

  it('stochastic DDPM: an image gets the same x_T at any position in a batch', async () => {
    const d = analyticDenoiser(3);
    const x0 = images(3, 21);
    const plan = ddpmPlan(sd, 4);
    const solver = preciseInversion({ eta: 1e-8, maxIters: 100 });
    const together = await invert(solver, d, x0, plan, { seed: 5 });
    const alone = await invert(solver, d, [x0[2]!], plan, { seed: 5 });
    expect(Array.from(together.latents[2]!)).toEqual(Array.from(alone.latents[0]!));
  });

  it('resuming from a checkpoint gives the same x_T as an uninterrupted run', async () => {
    const d = analyticDenoiser();
    const x0 = images(2, 12);
    const plan = ddimPlan(sd, 6);
    const solver = preciseInversion({ eta: 1e-8, maxIters: 100 });
    let saved: Float32Array[] = [];
    const full = await invert(solver, d, x0, plan, {
      seed: 0,
      onStep: ({ step }, latents) => {
        if (step === 3) saved = latents.map((l) => l.slice());
      },
    });
    const resumed = await invert(solver, d, x0, plan, { seed: 0, resume: { completedSteps: 3, latents: saved } });
    expect(Array.from(resumed.latents[1]!)).toEqual(Array.from(full.latents[1]!));
    expect(resumed.steps[0]!.map((s) => s.step)).toEqual([4, 5, 6]);
  });

  it('rejects meaningless parameters', () => {
    expect(() => preciseInversion({ eta: 0, maxIters: 10 })).toThrow(/eta must be positive/);
    expect(() => preciseInversion({ eta: 1e-5, maxIters: -1 })).toThrow(/maxIters/);
    expect(() => fixedPointInversion(0)).toThrow(/positive integer/);
  });
});
