/**
 * Fixed-point inversion (ReNoise-style): iterate x <- (y - b m(x)) / a from the DDIM guess,
 * then take the final update with the average of the last half of the model predictions,
 * which damps the oscillation of plain fixed-point iteration.
 */
import { pack, unpack } from '../batch.ts';
import { invertAffine, type StepSolver } from './step-solver.ts';

export function fixedPointInversion(iterations: number): StepSolver {
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`fixed-point iterations must be a positive integer, got ${iterations}`);
  const window = Math.ceil(iterations / 2);
  return async ({ denoiser, step, y, rows, signal }) => {
    const n = denoiser.sampleSize;
    let x = y;
    const history: Float32Array[][] = [];
    for (let k = 0; k < iterations; k++) {
      signal?.throwIfAborted();
      const m = unpack(await denoiser.predict(pack(x, n), rows, step.timestep), y.length, n);
      history.push(m);
      x = y.map((yi, j) => invertAffine(yi, m[j]!, step.a, step.b));
    }
    const recent = history.slice(-window);
    const averaged = y.map((_, j) => {
      const avg = new Float32Array(n);
      for (const m of recent) for (let k = 0; k < n; k++) avg[k]! += m[j]![k]! / recent.length;
      return avg;
    });
    return {
      x: y.map((yi, j) => invertAffine(yi, averaged[j]!, step.a, step.b)),
      iterations: y.map(() => iterations),
      residual: y.map(() => null),
      converged: y.map(() => false),
    };
  };
}
