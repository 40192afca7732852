/**
 * The inversion loop shared by every method: walk the sampling plan backwards from the clean
 * latent, solving one denoising step at a time, and record per-step statistics.
 */
import type { SamplingPlan } from '../diffusion/schedulers/affine-step.ts';
import { CountingDenoiser, type Denoiser } from './denoiser.ts';
import type { StepSolver } from './methods/step-solver.ts';
import { stepNoise } from './step-noise.ts';
import type { InversionProgress, InversionResult, StepRecord } from './step-record.ts';

export interface InvertOptions {
  /** Seed of the z_i of stochastic samplers; stored with the latent for reconstruction. */
  seed: number;
  /** Resume after this many completed steps from these x*_i (one per image). */
  resume?: { completedSteps: number; latents: Float32Array[] };
  onStep?: (progress: InversionProgress, latents: readonly Float32Array[], records: readonly StepRecord[]) => Promise<void> | void;
  /** Passed to the solver, which checks it once per iteration. */
  signal?: AbortSignal;
}

export async function invert(solver: StepSolver, denoiser: Denoiser, x0: Float32Array[], plan: SamplingPlan, options: InvertOptions): Promise<InversionResult> {
  const T = plan.steps.length;
  const counting = new CountingDenoiser(denoiser, x0.length);
  const rows = x0.map((_, j) => j);
  let current = options.resume ? options.resume.latents : x0;
  const trajectories: Float32Array[][] = x0.map(() => []);
  const steps: StepRecord[][] = x0.map(() => []);
  const start = options.resume?.completedSteps ?? 0;
  for (let i = start + 1; i <= T; i++) {
    const step = plan.steps[T - i]!;
    const y = current.map((xi, j) => {
      if (step.s === 0) return xi;
      const z = stepNoise(options.seed, i, xi.length);
      return xi.map((v, k) => v - step.s * z[k]!);
    });
    const before = { f: [...counting.forwardEvals], v: [...counting.vjpEvals] };
    // The target x*_{i-1} is x_0 at the first step, else the latent that denoising step i-1 starts from.
    const alphaTarget = i === 1 ? 1 : plan.steps[T - i + 1]!.alpha;
    const sol = await solver({ denoiser: counting, step, y, x0, rows, alphaTarget, ...(options.signal ? { signal: options.signal } : {}) });
    current = sol.x;
    const records = rows.map((j) => ({
      step: i,
      timestep: step.timestep,
      iterations: sol.iterations[j]!,
      residual: sol.residual[j] ?? Number.NaN,
      converged: sol.converged[j]!,
      forwardEvals: counting.forwardEvals[j]! - before.f[j]!,
      vjpEvals: counting.vjpEvals[j]! - before.v[j]!,
    }));
    records.forEach((r, j) => {
      steps[j]!.push(r);
      trajectories[j]!.push(current[j]!);
    });
    await options.onStep?.({ step: i, of: T }, current, records);
  }
  return { latents: current, trajectories, steps };
}

export interface ReconstructOptions {
  /** Start from x_K (given in place of x_T) and run the plan's last K steps; default T. */
  fromStep?: number;
  /** Called after each sampler step (1-based count of steps run so far). */
  onStep?: (done: number, of: number) => void;
  /** Checked before every step. */
  signal?: AbortSignal;
}

/** Runs the sampler from x_T (with the recorded z_i) down to the clean latent. */
export async function reconstruct(denoiser: Denoiser, xT: Float32Array[], plan: SamplingPlan, seed: number, options: ReconstructOptions = {}): Promise<Float32Array[]> {
  const T = plan.steps.length;
  const fromStep = options.fromStep ?? T;
  if (!Number.isInteger(fromStep) || fromStep < 1 || fromStep > T) throw new RangeError(`fromStep must be an integer in 1..${T}, got ${fromStep}`);
  const n = denoiser.sampleSize;
  const rows = xT.map((_, j) => j);
  let x = xT;
  for (let q = T - fromStep; q < T; q++) {
    options.signal?.throwIfAborted();
    const step = plan.steps[q]!;
    const i = T - q;
    const batch = new Float32Array(x.length * n);
    x.forEach((xi, j) => batch.set(xi, j * n));
    const m = await denoiser.predict(batch, rows, step.timestep);
    x = x.map((xi, j) => {
      const z = step.s === 0 ? undefined : stepNoise(seed, i, n);
      const out = new Float32Array(n);
      for (let k = 0; k < n; k++) out[k] = step.a * xi[k]! + step.b * m[j * n + k]! + (z ? step.s * z[k]! : 0);
      return out;
    });
    options.onStep?.(q - (T - fromStep) + 1, fromStep);
  }
  return x;
}
