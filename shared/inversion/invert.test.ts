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
import { objectiveBySeparateRuns } from './step-objective.ts';

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
  for (const [T, direction] of [[2, 'hybrid'], [10, 'hybrid'], [2, 'lbfgs'], [4, 'lbfgs'], [10, 'lbfgs'], [4, 'gradient'], [10, 'gradient']] as const) {
    it(`PreciseInv (${direction}) reaches eta at every step and reconstructs far better than DDIM inversion (T=${T})`, async () => {
      const d = analyticDenoiser();
      const x0 = images(3);
      const plan = ddimPlan(sd, T);
      const precise = await invert(preciseInversion({ eta: 1e-9, maxIters: 200, direction }), d, x0, plan, { seed: 0 });
      const naive = await invert(ddimInversion, d, x0, plan, { seed: 0 });
      expect(precise.steps.flat().every((s) => s.converged && s.residual < 1e-9)).toBe(true);
      const recP = await reconstruct(d, precise.latents, plan, 0);
      const recD = await reconstruct(d, naive.latents, plan, 0);
      for (let j = 0; j < 3; j++) {
        expect(rmse(recP[j]!, x0[j]!)).toBeLessThan(1e-3);
        expect(rmse(recD[j]!, x0[j]!)).toBeGreaterThan(10 * rmse(recP[j]!, x0[j]!));
      }
      expect(precise.trajectories[0]!.length).toBe(T);
      // Every accepted descent iteration but a converged last one needs a gradient, as does the start.
      if (direction === 'hybrid') expect(precise.steps[0]!.every((s) => s.vjpEvals <= s.iterations)).toBe(true);
      else expect(precise.steps[0]!.every((s) => s.vjpEvals >= s.iterations)).toBe(true);
    });
  }

  it('fused trials change what a descent iteration costs, not where it goes', async () => {
    const x0 = images(2);
    const plan = ddimPlan(sd, 4);
    // A one-run objective on a virtual clock: a forward run costs 1 ms, a gradient-graph run `ratio` ms.
    const run = async (ratio: number) => {
      const inner = analyticDenoiser();
      let now = 0;
      const fused: Denoiser = {
        ...inner,
        predict: async (x, rows, t) => ((now += 1), inner.predict(x, rows, t)),
        objective: async (x, rows, t, o, withGradient) => {
          now += withGradient ? ratio : 1;
          return objectiveBySeparateRuns(inner, x, rows, t, o, withGradient);
        },
      };
      return invert(preciseInversion({ eta: 1e-9, maxIters: 200, direction: 'lbfgs', clock: () => now }), fused, x0, plan, { seed: 0 });
    };
    const cheap = await run(1.05);
    const dear = await run(20);
    expect(cheap.latents).toEqual(dear.latents);
    expect(cheap.steps.flat().map((s) => s.iterations)).toEqual(dear.steps.flat().map((s) => s.iterations));
    expect(cheap.steps.flat().every((s) => s.converged)).toBe(true);
    // At R = 1.05 every trial runs fused (p > 0.05 always): forward runs are the DDIM guess alone.
    expect(cheap.steps.flat().every((s) => s.forwardEvals === 1)).toBe(true);
    // At R = 20 (fused only once p > 0.95) the first trials run forward, and the accepted ones get their gradient after.
    const total = (inv: typeof cheap, key: 'forwardEvals' | 'vjpEvals') => inv.steps.flat().reduce((a, s) => a + s[key], 0);
    expect(dear.steps[0]![1]!.forwardEvals).toBeGreaterThan(dear.steps[0]![1]!.iterations);
    expect(total(dear, 'forwardEvals')).toBeGreaterThan(total(cheap, 'forwardEvals'));
    expect(total(dear, 'vjpEvals')).toBeLessThanOrEqual(total(cheap, 'vjpEvals'));
  });

  it('the hybrid takes contracting steps to the floor with forward runs alone, at a fraction of L-BFGS cost', async () => {
    const d = analyticDenoiser();
    const x0 = images(2);
    const plan = ddimPlan(sd, 10);
    const hybrid = await invert(preciseInversion({ eta: 1e-9, maxIters: 200 }), d, x0, plan, { seed: 0 });
    const quasi = await invert(preciseInversion({ eta: 1e-9, maxIters: 200, direction: 'lbfgs' }), d, x0, plan, { seed: 0 });
    const cost = (inv: typeof hybrid) => inv.steps.flat().reduce((a, s) => a + s.forwardEvals + 2 * s.vjpEvals, 0);
    expect(hybrid.steps.flat().every((s) => s.converged && s.residual < 1e-9)).toBe(true);
    expect(hybrid.steps.flat().every((s) => s.vjpEvals === 0)).toBe(true);
    expect(cost(hybrid)).toBeLessThan(cost(quasi) / 2);
  });

  it('eta bounds the step residual in x_0 units: mean(r^2) / alpha_{i-1}^2, recomputed from the trajectory', async () => {
    const d = analyticDenoiser();
    const x0 = images(2);
    const T = 4;
    const plan = ddimPlan(sd, T);
    const eta = 1e-6;
    const inv = await invert(preciseInversion({ eta, maxIters: 200 }), d, x0, plan, { seed: 0 });
    for (let j = 0; j < 2; j++) {
      for (let i = 1; i <= T; i++) {
        const step = plan.steps[T - i]!;
        const xi = inv.trajectories[j]![i - 1]!;
        const target = i === 1 ? x0[j]! : inv.trajectories[j]![i - 2]!;
        const m = await d.predict(xi, [0], step.timestep);
        let sum = 0;
        for (let k = 0; k < n; k++) sum += (step.a * xi[k]! + step.b * m[k]! - target[k]!) ** 2;
        const alphaTarget = i === 1 ? 1 : plan.steps[T - i + 1]!.alpha;
        const record = inv.steps[j]![i - 1]!;
        expect(record.residual).toBeCloseTo(sum / n / alphaTarget ** 2, 9);
        expect(record.residual).toBeLessThan(eta);
        expect(record.converged).toBe(true);
      }
    }
  });

  it('L-BFGS directions solve a badly conditioned step that plain gradient descent cannot in the same budget', async () => {
    // m(x) = W x with W symmetric, eigenvalues spread over [0, 0.99]: the step operator I - W has
    // condition number 100, the least-squares loss 1e4.
    const rand = mulberry32(5);
    const q = Array.from({ length: n }, () => randn(n, rand));
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < i; p++) {
        const proj = q[i]!.reduce((acc, v, k) => acc + v * q[p]![k]!, 0);
        q[i] = q[i]!.map((v, k) => v - proj * q[p]![k]!);
      }
      const norm = Math.hypot(...q[i]!);
      q[i] = q[i]!.map((v) => v / norm);
    }
    const lambda = Array.from({ length: n }, (_, i) => (0.99 * i) / (n - 1));
    const w = Array.from({ length: n * n }, (_, e) => {
      const [r, c] = [Math.floor(e / n), e % n];
      return q.reduce((acc, qi, i) => acc + lambda[i]! * qi[r]! * qi[c]!, 0);
    });
    const apply = (x: Float32Array) => {
      const out = new Float32Array(x.length);
      for (let o = 0; o < x.length; o += n) for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) out[o + r] = out[o + r]! + w[r * n + c]! * x[o + c]!;
      return out;
    };
    const linear: Denoiser = { sampleSize: n, predict: async (x) => apply(x), predictWithVjp: async (x, _rows, _t, r) => ({ out: apply(x), vjp: apply(r) }) };
    const step = { timestep: 500, a: 1, b: -1, s: 0, alpha: 0.5, sigma: 0.8 };
    const x0 = images(1, 11);
    const y = images(1, 12);
    const problem = { denoiser: linear, step, y, x0, rows: [0], alphaTarget: 1 };
    const quasi = await preciseInversion({ eta: 1e-10, maxIters: 300, direction: 'lbfgs' })(problem);
    const plain = await preciseInversion({ eta: 1e-10, maxIters: 300, direction: 'gradient' })(problem);
    expect(quasi.converged[0]).toBe(true);
    expect(quasi.iterations[0]).toBeLessThan(150);
    expect(plain.converged[0]).toBe(false);
    expect(plain.residual[0]!).toBeGreaterThan(1e3 * quasi.residual[0]!);
    // The same step's fixed-point map x <- y + W x contracts (radius 0.99): mixing solves it from
    // forward runs alone, in about as many iterations as the map has dimensions.
    const hybrid = await preciseInversion({ eta: 1e-10, maxIters: 300 })(problem);
    expect(hybrid.converged[0]).toBe(true);
    expect(hybrid.iterations[0]).toBeLessThan(quasi.iterations[0]!);
  });

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
    expect(() => preciseInversion({ eta: 1e-5, maxIters: 5, memory: 0 })).toThrow(/memory must be a positive integer/);
    expect(() => fixedPointInversion(0)).toThrow(/positive integer/);
  });
});
