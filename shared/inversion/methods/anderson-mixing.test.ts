import { describe, expect, it } from 'vitest';
import { mulberry32, randn } from '../../numeric/random.ts';
import { AndersonMixing, leastSquares } from './anderson-mixing.ts';

const n = 12;

/** F(x) = M x + c with M a random symmetric matrix of spectral radius q. */
function linearMap(q: number, seed = 5) {
  const rand = mulberry32(seed);
  const raw = Float64Array.from(randn(n * n, rand));
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) m[i * n + k] = (raw[i * n + k]! + raw[k * n + i]!) / 2;
  // Spectral radius by power iteration (symmetric: |largest eigenvalue|).
  let v = new Float64Array(n).fill(1);
  let radius = 0;
  for (let it = 0; it < 500; it++) {
    const w = new Float64Array(n);
    for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) w[i]! += m[i * n + k]! * v[k]!;
    radius = Math.hypot(...w);
    v = w.map((x) => x / radius);
  }
  const scale = q / radius;
  for (let i = 0; i < n * n; i++) m[i]! *= scale;
  const c = Float64Array.from(randn(n, rand));
  const apply = (x: Float32Array) => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = c[i]!;
      for (let k = 0; k < n; k++) s += m[i * n + k]! * x[k]!;
      out[i] = s;
    }
    return out;
  };
  return { apply };
}

function updateNorm(F: (x: Float32Array) => Float64Array, x: Float32Array): number {
  const fx = F(x);
  let s = 0;
  for (let k = 0; k < n; k++) s += (fx[k]! - x[k]!) ** 2;
  return Math.sqrt(s);
}

function iterate(F: (x: Float32Array) => Float64Array, steps: number, mixing: AndersonMixing | null): Float32Array {
  let x: Float32Array = new Float32Array(n);
  for (let k = 0; k < steps; k++) {
    const fx = F(x);
    const g = Float64Array.from(fx, (v, i) => v - x[i]!);
    x = mixing ? mixing.next(x, g) : Float32Array.from(fx);
  }
  return x;
}

describe('Anderson mixing', () => {
  it('solves a slowly contracting linear map to float32 level where plain iteration has barely moved', () => {
    const { apply } = linearMap(0.98);
    const mixed = iterate(apply, n + 3, new AndersonMixing(n + 2));
    const plain = iterate(apply, n + 3, null);
    expect(updateNorm(apply, mixed)).toBeLessThan(1e-4);
    expect(updateNorm(apply, plain)).toBeGreaterThan(1e-1);
  });

  it('converges on a map that does not contract at all, which plain iteration diverges on', () => {
    const { apply } = linearMap(1.6);
    const mixed = iterate(apply, 3 * n, new AndersonMixing(n + 2));
    expect(updateNorm(apply, mixed)).toBeLessThan(1e-3);
    const plain = iterate(apply, 3 * n, null);
    expect(updateNorm(apply, plain)).toBeGreaterThan(1);
  });

  it('with an empty memory takes the plain fixed-point step, and clear() forgets the history', () => {
    const mixing = new AndersonMixing(3);
    const x = Float32Array.from([1, 2]);
    expect(Array.from(mixing.next(x, Float64Array.from([0.5, -1])))).toEqual([1.5, 1]);
    expect(mixing.size).toBe(0);
    mixing.next(Float32Array.from([1.5, 1]), Float64Array.from([0.25, -0.5]));
    expect(mixing.size).toBe(1);
    mixing.clear();
    expect(mixing.size).toBe(0);
    expect(Array.from(mixing.next(x, Float64Array.from([0.5, -1])))).toEqual([1.5, 1]);
  });

  it('least squares recovers the coefficients of an exact combination', () => {
    const cols = [Float64Array.from([1, 0, 1, 2]), Float64Array.from([0, 1, 1, -1])];
    const g = Float64Array.from(cols[0]!.map((v, k) => 2 * v - 3 * cols[1]![k]!));
    const [a, b] = leastSquares(cols, g);
    expect(a).toBeCloseTo(2, 8);
    expect(b).toBeCloseTo(-3, 8);
  });

  it('refuses a memory that is not a positive integer', () => {
    expect(() => new AndersonMixing(0)).toThrow(/Anderson memory must be a positive integer, got 0/);
    expect(() => new AndersonMixing(2.5)).toThrow(/positive integer/);
  });
});
