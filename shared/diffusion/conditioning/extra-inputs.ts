/**
 * Denoiser inputs beyond the prompt embedding that some families need:
 * - SDXL `time_ids`: [original_h, original_w, crop_top, crop_left, target_h, target_w];
 * - LCM `timestep_cond`: the sinusoidal embedding of (w - 1) * 1000 for guidance scale w,
 *   [sin(s * f_k) for k] ++ [cos(s * f_k) for k] with f_k = exp(-k * ln(10000) / (half - 1)),
 *   zero-padded to an odd dimension.
 */

export function sdxlTimeIds(original: { height: number; width: number }, crop: { top: number; left: number }, target: { height: number; width: number }): Float32Array {
  return Float32Array.from([original.height, original.width, crop.top, crop.left, target.height, target.width]);
}

export function guidanceEmbedding(guidance: number, dim: number): Float32Array {
  if (!Number.isInteger(dim) || dim < 2) throw new Error(`timestep_cond dimension must be an integer >= 2, got ${dim}`);
  const s = (guidance - 1) * 1000;
  const half = Math.floor(dim / 2);
  const step = Math.log(10000) / (half - 1);
  const out = new Float32Array(dim);
  for (let k = 0; k < half; k++) {
    const f = Math.exp(-k * step);
    out[k] = Math.sin(s * f);
    out[half + k] = Math.cos(s * f);
  }
  return out;
}
