/**
 * The denoiser as the inversion methods see it: a batch of latents in, model outputs out, and
 * optionally the vector-Jacobian product J_m(x)^T r from the gradient graph. `rows` says which
 * images of the job the batch holds, so per-image conditioning (prompts) stays aligned when
 * converged images drop out of the batch. Classifier-free guidance lives behind this port.
 */
import { objectiveBySeparateRuns } from './step-objective.ts';

/**
 * One inversion step's least-squares objective per image: r = a x + b m(x) - y, loss = mean(r^2),
 * with x = alpha x0 + sigma eps and the gradient taken with respect to eps:
 * sigma (2/n) (a r + b J_m(x)^T r).
 */
export interface StepObjective {
  /** y per image, packed like x. */
  target: Float32Array;
  a: number;
  b: number;
  /** dx / d eps. */
  sigma: number;
}

export interface ObjectiveValue {
  /** mean(r^2) per image. */
  loss: number[];
  /** d loss / d eps per image, packed like x; null when the gradient was not asked for. */
  gradient: Float32Array | null;
}

export interface Denoiser {
  /** Elements in one image's latent. */
  readonly sampleSize: number;
  predict(x: Float32Array, rows: readonly number[], timestep: number): Promise<Float32Array>;
  predictWithVjp(x: Float32Array, rows: readonly number[], timestep: number, cotangent: Float32Array): Promise<{ out: Float32Array; vjp: Float32Array }>;
  /**
   * The objective's loss, and with `withGradient` its gradient too, from one model run: a forward
   * run, or one gradient-graph run that computes the residual, its cotangent and the gradient
   * in-graph. A denoiser without it is evaluated by objectiveBySeparateRuns.
   */
  objective?(x: Float32Array, rows: readonly number[], timestep: number, objective: StepObjective, withGradient: boolean): Promise<ObjectiveValue>;
}

/** The objective through the denoiser's own one-run evaluation where it has one. */
export function evaluateObjective(denoiser: Denoiser, x: Float32Array, rows: readonly number[], timestep: number, objective: StepObjective, withGradient: boolean): Promise<ObjectiveValue> {
  return denoiser.objective ? denoiser.objective(x, rows, timestep, objective, withGradient) : objectiveBySeparateRuns(denoiser, x, rows, timestep, objective, withGradient);
}

/** Counts model evaluations per image (forward = 1, forward + VJP = 1 each, as run). */
export class CountingDenoiser implements Denoiser {
  readonly forwardEvals: number[];
  readonly vjpEvals: number[];
  constructor(
    private readonly inner: Denoiser,
    images: number,
  ) {
    this.forwardEvals = new Array(images).fill(0);
    this.vjpEvals = new Array(images).fill(0);
  }
  get sampleSize(): number {
    return this.inner.sampleSize;
  }
  predict(x: Float32Array, rows: readonly number[], timestep: number): Promise<Float32Array> {
    for (const r of rows) this.forwardEvals[r]!++;
    return this.inner.predict(x, rows, timestep);
  }
  predictWithVjp(x: Float32Array, rows: readonly number[], timestep: number, cotangent: Float32Array) {
    for (const r of rows) this.vjpEvals[r]!++;
    return this.inner.predictWithVjp(x, rows, timestep, cotangent);
  }
  objective(x: Float32Array, rows: readonly number[], timestep: number, objective: StepObjective, withGradient: boolean): Promise<ObjectiveValue> {
    // Without a one-run objective the separate runs are counted as they go through this wrapper.
    if (!this.inner.objective) return objectiveBySeparateRuns(this, x, rows, timestep, objective, withGradient);
    for (const r of rows) (withGradient ? this.vjpEvals : this.forwardEvals)[r]!++;
    return this.inner.objective(x, rows, timestep, objective, withGradient);
  }
}
