/**
 * Interpolation between two inverted latents of the same model and plan: the x_T path between
 * them (latent-path.ts), each frame rendered with the shared conditioning. The first and last
 * frames are the two latents themselves, so they render to the two reconstructions.
 */
import type { DiffusionPipeline } from '../diffusion/pipeline/diffusion-pipeline.ts';
import type { InvertedLatent } from './inverted-latent.ts';
import { latentPath, type InterpolationMode } from './latent-path.ts';
import { openRenderer, type RenderedImage, type RenderSettings } from './render.ts';

export interface InterpolateOptions {
  frames: number;
  mode: InterpolationMode;
  /** Called after each rendered frame. */
  onFrame?: (done: number, of: number) => void;
  signal?: AbortSignal;
}

export interface InterpolatedFrame extends RenderedImage {
  /** The frame's x_T. */
  xT: Float32Array;
}

/**
 * Refuses a pair that cannot share one sampler run: another model, sampler, plan or shape; or
 * other conditioning, or (for samplers that add noise) another seed, under which the endpoints
 * would not be the two reconstructions.
 */
export function checkInterpolable(a: InvertedLatent, b: InvertedLatent, names: [string, string] = ['a', 'b']): void {
  const [na, nb] = names;
  const fields: [string, unknown, unknown][] = [
    ['model', a.meta.model, b.meta.model],
    ['sampler', a.meta.sampler, b.meta.sampler],
    ['prediction type', a.meta.predictionType, b.meta.predictionType],
    ['steps', a.meta.steps, b.meta.steps],
    ['timesteps', a.meta.timesteps.join(', '), b.meta.timesteps.join(', ')],
    ['latent shape', a.dims.join('x'), b.dims.join('x')],
    ['prompt', a.meta.prompt, b.meta.prompt],
    ['negative prompt', a.meta.negativePrompt ?? '', b.meta.negativePrompt ?? ''],
    ['guidance', a.meta.guidance, b.meta.guidance],
  ];
  if (a.meta.sampler === 'ddpm') fields.push(['seed (the sampler adds noise drawn from it)', a.meta.seed, b.meta.seed]);
  for (const [field, va, vb] of fields) {
    if (va !== vb) throw new Error(`cannot interpolate: ${na} and ${nb} differ in ${field} (${JSON.stringify(va)} vs ${JSON.stringify(vb)}); both latents need the same model, plan, shape and conditioning`);
  }
}

export async function interpolate(
  pipeline: DiffusionPipeline,
  a: InvertedLatent,
  b: InvertedLatent,
  options: InterpolateOptions,
): Promise<{ frames: InterpolatedFrame[]; settings: RenderSettings }> {
  checkInterpolable(a, b);
  const path = latentPath(a.latent, b.latent, options.frames, options.mode);
  const renderer = await openRenderer(pipeline, a);
  const frames: InterpolatedFrame[] = [];
  for (const xT of path) {
    const image = await renderer.run(xT, renderer.settings.steps, options.signal ? { signal: options.signal } : {});
    frames.push({ ...image, xT });
    options.onFrame?.(frames.length, path.length);
  }
  return { frames, settings: renderer.settings };
}
