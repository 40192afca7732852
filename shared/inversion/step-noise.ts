/**
 * The fresh noise z_i of stochastic samplers (DDPM), drawn from the seed recorded with the
 * latent so that inversion and every later reconstruction see the same z_i. It depends on
 * (seed, step) only, never on an image's position in a batch, so batching and resuming
 * cannot change a result.
 */
import { mulberry32, randn } from '../numeric/random.ts';

export function stepNoise(seed: number, step: number, size: number): Float32Array {
  const mixed = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(step + 1, 0x27d4eb2f)) >>> 0;
  return Float32Array.from(randn(size, mulberry32(mixed)));
}
