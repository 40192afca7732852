/**
 * latent.safetensors: x_T as float32 [1, C, h, w] under the name "latent", with the metadata a
 * reconstruction or a render needs (model, sampler, steps, seed, prompt, guidance, image size, ...).
 * trajectory.safetensors holds x_1..x_T as "x_1", ..., "x_T".
 */
import { z } from 'zod';
import { float32Tensor, parseSafetensors, serializeSafetensors, tensorToFloat64 } from '../../formats/safetensors.ts';

export const LatentMetadata = z.object({
  model: z.string(),
  sampler: z.enum(['ddim', 'ddpm', 'flow-euler']),
  predictionType: z.enum(['epsilon', 'v_prediction', 'flow']),
  steps: z.number().int().positive(),
  timesteps: z.array(z.number()),
  method: z.enum(['preciseinv', 'ddim', 'fixed-point']),
  eta: z.number().nonnegative(),
  maxIters: z.number().int().nonnegative(),
  /** PreciseInv's descent directions (absent for the other methods). */
  descent: z.enum(['hybrid', 'lbfgs', 'gradient']).optional(),
  guidance: z.number(),
  prompt: z.string(),
  /** The unconditional branch's prompt; files written before it was recorded used ''. */
  negativePrompt: z.string().optional(),
  seed: z.number().int(),
  /** Pixel size of the inverted image (older files: the latent's size times the VAE's downscale). */
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
});
export type LatentMetadata = z.infer<typeof LatentMetadata>;

/** safetensors metadata values are strings: numbers and arrays are JSON-encoded. */
function toStrings(meta: LatentMetadata): Record<string, string> {
  return Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

function fromStrings(raw: Record<string, string>): LatentMetadata {
  const decoded = Object.fromEntries(
    Object.entries(raw).map(([k, v]) => {
      if (k === 'model' || k === 'sampler' || k === 'predictionType' || k === 'method' || k === 'descent' || k === 'prompt' || k === 'negativePrompt') return [k, v];
      try {
        return [k, JSON.parse(v)];
      } catch {
        return [k, v];
      }
    }),
  );
  return LatentMetadata.parse(decoded);
}

export function encodeLatentFile(latent: Float32Array, dims: number[], meta: LatentMetadata): Uint8Array {
  return serializeSafetensors({ latent: float32Tensor(latent, [1, ...dims]) }, toStrings(LatentMetadata.parse(meta)));
}

export function decodeLatentFile(bytes: Uint8Array, source = 'latent.safetensors'): { latent: Float32Array; dims: number[]; meta: LatentMetadata } {
  const file = parseSafetensors(bytes, source);
  const t = file.tensors.get('latent');
  if (!t) throw new Error(`${source} has no tensor named 'latent'`);
  return { latent: Float32Array.from(tensorToFloat64(t)), dims: t.shape.slice(1), meta: fromStrings(file.metadata) };
}

export function encodeTrajectoryFile(trajectory: readonly Float32Array[], dims: number[], meta: LatentMetadata): Uint8Array {
  const tensors = Object.fromEntries(trajectory.map((x, i) => [`x_${i + 1}`, float32Tensor(x, [1, ...dims])]));
  return serializeSafetensors(tensors, toStrings(meta));
}

export function decodeTrajectoryFile(bytes: Uint8Array, source = 'trajectory.safetensors'): { trajectory: Float32Array[]; dims: number[]; meta: LatentMetadata } {
  const file = parseSafetensors(bytes, source);
  const meta = fromStrings(file.metadata);
  const trajectory: Float32Array[] = [];
  let dims: number[] = [];
  for (let i = 1; i <= meta.steps; i++) {
    const t = file.tensors.get(`x_${i}`);
    if (!t) throw new Error(`${source} has no tensor named 'x_${i}' (a trajectory of ${meta.steps} steps holds x_1..x_${meta.steps})`);
    dims = t.shape.slice(1);
    trajectory.push(Float32Array.from(tensorToFloat64(t)));
  }
  return { trajectory, dims, meta };
}
