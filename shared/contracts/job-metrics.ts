/** How well an inversion reproduced its image and what it cost; written to results/{jobId}/metrics.json. */
import { z } from 'zod';

export const JobMetrics = z
  .object({
    psnr: z.number().describe('dB, reconstruction vs input'),
    ssim: z.number(),
    latentRmse: z.number().describe('RMSE between the encoded input latent and the reconstruction latent'),
    iterations: z.number().int().nonnegative().describe('solver iterations over all timesteps'),
    modelEvals: z.number().int().nonnegative().describe('denoiser forward and gradient evaluations'),
    seconds: z.number().nonnegative(),
  })
  .meta({ id: 'JobMetrics' });
export type JobMetrics = z.infer<typeof JobMetrics>;
