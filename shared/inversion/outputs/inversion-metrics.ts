/** metrics.json: reconstruction quality and cost of one image's inversion. */
import { z } from 'zod';

export const StepMetrics = z.object({
  step: z.number().int(),
  timestep: z.number(),
  iterations: z.number().int(),
  /** Mean squared step residual in x_0's units (mean(r^2) / alpha_{i-1}^2): what eta bounds. */
  residual: z.number().nullable(),
  converged: z.boolean(),
  forwardEvals: z.number().int(),
  vjpEvals: z.number().int(),
});

export const InversionMetrics = z.object({
  image: z.string(),
  model: z.string(),
  method: z.enum(['preciseinv', 'ddim', 'fixed-point']),
  sampler: z.enum(['ddim', 'ddpm', 'flow-euler']),
  steps: z.number().int(),
  /** Threshold on each step's residual, in x_0's units. */
  eta: z.number(),
  maxIters: z.number().int(),
  /** PreciseInv's descent directions; null for the other methods. */
  descent: z.enum(['hybrid', 'lbfgs', 'gradient']).nullable(),
  guidance: z.number(),
  width: z.number().int(),
  height: z.number().int(),
  /** Reconstruction vs the (resized, cropped) input, 8-bit pixels; null = identical (infinite). */
  psnr: z.number().nullable(),
  ssim: z.number(),
  /** Reconstructed clean latent vs the encoded input latent. */
  latentRmse: z.number(),
  /** decode(encode(image)) vs image: the best any latent inversion can reach. */
  ceilingPsnr: z.number().nullable(),
  ceilingSsim: z.number(),
  /** Pixel-space model: the VAE is the identity, so the ceiling is exact. */
  vaeIdentity: z.boolean(),
  /** PreciseInv reached eta at every step. */
  converged: z.boolean(),
  iterations: z.number().int(),
  /** Denoiser runs: forward-only (inversion + reconstruction) and gradient-graph runs. */
  modelEvals: z.object({ forward: z.number().int(), vjp: z.number().int() }),
  perStep: z.array(StepMetrics),
  seconds: z.number(),
});
export type InversionMetrics = z.infer<typeof InversionMetrics>;
