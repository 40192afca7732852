/**
 * Paths between two latents. Noise latents of a diffusion model are near-Gaussian: in high
 * dimension two of them are nearly orthogonal with nearly equal norms, and the straight line
 * between them passes through latents of smaller norm (by up to 1/sqrt(2) at the middle), which
 * the sampler never saw. Spherical interpolation (slerp) follows the great circle instead and
 * keeps the norm, so every frame is a latent the model expects.
 */
import { INTERPOLATION_MODES } from '../contracts/render-job.ts';

export { INTERPOLATION_MODES };
export type InterpolationMode = (typeof INTERPOLATION_MODES)[number];

/** Below this angle (radians) slerp's sin(theta) divisor loses precision: the chord is the arc. */
const PARALLEL_ANGLE = 1e-4;

/** The latent at fraction t (0 = a, 1 = b) along the path. */
export function interpolateLatent(a: Float32Array, b: Float32Array, t: number, mode: InterpolationMode): Float32Array {
  if (a.length !== b.length) throw new RangeError(`latents differ in size: ${a.length} vs ${b.length} values`);
  if (!(t >= 0 && t <= 1)) throw new RangeError(`t must be in [0, 1], got ${t}`);
  let wa = 1 - t;
  let wb = t;
  if (mode === 'slerp') {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let k = 0; k < a.length; k++) {
      dot += a[k]! * b[k]!;
      na += a[k]! * a[k]!;
      nb += b[k]! * b[k]!;
    }
    const cos = na > 0 && nb > 0 ? Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb))) : 1;
    const theta = Math.acos(cos);
    if (theta > PARALLEL_ANGLE) {
      wa = Math.sin((1 - t) * theta) / Math.sin(theta);
      wb = Math.sin(t * theta) / Math.sin(theta);
    }
  }
  const out = new Float32Array(a.length);
  for (let k = 0; k < a.length; k++) out[k] = wa * a[k]! + wb * b[k]!;
  return out;
}

/** `frames` latents from a to b inclusive, evenly spaced in t; the first is a and the last b, exactly. */
export function latentPath(a: Float32Array, b: Float32Array, frames: number, mode: InterpolationMode): Float32Array[] {
  if (!Number.isInteger(frames) || frames < 2) throw new RangeError(`frames must be an integer of at least 2, got ${frames}`);
  return Array.from({ length: frames }, (_, k) => {
    if (k === 0) return Float32Array.from(a);
    if (k === frames - 1) return Float32Array.from(b);
    return interpolateLatent(a, b, k / (frames - 1), mode);
  });
}
