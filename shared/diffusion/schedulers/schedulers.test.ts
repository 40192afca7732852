import { describe, expect, it } from 'vitest';
import { ddimPlan } from './ddim.ts';
import { ddpmPlan } from './ddpm.ts';
import { flowEulerPlan, flowSigmas } from './flow-euler.ts';
import { alphasCumprod } from './noise-schedule.ts';
import { parseSchedulerConfig } from './scheduler-config.ts';
import { spacedTimesteps } from './spacing.ts';

const sd15 = parseSchedulerConfig({
  _class_name: 'DDIMScheduler',
  num_train_timesteps: 1000,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  set_alpha_to_one: false,
  steps_offset: 1,
  prediction_type: 'epsilon',
  timestep_spacing: 'leading',
});

describe('timestep spacing (values computed with diffusers formulas)', () => {
  it('leading + steps_offset 1, trailing and linspace at T=4', () => {
    expect(spacedTimesteps(sd15, 4)).toEqual([751, 501, 251, 1]);
    expect(spacedTimesteps({ ...sd15, timestep_spacing: 'trailing' }, 4)).toEqual([999, 749, 499, 249]);
    expect(spacedTimesteps({ ...sd15, timestep_spacing: 'linspace' }, 4)).toEqual([999, 666, 333, 0]);
  });

  it('rejects a step count outside 1..num_train_timesteps', () => {
    expect(() => spacedTimesteps(sd15, 0)).toThrow(/steps must be an integer in 1..1000/);
    expect(() => spacedTimesteps(sd15, 2.5)).toThrow(/steps must be an integer/);
  });
});

describe('noise schedule', () => {
  it('scaled_linear alphas_cumprod matches the SD values', () => {
    const abar = alphasCumprod(sd15);
    expect(abar[0]).toBeCloseTo(1 - 0.00085, 12);
    // sqrt-spaced betas: beta_999 = 0.012 exactly; abar_999 of SD is about 0.00466.
    expect(abar[999]).toBeCloseTo(0.0046, 3);
    expect(abar[500]).toBeGreaterThan(abar[501]!);
  });
});

describe('flow-matching Euler', () => {
  it('SD3 shift 3 sigmas at T=4', () => {
    const cfg = parseSchedulerConfig({ _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, shift: 3.0, prediction_type: 'flow' });
    const sig = flowSigmas(cfg, 4);
    [1, 0.8577, 0.6022, 0.0089, 0].forEach((s, i) => expect(sig[i]).toBeCloseTo(s, 4));
    const plan = flowEulerPlan(cfg, 4);
    expect(plan.steps[0]!.timestep).toBeCloseTo(1000, 6);
    expect(plan.steps[1]!.b).toBeCloseTo(sig[2]! - sig[1]!, 12);
    expect(plan.steps.every((s) => s.a === 1 && Math.abs(s.alpha + s.sigma - 1) < 1e-15)).toBe(true);
  });
});

/** A smooth stand-in for a denoiser, so samplers can be compared without a network. */
function model(x: Float64Array, t: number): Float64Array {
  return x.map((xi, i) => Math.sin(0.3 * xi + t / 1000 + i) * 0.8 + 0.1 * xi);
}

/** diffusers' DDIMScheduler.step (eta 0, no clipping) restated in its own terms. */
function diffusersDdimStep(x: Float64Array, out: Float64Array, t: number, prevT: number, abar: Float64Array, finalAbar: number, pred: string) {
  const at = abar[t]!;
  const ap = prevT >= 0 ? abar[prevT]! : finalAbar;
  const bt = 1 - at;
  let x0: Float64Array;
  let eps: Float64Array;
  if (pred === 'epsilon') {
    x0 = x.map((xi, i) => (xi - Math.sqrt(bt) * out[i]!) / Math.sqrt(at));
    eps = out;
  } else {
    x0 = x.map((xi, i) => Math.sqrt(at) * xi - Math.sqrt(bt) * out[i]!);
    eps = x.map((xi, i) => Math.sqrt(at) * out[i]! + Math.sqrt(bt) * xi);
  }
  const dir = eps.map((e) => Math.sqrt(1 - ap) * e);
  return x0.map((v, i) => Math.sqrt(ap) * v + dir[i]!);
}

/** diffusers' DDPMScheduler.step mean (fixed_small variance), noise added by the caller. */
function diffusersDdpmMean(x: Float64Array, out: Float64Array, t: number, prevT: number, abar: Float64Array) {
  const at = abar[t]!;
  const ap = prevT >= 0 ? abar[prevT]! : 1;
  const bt = 1 - at;
  const bp = 1 - ap;
  const alphaT = at / ap;
  const betaT = 1 - alphaT;
  const x0 = x.map((xi, i) => (xi - Math.sqrt(bt) * out[i]!) / Math.sqrt(at));
  return x0.map((v, i) => ((Math.sqrt(ap) * betaT) / bt) * v + ((Math.sqrt(alphaT) * bp) / bt) * x[i]!);
}

describe('affine steps reproduce diffusers step()', () => {
  for (const [pred, spacing] of [
    ['epsilon', 'leading'],
    ['v_prediction', 'trailing'],
    ['epsilon', 'linspace'],
  ] as const) {
    it(`DDIM ${pred} ${spacing}: a full sampling run agrees to 1e-6`, () => {
      const cfg = { ...sd15, prediction_type: pred, timestep_spacing: spacing };
      const plan = ddimPlan(cfg, 10);
      const abar = alphasCumprod(cfg);
      let ours = Float64Array.from({ length: 16 }, (_, i) => Math.cos(i));
      let ref = ours.slice();
      for (const step of plan.steps) {
        const m = model(ours, step.timestep);
        ours = ours.map((xi, i) => step.a * xi + step.b * m[i]!);
        ref = diffusersDdimStep(ref, model(ref, step.timestep), step.timestep, step.timestep - 100, abar, abar[0]!, pred);
      }
      for (let i = 0; i < 16; i++) expect(Math.abs(ours[i]! - ref[i]!)).toBeLessThan(1e-6);
    });
  }

  it('DDPM epsilon: mean and noise scale agree with the posterior', () => {
    const plan = ddpmPlan(sd15, 5);
    const abar = alphasCumprod(sd15);
    const grid = plan.steps.map((s) => s.timestep);
    let ours = Float64Array.from({ length: 8 }, (_, i) => Math.sin(i + 1));
    let ref = ours.slice();
    plan.steps.forEach((step, k) => {
      const m = model(ours, step.timestep);
      ours = ours.map((xi, i) => step.a * xi + step.b * m[i]!);
      ref = diffusersDdpmMean(ref, model(ref, step.timestep), step.timestep, grid[k + 1] ?? -1, abar);
    });
    for (let i = 0; i < 8; i++) expect(Math.abs(ours[i]! - ref[i]!)).toBeLessThan(1e-9);
    const last = plan.steps.at(-1)!;
    expect(last.timestep).toBe(1);
    expect(plan.steps[0]!.s).toBeCloseTo(Math.sqrt(((1 - abar[601]!) / (1 - abar[801]!)) * (1 - abar[801]! / abar[601]!)), 12);
    expect(plan.stochastic).toBe(true);
  });

  it('noising coefficients describe x_t = sqrt(abar) x0 + sqrt(1 - abar) eps', () => {
    const plan = ddimPlan(sd15, 4);
    const abar = alphasCumprod(sd15);
    plan.steps.forEach((s) => {
      expect(s.alpha).toBeCloseTo(Math.sqrt(abar[s.timestep]!), 14);
      expect(s.alpha ** 2 + s.sigma ** 2).toBeCloseTo(1, 14);
    });
  });

  it('rejects a flow model under DDIM', () => {
    expect(() => ddimPlan({ ...sd15, prediction_type: 'flow' }, 4)).toThrow(/DDIM supports epsilon and v_prediction/);
  });
});
