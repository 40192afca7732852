/**
 * Rendering an inverted latent: re-run the sampler it was inverted under from x_T, with the
 * recorded conditioning (which reproduces the reconstruction exactly) or a new one (prompt-based
 * editing: what the prompt does not change stays as it was). Starting from an intermediate x_K
 * of the trajectory keeps the first T - K steps of the source (the edit strength, as img2img
 * does). Stochastic samplers (DDPM) draw their z_i from the recorded seed, i.e. keep the source
 * branch's noise, unless another seed is given.
 */
import type { DiffusionPipeline } from '../diffusion/pipeline/diffusion-pipeline.ts';
import { samplingPlan } from '../diffusion/schedulers/sampling-plan.ts';
import type { SamplingPlan } from '../diffusion/schedulers/affine-step.ts';
import { reconstruct } from '../inversion/invert.ts';
import type { InvertedLatent } from './inverted-latent.ts';

export interface RenderOptions {
  /** Default: the prompt of the inversion. */
  prompt?: string;
  /** Default: the inversion's ('' for files that do not record one). */
  negativePrompt?: string;
  /** Default: the inversion's. */
  guidance?: number;
  /** Sampler steps; another count than the inversion's re-plans the sampler from x_T. */
  steps?: number;
  /** Seed of the z_i of stochastic samplers; default the recorded one. */
  seed?: number;
  /** Start from x_K of the trajectory (1..T; default T, i.e. x_T). */
  fromStep?: number;
  onStep?: (done: number, of: number) => void;
  signal?: AbortSignal;
}

/** What a render runs with, every default resolved. */
export interface RenderSettings {
  prompt: string;
  negativePrompt: string;
  guidance: number;
  steps: number;
  seed: number;
  fromStep: number;
  width: number;
  height: number;
}

export interface RenderedImage {
  /** The clean latent the sampler ends at. */
  x0: Float32Array;
  /** Decoded pixels, [3, height, width] in [-1, 1]. */
  pixels: Float32Array;
  width: number;
  height: number;
}

/** The edit strength of img2img (1 = from x_T, small = close to the source) as a start step. */
export function fromStepForStrength(strength: number, steps: number): number {
  if (!(strength > 0 && strength <= 1)) throw new RangeError(`strength must be in (0, 1], got ${strength}`);
  return Math.max(1, Math.round(strength * steps));
}

export function renderSettings(pipeline: DiffusionPipeline, source: InvertedLatent, options: RenderOptions = {}): RenderSettings {
  const { meta, dims } = source;
  if (!pipeline.takesText) {
    const changed = (options.prompt !== undefined && options.prompt !== meta.prompt) || (options.negativePrompt !== undefined && options.negativePrompt !== (meta.negativePrompt ?? ''));
    if (changed) throw new Error(`model '${meta.model}' takes no text conditioning: a prompt would change nothing (render it without one, or use a text-conditioned model)`);
    if (options.guidance !== undefined && options.guidance !== meta.guidance) throw new Error(`model '${meta.model}' takes no text conditioning: guidance would change nothing`);
  }
  const steps = options.steps ?? meta.steps;
  if (!Number.isInteger(steps) || steps < 1 || steps > 1000) throw new RangeError(`steps must be an integer in 1..1000, got ${steps}`);
  const fromStep = options.fromStep ?? steps;
  if (steps !== meta.steps && fromStep !== steps) {
    throw new Error(`fromStep needs the inversion's own plan (${meta.steps} steps); with ${steps} steps a render starts from x_T`);
  }
  if (!Number.isInteger(fromStep) || fromStep < 1 || fromStep > steps) throw new RangeError(`fromStep must be an integer in 1..${steps}, got ${fromStep}`);
  if (fromStep < steps && !source.trajectory) {
    throw new Error(`starting from step ${fromStep} needs the trajectory x_1..x_T of the inversion (trajectory.safetensors; invert with --trajectory, or the 'trajectory' output)`);
  }
  const guidance = options.guidance ?? meta.guidance;
  if (!Number.isFinite(guidance) || guidance < 0) throw new RangeError(`guidance must be a non-negative number, got ${guidance}`);
  const seed = options.seed ?? meta.seed;
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  return {
    prompt: options.prompt ?? meta.prompt,
    negativePrompt: options.negativePrompt ?? meta.negativePrompt ?? '',
    guidance,
    steps,
    seed,
    fromStep,
    width: meta.width ?? dims[2]! * pipeline.vae.downscale,
    height: meta.height ?? dims[1]! * pipeline.vae.downscale,
  };
}

/**
 * The sampler the latent was inverted under, as this model folder plans it; refused where the
 * folder cannot be the one the latent came from (channels, prediction type, timesteps).
 */
export function renderPlan(pipeline: DiffusionPipeline, source: InvertedLatent, steps: number): SamplingPlan {
  const { meta, dims } = source;
  if (dims[0] !== pipeline.latentChannels) {
    throw new Error(`latent of model '${meta.model}' has ${dims[0]} channels; this model's denoiser takes ${pipeline.latentChannels}`);
  }
  const plan = samplingPlan(pipeline.scheduler, steps, meta.sampler);
  if (plan.predictionType !== meta.predictionType) {
    throw new Error(`latent of model '${meta.model}' was inverted with a ${meta.predictionType} model; this one predicts ${plan.predictionType}`);
  }
  const timesteps = plan.steps.map((s) => s.timestep);
  if (steps === meta.steps && timesteps.join() !== meta.timesteps.join()) {
    throw new Error(`latent of model '${meta.model}' was inverted at timesteps [${meta.timesteps.join(', ')}]; this model's scheduler gives [${timesteps.join(', ')}] (another model or scheduler config)`);
  }
  return plan;
}

/** One set of conditioning and one plan, reused for every latent rendered with them. */
export interface Renderer {
  settings: RenderSettings;
  plan: SamplingPlan;
  /** Runs the sampler's last `fromStep` steps from x (x_T at fromStep = T) and decodes. */
  run(x: Float32Array, fromStep: number, hooks?: Pick<RenderOptions, 'onStep' | 'signal'>): Promise<RenderedImage>;
}

export async function openRenderer(pipeline: DiffusionPipeline, source: InvertedLatent, options: RenderOptions = {}): Promise<Renderer> {
  const settings = renderSettings(pipeline, source, options);
  const plan = renderPlan(pipeline, source, settings.steps);
  const { width, height } = settings;
  const conditioning = await pipeline.conditioning([settings.prompt], settings.guidance, { height, width }, settings.negativePrompt);
  const denoiser = pipeline.denoiser(conditioning, source.dims, settings.guidance);
  return {
    settings,
    plan,
    async run(x, fromStep, hooks = {}) {
      const [x0] = await reconstruct(denoiser, [x], plan, settings.seed, { fromStep, ...hooks });
      const pixels = await pipeline.vae.decode({ data: x0!, dims: [1, ...source.dims] });
      return { x0: x0!, pixels, width, height };
    },
  };
}

export async function render(pipeline: DiffusionPipeline, source: InvertedLatent, options: RenderOptions = {}): Promise<RenderedImage & { settings: RenderSettings }> {
  const renderer = await openRenderer(pipeline, source, options);
  const { fromStep, steps } = renderer.settings;
  const start = fromStep === steps ? source.latent : source.trajectory![fromStep - 1]!;
  const hooks = { ...(options.onStep ? { onStep: options.onStep } : {}), ...(options.signal ? { signal: options.signal } : {}) };
  return { ...(await renderer.run(start, fromStep, hooks)), settings: renderer.settings };
}
