/**
 * Every supported sampler reduces to one shape (INVERSION.md section 1): denoising step i,
 * from timestep t_i to the next less noisy one, is
 *
 *     x_{i-1} = a_i * x_i + b_i * m(x_i, t_i) + s_i * z_i
 *
 * and the noisy latent at step i is x_i = alpha_i * x_0 + sigma_i * eps. Inversion methods
 * and samplers work on this form only, never on a scheduler type.
 */
export interface AffineStep {
  /** The timestep value fed to the denoiser at this step. */
  timestep: number;
  a: number;
  b: number;
  /** Scale of the fresh noise z_i (0 for deterministic samplers). */
  s: number;
  /** Noising coefficients of x_i: x_i = alpha * x_0 + sigma * eps. */
  alpha: number;
  sigma: number;
}

export interface SamplingPlan {
  /** The sampler that produced it, for metadata. */
  sampler: 'ddim' | 'ddpm' | 'flow-euler';
  predictionType: 'epsilon' | 'v_prediction' | 'flow';
  /** Steps in denoising order: steps[0] starts from x_T (the noisiest). */
  steps: AffineStep[];
  /** Whether any step adds noise (then z_i must come from a recorded seed). */
  stochastic: boolean;
}
