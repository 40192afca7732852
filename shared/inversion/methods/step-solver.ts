/**
 * One inversion step for a batch of images: given y = x*_{i-1} - s_i z_i, find x_i with
 * a_i x_i + b_i m(x_i, t_i) = y. Each method (ddim, fixed-point, preciseinv) is a solver;
 * the timestep loop around them is shared (invert.ts).
 */
import type { AffineStep } from '../../diffusion/schedulers/affine-step.ts';
import type { Denoiser } from '../denoiser.ts';

export interface StepProblem {
  denoiser: Denoiser;
  step: AffineStep;
  /** Targets per image. */
  y: Float32Array[];
  /** Clean latents per image (PreciseInv parametrises x_i through them). */
  x0: Float32Array[];
  /** Job-level image index of each entry. */
  rows: number[];
  /**
   * Signal coefficient of the targets: y = x_{i-1} = alphaTarget * x_0 + ..., 1 at the first
   * step (the target is x_0 itself). An error r in x_{i-1} reads as r / alphaTarget in x_0's
   * units, so thresholds divide by alphaTarget^2 to mean the same at every step.
   */
  alphaTarget: number;
  /** Checked once per solver iteration: an abort stops the step by throwing the signal's reason. */
  signal?: AbortSignal;
}

export interface StepSolution {
  x: Float32Array[];
  iterations: number[];
  /** Mean squared step residual at the answer in x_0's units (mean(r^2) / alphaTarget^2), where the method evaluated it. */
  residual: (number | null)[];
  converged: boolean[];
}

export type StepSolver = (problem: StepProblem) => Promise<StepSolution>;

/** x = (y - b m) / a: one DDIM-inversion update, elementwise. */
export function invertAffine(y: Float32Array, m: Float32Array, a: number, b: number): Float32Array {
  const x = new Float32Array(y.length);
  for (let k = 0; k < y.length; k++) x[k] = (y[k]! - b * m[k]!) / a;
  return x;
}
