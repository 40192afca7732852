/**
 * What a client asks for: a model, the inversion parameters (each defaults to the model's
 * manifest), a prompt, which outputs to keep and where to be called back. Ranges are the
 * manifest's own; the API fills defaults from the chosen model.
 */
import { z } from 'zod';
import { etaForSteps, InversionDefaults, ModelId } from './model-manifest.ts';

export const OutputName = z.enum(['latent', 'trajectory', 'reconstruction', 'metrics']);
export type OutputName = z.infer<typeof OutputName>;

/** The file each output is stored as under results/{jobId}/. */
export const OUTPUT_FILES: Record<OutputName, string> = {
  latent: 'latent.safetensors',
  trajectory: 'trajectory.safetensors',
  reconstruction: 'reconstruction.png',
  metrics: 'metrics.json',
};

export const InputContentType = z.enum(['image/png', 'image/jpeg', 'image/webp']);
export type InputContentType = z.infer<typeof InputContentType>;

export const WebhookUrl = z.url({ protocol: /^https?$/ }).max(2048);

export const InversionParams = InversionDefaults.extend({
  prompt: z.string().max(2000),
  outputs: z.array(OutputName).min(1).refine((o) => new Set(o).size === o.length, 'list each output once'),
}).meta({ id: 'InversionParams' });
export type InversionParams = z.infer<typeof InversionParams>;

/** Parameters a request may give; the rest come from the model manifest. */
export const InversionParamsInput = InversionDefaults.partial()
  .extend({
    prompt: z.string().max(2000).default(''),
    outputs: InversionParams.shape.outputs.default(['latent', 'reconstruction', 'metrics']),
  })
  .strict();
export type InversionParamsInput = z.infer<typeof InversionParamsInput>;

export const JobRequest = InversionParamsInput.extend({
  model: ModelId,
  contentType: InputContentType.default('image/png').describe('type of the image to upload; any image/* type is accepted by the upload form'),
  webhook: WebhookUrl.optional().describe('called with the finished job (HMAC-signed) on success, failure or cancellation'),
})
  .strict()
  .meta({ id: 'JobRequest' });
export type JobRequest = z.infer<typeof JobRequest>;

export function resolveParams(defaults: z.infer<typeof InversionDefaults>, input: InversionParamsInput): InversionParams {
  const steps = input.steps ?? defaults.steps;
  return {
    method: input.method ?? defaults.method,
    steps,
    eta: input.eta ?? etaForSteps(defaults, steps),
    maxIters: input.maxIters ?? defaults.maxIters,
    guidance: input.guidance ?? defaults.guidance,
    prompt: input.prompt,
    outputs: input.outputs,
  };
}
