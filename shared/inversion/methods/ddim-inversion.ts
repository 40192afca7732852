/**
 * Naive DDIM inversion: approximate m(x_i, t_i) by m(x_{i-1}, t_i), one model run per step.
 * The residual is not evaluated (that would cost a second run per step).
 */
import { pack, unpack } from '../batch.ts';
import { invertAffine, type StepSolver } from './step-solver.ts';

export const ddimInversion: StepSolver = async ({ denoiser, step, y, rows }) => {
  const n = denoiser.sampleSize;
  const m = unpack(await denoiser.predict(pack(y, n), rows, step.timestep), y.length, n);
  return {
    x: y.map((yi, j) => invertAffine(yi, m[j]!, step.a, step.b)),
    iterations: y.map(() => 1),
    residual: y.map(() => null),
    converged: y.map(() => false),
  };
};
