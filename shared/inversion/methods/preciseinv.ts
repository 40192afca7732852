/**
 * PreciseInv (INVERSION.md section 2): start from the DDIM-inversion guess, then run gradient
 * descent on eps in x = alpha x0 + sigma eps to drive the step residual
 * r = a x + b m(x) - y to mean(r^2) < eta. The gradient is
 * sigma (2/n) (a r + b J^T r), with J^T r from the gradient graph.
 *
 * Step sizes come from a backtracking (Armijo) line search per image, so the loss decreases
 * monotonically without knowing the Lipschitz constant. The first trial step is the Newton
 * step of the model-free part of the loss (J = 0): gamma = n / (2 sigma^2 a^2).
 */
import { meanSquare, pack, unpack } from '../batch.ts';
import { invertAffine, type StepSolver } from './step-solver.ts';

export interface PreciseInvOptions {
  /** Threshold on the per-element mean squared residual. */
  eta: number;
  /** Gradient steps per timestep at most. */
  maxIters: number;
  /** Armijo sufficient-decrease constant. */
  armijo?: number;
  /** Halvings of the step before an image is declared stalled at this timestep. */
  maxBacktracks?: number;
}

interface ImageState {
  eps: Float32Array;
  x: Float32Array;
  r: Float32Array;
  loss: number;
  gamma: number;
  iterations: number;
  stalled: boolean;
}

export function preciseInversion(options: PreciseInvOptions): StepSolver {
  const { eta, maxIters } = options;
  if (!(eta > 0)) throw new Error(`eta must be positive, got ${eta}`);
  if (!Number.isInteger(maxIters) || maxIters < 0) throw new Error(`maxIters must be a non-negative integer, got ${maxIters}`);
  const c = options.armijo ?? 1e-4;
  const maxBacktracks = options.maxBacktracks ?? 30;

  return async ({ denoiser, step, y, x0, rows }) => {
    const n = denoiser.sampleSize;
    const { a, b, alpha, sigma } = step;
    const residual = (x: Float32Array, m: Float32Array, target: Float32Array) => {
      const r = new Float32Array(n);
      for (let k = 0; k < n; k++) r[k] = a * x[k]! + b * m[k]! - target[k]!;
      return r;
    };
    const xOf = (j: number, eps: Float32Array) => {
      const x = new Float32Array(n);
      for (let k = 0; k < n; k++) x[k] = alpha * x0[j]![k]! + sigma * eps[k]!;
      return x;
    };

    // DDIM-inversion guess, then its residual.
    const m0 = unpack(await denoiser.predict(pack(y, n), rows, step.timestep), y.length, n);
    const guess = y.map((yi, j) => invertAffine(yi, m0[j]!, a, b));
    const mGuess = unpack(await denoiser.predict(pack(guess, n), rows, step.timestep), y.length, n);
    const gamma0 = n / (2 * sigma * sigma * a * a);
    const states: ImageState[] = guess.map((x, j) => {
      const eps = new Float32Array(n);
      for (let k = 0; k < n; k++) eps[k] = (x[k]! - alpha * x0[j]![k]!) / sigma;
      const r = residual(x, mGuess[j]!, y[j]!);
      return { eps, x, r, loss: meanSquare(r), gamma: gamma0, iterations: 0, stalled: false };
    });

    for (;;) {
      const active = states.flatMap((s, j) => (s.loss >= eta && s.iterations < maxIters && !s.stalled ? [j] : []));
      if (active.length === 0) break;
      const { vjp } = await denoiser.predictWithVjp(
        pack(active.map((j) => states[j]!.x), n),
        active.map((j) => rows[j]!),
        step.timestep,
        pack(active.map((j) => states[j]!.r), n),
      );
      const jtr = unpack(vjp, active.length, n);
      const grads = active.map((j, q) => {
        const s = states[j]!;
        const g = new Float32Array(n);
        let norm2 = 0;
        for (let k = 0; k < n; k++) {
          g[k] = sigma * (2 / n) * (a * s.r[k]! + b * jtr[q]![k]!);
          norm2 += g[k]! * g[k]!;
        }
        return { j, g, norm2 };
      });

      // Backtracking: all images still searching evaluate their trial point in one batch.
      let searching = grads;
      for (let t = 0; t <= maxBacktracks && searching.length > 0; t++) {
        const trials = searching.map(({ j, g }) => {
          const s = states[j]!;
          const eps = new Float32Array(n);
          for (let k = 0; k < n; k++) eps[k] = s.eps[k]! - s.gamma * g[k]!;
          return { eps, x: xOf(j, eps) };
        });
        const m = unpack(
          await denoiser.predict(pack(trials.map((tr) => tr.x), n), searching.map(({ j }) => rows[j]!), step.timestep),
          searching.length,
          n,
        );
        const still: typeof searching = [];
        searching.forEach((entry, q) => {
          const s = states[entry.j]!;
          const r = residual(trials[q]!.x, m[q]!, y[entry.j]!);
          const loss = meanSquare(r);
          if (loss <= s.loss - c * s.gamma * entry.norm2) {
            Object.assign(s, { eps: trials[q]!.eps, x: trials[q]!.x, r, loss, gamma: s.gamma * 2 });
            s.iterations++;
          } else if (t === maxBacktracks) {
            s.stalled = true;
            s.iterations++;
          } else {
            s.gamma /= 2;
            still.push(entry);
          }
        });
        searching = still;
      }
    }

    return {
      x: states.map((s) => s.x),
      iterations: states.map((s) => s.iterations),
      residual: states.map((s) => s.loss),
      converged: states.map((s) => s.loss < eta),
    };
  };
}
