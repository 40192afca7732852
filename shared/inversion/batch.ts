/** Packing per-image latents into one batch tensor and back. */

export function pack(items: readonly Float32Array[], size: number): Float32Array {
  const out = new Float32Array(items.length * size);
  items.forEach((x, i) => out.set(x, i * size));
  return out;
}

export function unpack(batch: Float32Array, count: number, size: number): Float32Array[] {
  return Array.from({ length: count }, (_, i) => batch.slice(i * size, (i + 1) * size));
}

export function meanSquare(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
  return s / x.length;
}

export function dot(u: Float32Array, v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < u.length; i++) s += u[i]! * v[i]!;
  return s;
}
