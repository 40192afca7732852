/** Root mean squared difference of two latents (or any equal-length tensors). */
export function latentRmse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`latentRmse: latents differ in size, ${a.length} vs ${b.length} values`);
  if (a.length === 0) throw new RangeError('latentRmse: latents are empty');
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  return Math.sqrt(sum / a.length);
}
