/**
 * The denoiser as the inversion methods see it: a batch of latents in, model outputs out, and
 * optionally the vector-Jacobian product J_m(x)^T r from the gradient graph. `rows` says which
 * images of the job the batch holds, so per-image conditioning (prompts) stays aligned when
 * converged images drop out of the batch. Classifier-free guidance lives behind this port.
 */
export interface Denoiser {
  /** Elements in one image's latent. */
  readonly sampleSize: number;
  predict(x: Float32Array, rows: readonly number[], timestep: number): Promise<Float32Array>;
  predictWithVjp(x: Float32Array, rows: readonly number[], timestep: number, cotangent: Float32Array): Promise<{ out: Float32Array; vjp: Float32Array }>;
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
}
