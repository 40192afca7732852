/**
 * Inverts a set of images with one opened pipeline: decode and size each image, encode to
 * latents, run the chosen method over the sampling plan in batches, then re-run the sampler
 * from x_T (never shortcutting to the stored x_0), decode, and measure. An image that cannot be
 * read fails alone; the others are still processed.
 */
import type { DiffusionPipeline } from '../diffusion/pipeline/diffusion-pipeline.ts';
import { decodeImage } from '../diffusion/image/decode-image.ts';
import { encodePng } from '../diffusion/image/encode-png.ts';
import { prepareImage, type PreparedImage, type ResolutionRule } from '../diffusion/image/prepare-image.ts';
import { samplingPlan, type SamplerKind } from '../diffusion/schedulers/sampling-plan.ts';
import { invert, reconstruct } from './invert.ts';
import { ddimInversion } from './methods/ddim-inversion.ts';
import { fixedPointInversion } from './methods/fixed-point.ts';
import { preciseInversion, type DescentDirection } from './methods/preciseinv.ts';
import type { StepSolver } from './methods/step-solver.ts';
import { latentRmse } from './metrics/latent-rmse.ts';
import { psnr } from './metrics/psnr.ts';
import { ssim } from './metrics/ssim.ts';
import { encodeLatentFile, encodeTrajectoryFile, type LatentMetadata } from './outputs/latent-file.ts';
import type { InversionMetrics } from './outputs/inversion-metrics.ts';
import type { InversionProgress, StepRecord } from './step-record.ts';

export type InversionMethod = 'preciseinv' | 'ddim' | 'fixed-point';

export interface InversionParams {
  model: string;
  method: InversionMethod;
  steps: number;
  eta: number;
  maxIters: number;
  /** PreciseInv's descent directions (default lbfgs). */
  descent?: DescentDirection;
  guidance: number;
  prompt: string;
  seed: number;
  sampler?: SamplerKind;
  trajectory: boolean;
  resolution: ResolutionRule;
  /** Images run through the model together. */
  batchSize: number;
}

/** One image's inversion state after `completedSteps` timesteps: enough to continue it exactly. */
export interface ImageState {
  completedSteps: number;
  /** x*_i at i = completedSteps. */
  latent: Float32Array;
  /** x_1..x_i (kept only when the trajectory is requested). */
  trajectory: Float32Array[];
  records: StepRecord[];
}

export interface ImageInput {
  name: string;
  bytes: Uint8Array;
  /** Continue after this state instead of starting from the encoded image. */
  resume?: ImageState;
  /** Awaited after every timestep with this image's state (e.g. to checkpoint it). */
  onStep?: (state: ImageState & { of: number }) => Promise<void>;
  /** Checked between timesteps, and inside the solver once every image of its batch is aborted; an aborted image stops and reports `aborted`. */
  signal?: AbortSignal;
}

export type ImageResult =
  | { name: string; ok: true; files: Record<string, Uint8Array>; metrics: InversionMetrics }
  | { name: string; ok: false; error: string; aborted?: true };

/** Thrown out of the step loop once every image of a batch is aborted. */
class BatchAborted extends Error {}

/** The descent directions a run uses: PreciseInv's (hybrid unless asked otherwise), none for the other methods. */
function descentOf(params: Pick<InversionParams, 'method' | 'descent'>): DescentDirection | undefined {
  return params.method === 'preciseinv' ? (params.descent ?? 'hybrid') : undefined;
}

export function stepSolver(params: Pick<InversionParams, 'method' | 'eta' | 'maxIters' | 'descent'>): StepSolver {
  switch (params.method) {
    case 'ddim': return ddimInversion;
    case 'fixed-point': return fixedPointInversion(Math.max(params.maxIters, 1));
    case 'preciseinv': return preciseInversion({ eta: params.eta, maxIters: params.maxIters, direction: descentOf(params)! });
  }
}

/** [-1, 1] CHW floats -> 8-bit HWC, as the PNG holds them. */
function toBytes(chw: Float32Array, width: number, height: number): Uint8Array {
  const plane = width * height;
  const out = new Uint8Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[3 * p + c] = Math.min(255, Math.max(0, Math.round((chw[c * plane + p]! + 1) * 127.5)));
  }
  return out;
}

function imageMetrics(reference: PreparedImage, chw: Float32Array) {
  const a = { width: reference.width, height: reference.height, channels: 3, data: toBytes(reference.chw, reference.width, reference.height) };
  const b = { width: reference.width, height: reference.height, channels: 3, data: toBytes(chw, reference.width, reference.height) };
  return { psnr: psnr(a, b, 255), ssim: ssim(a, b, 255) };
}

export async function invertImages(
  pipeline: DiffusionPipeline,
  images: ImageInput[],
  params: InversionParams,
  onProgress?: (image: string[], progress: InversionProgress) => void,
): Promise<ImageResult[]> {
  const results = new Map<string, ImageResult>();
  const prepared: { name: string; image: PreparedImage; input: ImageInput }[] = [];
  for (const img of images) {
    try {
      const decoded = await decodeImage(img.bytes, img.name);
      prepared.push({ name: img.name, image: await prepareImage(decoded, params.resolution), input: img });
    } catch (e) {
      results.set(img.name, { name: img.name, ok: false, error: (e as Error).message });
    }
  }
  const plan = samplingPlan(pipeline.scheduler, params.steps, params.sampler);
  if (params.method === 'preciseinv' && !pipeline.hasGradientGraph) {
    throw new Error(`model '${params.model}' has no gradient graph: run \`preciseinv prepare <model-dir>\` first, or choose --method ddim or fixed-point`);
  }
  const solver = stepSolver(params);
  const descent = descentOf(params);

  // Images of one size (and resume point, so they step in lockstep) go through the model together.
  const groups = new Map<string, typeof prepared>();
  for (const p of prepared) {
    const key = `${p.image.width}x${p.image.height}@${p.input.resume?.completedSteps ?? 0}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  for (const group of groups.values()) {
    for (let start = 0; start < group.length; start += params.batchSize) {
      const batch = group.slice(start, start + params.batchSize).filter((p) => {
        if (!p.input.signal?.aborted) return true;
        results.set(p.name, { name: p.name, ok: false, error: `aborted: ${String(p.input.signal.reason)}`, aborted: true });
        return false;
      });
      if (batch.length === 0) continue;
      const { width, height } = batch[0]!.image;
      const started = performance.now();
      const pixels = new Float32Array(batch.length * 3 * width * height);
      batch.forEach((p, j) => pixels.set(p.image.chw, j * 3 * width * height));
      const latents = await pipeline.vae.encode(pixels, [batch.length, 3, height, width]);
      const latentDims = latents.dims.slice(1);
      const size = latentDims.reduce((a, b) => a * b, 1);
      const x0 = batch.map((_, j) => latents.data.slice(j * size, (j + 1) * size));
      const conditioning = await pipeline.conditioning(batch.map(() => params.prompt), params.guidance, { height, width });
      const denoiser = pipeline.denoiser(conditioning, latentDims, params.guidance);
      const resumedAt = batch[0]!.input.resume?.completedSteps ?? 0;
      const trajectories = batch.map((p) => [...(p.input.resume?.trajectory ?? [])]);
      const records = batch.map((p) => [...(p.input.resume?.records ?? [])]);
      const finalCheckpoint = new Set<number>();
      // Aborts the solver mid-step once every image of the batch is aborted.
      const batchAbort = new AbortController();
      const abortIfAll = () => batch.every((p) => p.input.signal?.aborted) && batchAbort.abort();
      for (const p of batch) p.input.signal?.addEventListener('abort', abortIfAll, { once: true });
      abortIfAll();
      let inversion: Awaited<ReturnType<typeof invert>>;
      try {
        inversion = await invert(solver, denoiser, x0, plan, {
          seed: params.seed,
          signal: batchAbort.signal,
          ...(resumedAt > 0 ? { resume: { completedSteps: resumedAt, latents: batch.map((p) => p.input.resume!.latent) } } : {}),
          onStep: async (progress, current, stepRecords) => {
            onProgress?.(batch.map((b) => b.name), progress);
            for (const [j, p] of batch.entries()) {
              records[j]!.push(stepRecords[j]!);
              if (params.trajectory) trajectories[j]!.push(current[j]!);
              // The step that was running when the signal fired still gets its checkpoint, so a
              // shutdown resumes after it instead of redoing it; later steps of the batch do not.
              if (p.input.signal?.aborted) {
                if (finalCheckpoint.has(j)) continue;
                finalCheckpoint.add(j);
              }
              await p.input.onStep?.({ completedSteps: progress.step, of: progress.of, latent: current[j]!, trajectory: trajectories[j]!, records: records[j]! });
            }
            if (batch.every((p) => p.input.signal?.aborted)) throw new BatchAborted();
          },
        });
      } catch (e) {
        if (!(e instanceof BatchAborted) && !batchAbort.signal.aborted) throw e;
        for (const p of batch) results.set(p.name, { name: p.name, ok: false, error: `aborted: ${String(p.input.signal!.reason)}`, aborted: true });
        continue;
      }
      const recon = await reconstruct(denoiser, inversion.latents, plan, params.seed);
      const decodedRecon = await pipeline.vae.decode({ data: concat(recon), dims: latents.dims });
      const decodedCeiling = await pipeline.vae.decode(latents);
      const seconds = (performance.now() - started) / 1000;
      const meta: LatentMetadata = {
        model: params.model,
        sampler: plan.sampler,
        predictionType: plan.predictionType,
        steps: params.steps,
        timesteps: plan.steps.map((s) => s.timestep),
        method: params.method,
        eta: params.eta,
        maxIters: params.maxIters,
        ...(descent ? { descent } : {}),
        guidance: params.guidance,
        prompt: params.prompt,
        // The unconditional branch of the inversion is the empty prompt.
        negativePrompt: '',
        seed: params.seed,
        width,
        height,
      };
      for (const [j, p] of batch.entries()) {
        if (p.input.signal?.aborted) {
          results.set(p.name, { name: p.name, ok: false, error: `aborted: ${String(p.input.signal.reason)}`, aborted: true });
          continue;
        }
        const pix = 3 * width * height;
        const reconChw = decodedRecon.slice(j * pix, (j + 1) * pix);
        const quality = imageMetrics(p.image, reconChw);
        const ceiling = imageMetrics(p.image, decodedCeiling.slice(j * pix, (j + 1) * pix));
        const steps = records[j]!;
        const metrics: InversionMetrics = {
          image: p.name,
          model: params.model,
          method: params.method,
          sampler: plan.sampler,
          steps: params.steps,
          eta: params.eta,
          maxIters: params.maxIters,
          descent: descent ?? null,
          guidance: params.guidance,
          width,
          height,
          psnr: finite(quality.psnr),
          ssim: quality.ssim,
          latentRmse: latentRmse(recon[j]!, x0[j]!),
          ceilingPsnr: finite(ceiling.psnr),
          ceilingSsim: ceiling.ssim,
          vaeIdentity: pipeline.vae.identity,
          converged: params.method === 'preciseinv' ? steps.every((s) => s.converged) : false,
          iterations: steps.reduce((a, s) => a + s.iterations, 0),
          modelEvals: {
            forward: steps.reduce((a, s) => a + s.forwardEvals, 0) + params.steps,
            vjp: steps.reduce((a, s) => a + s.vjpEvals, 0),
          },
          perStep: steps.map((s) => ({ ...s, residual: Number.isFinite(s.residual) ? s.residual : null })),
          // The batch ran as one: its time is shared equally.
          seconds: seconds / batch.length,
        };
        const files: Record<string, Uint8Array> = {
          'latent.safetensors': encodeLatentFile(inversion.latents[j]!, latentDims, meta),
          'reconstruction.png': await encodePng(reconChw, width, height),
          'metrics.json': new TextEncoder().encode(`${JSON.stringify(metrics, null, 2)}\n`),
        };
        if (params.trajectory) files['trajectory.safetensors'] = encodeTrajectoryFile(trajectories[j]!, latentDims, meta);
        results.set(p.name, { name: p.name, ok: true, files, metrics });
      }
    }
  }
  return images.map((img) => results.get(img.name)!);
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Identical images have infinite PSNR, which JSON cannot hold: reported as null. */
function finite(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}
