/**
 * PreciseInv (INVERSION.md section 2): find x_i with a x + b m(x) = y for each step, to
 * mean(r^2) < eta * alphaTarget^2 (eta is in x_0's units: see StepProblem.alphaTarget).
 *
 * Directions (`direction`):
 * - `hybrid` (the default) first iterates the step's own fixed-point map x <- (y - b m(x)) / a
 *   with Anderson mixing (anderson-mixing.ts): one forward run per iteration and no gradient
 *   graph. Where the map contracts, which is every step but the least noisy few, it reaches
 *   float32's floor in a handful of runs, so it is taken there (to `floor`, below eta): those
 *   steps then add nothing measurable to the reconstruction error, whatever eta is. Where the
 *   mixing stops gaining (no halving of the best residual in `patience` iterations), the step is
 *   badly conditioned and the descent below takes over from the best point reached.
 * - `lbfgs` descends on eps in x = alpha x0 + sigma eps from the DDIM-inversion guess, with the
 *   gradient sigma (2/n) (a r + b J^T r) (J^T r from the gradient graph) turned into quasi-Newton
 *   directions (lbfgs-memory.ts), which badly conditioned steps need.
 * - `gradient` is the paper's plain gradient descent.
 * Descent uses a backtracking (Armijo) line search per image, so the loss decreases
 * monotonically without knowing the Lipschitz constant. The first trial step is the Newton step
 * of the model-free part of the loss (J = 0): gamma0 = n / (2 sigma^2 a^2).
 *
 * Cost: a mixing iteration is one forward run. The descent evaluates its loss through the
 * denoiser's step objective (denoiser.ts: the residual, its loss and the gradient in one
 * gradient-graph run, or the loss alone in one forward run): each line-search trial is one run,
 * fused or forward as trial-policy.ts decides from the measured cost ratio and acceptance rate,
 * and a point accepted from a forward run gets its gradient from one fused run. So an iteration
 * whose first trial is accepted costs one gradient-graph run and nothing else. `maxIters` bounds
 * mixing and descent iterations together.
 */
import { dot, meanSquare, pack, unpack } from '../batch.ts';
import { evaluateObjective } from '../denoiser.ts';
import { AndersonMixing } from './anderson-mixing.ts';
import { LbfgsMemory } from './lbfgs-memory.ts';
import { invertAffine, type StepSolver } from './step-solver.ts';
import { TrialPolicy } from './trial-policy.ts';

export type DescentDirection = 'hybrid' | 'lbfgs' | 'gradient';
export const DESCENT_DIRECTIONS: readonly DescentDirection[] = ['hybrid', 'lbfgs', 'gradient'];

export interface PreciseInvOptions {
  /** Threshold on the mean squared step residual, in x_0's units. */
  eta: number;
  /** Descent iterations per timestep at most. */
  maxIters: number;
  direction?: DescentDirection;
  /** Curvature pairs kept by `lbfgs`. */
  memory?: number;
  /** Armijo sufficient-decrease constant. */
  armijo?: number;
  /** Halvings of the step before an image is declared stalled at this timestep. */
  maxBacktracks?: number;
  /** `hybrid`: iterates kept by the Anderson mixing. */
  mixingMemory?: number;
  /** `hybrid`: mixing iterations without halving the best residual before descent takes over. */
  patience?: number;
  /**
   * `hybrid`: residual (x_0 units) the mixing goes down to while it keeps gaining, below eta:
   * about float32's resolution of a unit-scale latent, where further runs only move rounding.
   */
  floor?: number;
  /** Milliseconds, monotonic: times the model runs the trial policy weighs (trial-policy.ts). */
  clock?: () => number;
}

interface ImageState {
  eps: Float32Array;
  x: Float32Array;
  /** mean(r^2) at x; null until a model run has given it. */
  loss: number | null;
  /** Gradient at eps; null until the gradient graph has run at this point. */
  grad: Float32Array | null;
  /** The accepted step and the gradient before it, waiting for the new gradient to form a pair. */
  pending: { s: Float32Array; gradBefore: Float32Array } | null;
  /** Next trial step length along the direction. */
  gamma: number;
  memory: LbfgsMemory | null;
  iterations: number;
  stalled: boolean;
}


export function preciseInversion(options: PreciseInvOptions): StepSolver {
  const { eta, maxIters } = options;
  if (!(eta > 0)) throw new Error(`eta must be positive, got ${eta}`);
  if (!Number.isInteger(maxIters) || maxIters < 0) throw new Error(`maxIters must be a non-negative integer, got ${maxIters}`);
  const direction = options.direction ?? 'hybrid';
  if (!DESCENT_DIRECTIONS.includes(direction)) throw new Error(`direction must be one of ${DESCENT_DIRECTIONS.join(', ')}, got '${String(direction)}'`);
  const quasiNewton = direction !== 'gradient';
  // Badly conditioned steps are what the hybrid hands to L-BFGS: a longer memory pays there.
  const memorySize = options.memory ?? (direction === 'hybrid' ? 16 : 8);
  if (quasiNewton) LbfgsMemory.checkCapacity(memorySize);
  const mixingMemory = options.mixingMemory ?? 8;
  if (direction === 'hybrid') AndersonMixing.checkCapacity(mixingMemory);
  const patience = options.patience ?? 5;
  if (!Number.isInteger(patience) || patience < 1) throw new Error(`patience must be a positive integer, got ${patience}`);
  const floor = Math.min(options.floor ?? 1e-11, eta);
  const c = options.armijo ?? 1e-4;
  const maxBacktracks = options.maxBacktracks ?? 30;
  // Measured costs and acceptance carry over from step to step of one inversion.
  const policy = new TrialPolicy(options.clock);

  return async ({ denoiser, step, y, x0, rows, alphaTarget, signal }) => {
    const n = denoiser.sampleSize;
    const { a, b, alpha, sigma } = step;
    // eta bounds the residual in x_0's units; the loss itself stays the plain mean(r^2).
    const threshold = eta * alphaTarget * alphaTarget;
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

    const timedPredict = (xs: Float32Array[], idx: number[]) =>
      policy.timed(false, idx.length, () => denoiser.predict(pack(xs, n), idx.map((j) => rows[j]!), step.timestep)).then((m) => unpack(m, idx.length, n));
    /** Anderson-mixed fixed-point iteration per image, from `from`, while it keeps gaining; returns each image's best point. */
    const mix = async (from: { x: Float32Array; r: Float32Array; iterations: number }[]) => {
      const floorLoss = floor * alphaTarget * alphaTarget;
      const images = from.map((f) => ({ ...f, loss: meanSquare(f.r), best: { ...f, loss: meanSquare(f.r) }, sinceHalving: 0, mixer: new AndersonMixing(mixingMemory), done: false }));
      for (;;) {
        signal?.throwIfAborted();
        const active = images.flatMap((im, j) => (!im.done && im.best.loss >= floorLoss && im.iterations < maxIters ? [j] : []));
        if (active.length === 0) break;
        const next = active.map((j) => {
          const im = images[j]!;
          const g = new Float64Array(n);
          for (let k = 0; k < n; k++) g[k] = -im.r[k]! / a;
          return im.mixer.next(im.x, g);
        });
        const m = await timedPredict(next, active);
        active.forEach((j, q) => {
          const im = images[j]!;
          im.x = next[q]!;
          im.r = residual(im.x, m[q]!, y[j]!);
          im.loss = meanSquare(im.r);
          im.iterations++;
          if (im.loss < im.best.loss / 2) im.sinceHalving = 0;
          else im.sinceHalving++;
          if (im.loss < im.best.loss) im.best = { x: im.x, r: im.r, iterations: im.iterations, loss: im.loss };
          if (im.sinceHalving >= patience || !Number.isFinite(im.loss)) im.done = true;
        });
      }
      return images.map((im) => ({ x: im.best.x, loss: im.best.loss as number | null, iterations: im.iterations }));
    };

    /** Loss (and gradient, if asked) at the points xs of images idx, in one model run. */
    const evaluate = async (idx: number[], xs: Float32Array[], withGradient: boolean) => {
      const objective = { target: pack(idx.map((j) => y[j]!), n), a, b, sigma };
      const v = await policy.timed(withGradient, idx.length, () => evaluateObjective(denoiser, pack(xs, n), idx.map((j) => rows[j]!), step.timestep, objective, withGradient));
      return { loss: v.loss, gradient: v.gradient ? unpack(v.gradient, idx.length, n) : null };
    };

    // DDIM-inversion guess; the mixing needs its residual, the descent gets it with its gradient.
    const all = y.map((_, j) => j);
    const m0 = await timedPredict(y, all);
    const guess = y.map((yi, j) => invertAffine(yi, m0[j]!, a, b));
    let start: { x: Float32Array; loss: number | null; iterations: number }[] = guess.map((x) => ({ x, loss: null, iterations: 0 }));
    if (direction === 'hybrid') {
      const mGuess = await timedPredict(guess, all);
      start = await mix(guess.map((x, j) => ({ x, r: residual(x, mGuess[j]!, y[j]!), iterations: 0 })));
    }
    const gamma0 = n / (2 * sigma * sigma * a * a);
    const states: ImageState[] = start.map(({ x, loss, iterations }, j) => {
      const eps = new Float32Array(n);
      for (let k = 0; k < n; k++) eps[k] = (x[k]! - alpha * x0[j]![k]!) / sigma;
      const memory = quasiNewton ? new LbfgsMemory(memorySize) : null;
      return { eps, x, loss, grad: null, pending: null, gamma: gamma0, memory, iterations, stalled: false };
    });
    const takeGradient = (s: ImageState, g: Float32Array) => {
      s.grad = g;
      if (s.pending && s.memory) {
        const change = new Float32Array(n);
        for (let k = 0; k < n; k++) change[k] = g[k]! - s.pending.gradBefore[k]!;
        s.memory.push(s.pending.s, change);
      }
      s.pending = null;
    };
    const descending = (s: ImageState) => !(s.loss !== null && s.loss < threshold) && s.iterations < maxIters && !s.stalled;

    for (;;) {
      signal?.throwIfAborted();
      let active = states.flatMap((s, j) => (descending(s) ? [j] : []));
      if (active.length === 0) break;

      // Points accepted from a forward run (or not evaluated yet) get loss and gradient in one fused run.
      const needGrad = active.filter((j) => states[j]!.grad === null);
      if (needGrad.length > 0) {
        const v = await evaluate(needGrad, needGrad.map((j) => states[j]!.x), true);
        needGrad.forEach((j, q) => {
          states[j]!.loss = v.loss[q]!;
          takeGradient(states[j]!, v.gradient![q]!);
        });
        active = active.filter((j) => descending(states[j]!));
        if (active.length === 0) continue;
      }

      const searches = active.map((j) => {
        const s = states[j]!;
        const g = s.grad!;
        let d: Float32Array;
        let t: number;
        if (s.memory && s.memory.size > 0) {
          d = s.memory.apply(g, gamma0);
          for (let k = 0; k < n; k++) d[k] = -d[k]!;
          t = 1;
          // A positive-definite H always gives a descent direction; guard against rounding.
          if (!(dot(g, d) < 0)) {
            s.memory.clear();
            d = g.map((v) => -v);
            t = gamma0;
          }
        } else {
          d = g.map((v) => -v);
          t = s.memory ? gamma0 : s.gamma;
        }
        return { j, d, t, slope: dot(g, d), halvings: 0, restarted: false };
      });

      // Backtracking: all images still searching evaluate their trial point in one batch, fused
      // (the gradient comes with an accepted trial) or forward only, as the trial policy says.
      let searching = searches;
      while (searching.length > 0) {
        const trials = searching.map(({ j, d, t }) => {
          const s = states[j]!;
          const eps = new Float32Array(n);
          for (let k = 0; k < n; k++) eps[k] = s.eps[k]! + t * d[k]!;
          return { eps, x: xOf(j, eps) };
        });
        const later = searching.map((e) => e.halvings > 0 || e.restarted);
        const withGradient = policy.fuse(later);
        const v = await evaluate(searching.map(({ j }) => j), trials.map((tr) => tr.x), withGradient);
        const still: typeof searching = [];
        searching.forEach((e, q) => {
          const s = states[e.j]!;
          const loss = v.loss[q]!;
          const accepted = loss <= s.loss! + c * e.t * e.slope;
          policy.record(later[q]!, accepted);
          if (accepted) {
            const stepTaken = new Float32Array(n);
            for (let k = 0; k < n; k++) stepTaken[k] = trials[q]!.eps[k]! - s.eps[k]!;
            s.pending = s.memory ? { s: stepTaken, gradBefore: s.grad! } : null;
            Object.assign(s, { eps: trials[q]!.eps, x: trials[q]!.x, loss, grad: null });
            if (v.gradient) takeGradient(s, v.gradient[q]!);
            // Plain descent tries a longer step next time; L-BFGS scales its own directions.
            if (!s.memory) s.gamma = e.t * 2;
            s.iterations++;
          } else if (e.halvings < maxBacktracks) {
            e.t /= 2;
            e.halvings++;
            still.push(e);
          } else if (s.memory && s.memory.size > 0 && !e.restarted) {
            // The curvature history misled the search: forget it and retry along the gradient.
            s.memory.clear();
            const d = s.grad!.map((v) => -v);
            still.push({ j: e.j, d, t: gamma0, slope: dot(s.grad!, d), halvings: 0, restarted: true });
          } else {
            s.stalled = true;
            s.iterations++;
          }
        });
        searching = still;
      }
    }

    // An image that never descended (maxIters 0) still reports the residual of its answer.
    const unknown = states.flatMap((s, j) => (s.loss === null ? [j] : []));
    if (unknown.length > 0) {
      const v = await evaluate(unknown, unknown.map((j) => states[j]!.x), false);
      unknown.forEach((j, q) => (states[j]!.loss = v.loss[q]!));
    }

    return {
      x: states.map((s) => s.x),
      iterations: states.map((s) => s.iterations),
      residual: states.map((s) => s.loss! / (alphaTarget * alphaTarget)),
      converged: states.map((s) => s.loss! < threshold),
    };
  };
}
