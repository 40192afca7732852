/**
 * An inverted latent as a render reads it: x_T with its metadata and, when it was kept, the
 * trajectory x_1..x_T it came down from (needed to start a render from an intermediate step).
 */
import { decodeLatentFile, decodeTrajectoryFile, type LatentMetadata } from '../inversion/outputs/latent-file.ts';

export interface InvertedLatent {
  /** x_T, one image. */
  latent: Float32Array;
  /** [C, h, w] */
  dims: number[];
  meta: LatentMetadata;
  /** x_1..x_T (trajectory[i - 1] = x_i), when the inversion kept it. */
  trajectory?: Float32Array[];
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (!Object.is(a[k], b[k])) return false;
  return true;
}

/**
 * Reads latent.safetensors and, optionally, its trajectory.safetensors. A trajectory of another
 * inversion (other plan, seed or shape, or whose x_T is not this latent) is refused.
 */
export function readInvertedLatent(
  latentBytes: Uint8Array,
  trajectoryBytes?: Uint8Array,
  sources: { latent?: string; trajectory?: string } = {},
): InvertedLatent {
  const latentSource = sources.latent ?? 'latent.safetensors';
  const trajectorySource = sources.trajectory ?? 'trajectory.safetensors';
  const { latent, dims, meta } = decodeLatentFile(latentBytes, latentSource);
  if (dims.length !== 3) throw new Error(`${latentSource}: expected a latent of shape [1, C, h, w], got [1, ${dims.join(', ')}]`);
  if (!trajectoryBytes) return { latent, dims, meta };
  const t = decodeTrajectoryFile(trajectoryBytes, trajectorySource);
  const xT = t.trajectory[t.trajectory.length - 1]!;
  const belongs =
    t.meta.model === meta.model &&
    t.meta.seed === meta.seed &&
    t.meta.steps === meta.steps &&
    t.meta.timesteps.join() === meta.timesteps.join() &&
    t.dims.join() === dims.join() &&
    sameValues(xT, latent);
  if (!belongs) throw new Error(`${trajectorySource} is not the trajectory of ${latentSource} (its model, plan, seed, shape or x_T differ)`);
  return { latent, dims, meta, trajectory: t.trajectory };
}
