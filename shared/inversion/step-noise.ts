/**
 * The fresh noise z_i of stochastic samplers (DDPM), drawn from a recorded seed so that the
 * inversion and every later reconstruction see the same z_i: one stream per (seed, image, step).
 */
import { mulberry32, randn } from '../numeric/random.ts';

export function stepNoise(seed: number, image: number, step: number, size: number): Float32Array {
  const mixed = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(image + 1, 0xc2b2ae35) ^ Math.imul(step + 1, 0x27d4eb2f)) >>> 0;
  return Float32Array.from(randn(size, mulberry32(mixed)));
}
