/**
 * Render and interpolation jobs: work done with the latents of succeeded inversion jobs. They
 * share the job record, queue, status machine and webhooks with inversions; what differs is the
 * work (`Job.render`) and the outputs they write under results/{jobId}/.
 */
import { z } from 'zod';
import { WebhookUrl } from './job-request.ts';
import { InversionDefaults } from './model-manifest.ts';

/** How latent.safetensors is stored, and the content type of a render job's input. */
export const LATENT_CONTENT_TYPE = 'application/octet-stream';

export const RenderOutputName = z.enum(['image', 'contactSheet', 'animation']);
export type RenderOutputName = z.infer<typeof RenderOutputName>;

export const RENDER_OUTPUT_FILES: Record<RenderOutputName, { file: string; contentType: string }> = {
  image: { file: 'render.png', contentType: 'image/png' },
  contactSheet: { file: 'contact-sheet.png', contentType: 'image/png' },
  animation: { file: 'interpolation.webp', contentType: 'image/webp' },
};

export const INTERPOLATION_MODES = ['slerp', 'linear'] as const;
export const MAX_INTERPOLATION_FRAMES = 64;

const Prompt = z.string().max(2000);
const Guidance = InversionDefaults.shape.guidance;
const Strength = z.number().gt(0).max(1);
const Frames = z.number().int().min(2).max(MAX_INTERPOLATION_FRAMES);
const Mode = z.enum(INTERPOLATION_MODES);

/** A source inversion job and the result keys a render reads. */
export const RenderSource = z.object({ job: z.string(), latent: z.string(), trajectory: z.string().optional() });
export type RenderSource = z.infer<typeof RenderSource>;

export const RenderWork = z
  .discriminatedUnion('kind', [
    z.object({
      kind: z.literal('render'),
      source: RenderSource,
      prompt: Prompt.optional(),
      negativePrompt: Prompt.optional(),
      guidance: Guidance.optional(),
      strength: Strength,
    }),
    z.object({ kind: z.literal('interpolation'), sources: z.tuple([RenderSource, RenderSource]), frames: Frames, mode: Mode }),
  ])
  .meta({ id: 'RenderWork' });
export type RenderWork = z.infer<typeof RenderWork>;

const webhook = WebhookUrl.optional().describe('called with the finished job (HMAC-signed) on success, failure or cancellation');

export const RenderRequest = z
  .object({
    prompt: Prompt.optional().describe("the prompt to render with; default: the inversion's (which reproduces its reconstruction)"),
    negativePrompt: Prompt.optional().describe("the unconditional branch's prompt; default: the inversion's ('')"),
    guidance: Guidance.optional().describe("classifier-free guidance weight; default: the inversion's"),
    strength: Strength.default(1).describe('1 renders from x_T; s < 1 keeps the first (1 - s) of the sampler steps of the source, starting from its trajectory (the inversion must have kept the trajectory output)'),
    webhook,
  })
  .strict()
  .meta({ id: 'RenderRequest' });
export type RenderRequest = z.infer<typeof RenderRequest>;

export const InterpolationRequest = z
  .object({
    jobs: z.tuple([z.string(), z.string()]).describe('two succeeded inversion jobs of yours, of one model, step count, prompt and guidance'),
    frames: Frames.default(8).describe('frames from the first latent to the second, both included'),
    mode: Mode.default('slerp').describe('slerp keeps the noise statistics the sampler expects; linear is the straight line'),
    webhook,
  })
  .strict()
  .meta({ id: 'InterpolationRequest' });
export type InterpolationRequest = z.infer<typeof InterpolationRequest>;
