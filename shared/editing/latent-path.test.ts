import { describe, expect, it } from 'vitest';
import { mulberry32, randn } from '../numeric/random.ts';
import { interpolateLatent, latentPath } from './latent-path.ts';

const gaussian = (n: number, seed: number, scale = 1) => Float32Array.from(randn(n, mulberry32(seed)), (v) => v * scale);

function norm(x: Float32Array): number {
  return Math.sqrt(x.reduce((a, v) => a + v * v, 0));
}

describe('latent paths', () => {
  const a = gaussian(4096, 1);
  const b = gaussian(4096, 2, 1.1);

  it('start and end exactly at the two latents', () => {
    for (const mode of ['slerp', 'linear'] as const) {
      const path = latentPath(a, b, 5, mode);
      expect(path).toHaveLength(5);
      expect(Array.from(path[0]!)).toEqual(Array.from(a));
      expect(Array.from(path[4]!)).toEqual(Array.from(b));
    }
  });

  it('slerp moves the norm monotonically between the endpoints; the straight line sags in the middle', () => {
    const slerp = latentPath(a, b, 9, 'slerp').map(norm);
    for (let k = 1; k < slerp.length; k++) expect(slerp[k]!).toBeGreaterThan(slerp[k - 1]! - 1e-3);
    const mid = interpolateLatent(a, b, 0.5, 'linear');
    expect(norm(mid) / Math.sqrt(norm(a) * norm(b))).toBeLessThan(0.75);
  });

  it('falls back to the chord for parallel latents and refuses bad input', () => {
    const twice = a.map((v) => 2 * v);
    const mid = interpolateLatent(a, twice, 0.5, 'slerp');
    expect(mid.every((v, k) => Math.abs(v - 1.5 * a[k]!) < 1e-5)).toBe(true);
    expect(() => interpolateLatent(a, new Float32Array(3), 0.5, 'slerp')).toThrow(/latents differ in size: 4096 vs 3 values/);
    expect(() => latentPath(a, b, 1, 'slerp')).toThrow(/frames must be an integer of at least 2, got 1/);
    expect(() => interpolateLatent(a, b, 1.5, 'linear')).toThrow(/t must be in \[0, 1\]/);
  });
});
