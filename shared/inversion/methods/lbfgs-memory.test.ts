import { describe, expect, it } from 'vitest';
import { mulberry32, randn } from '../../numeric/random.ts';
import { LbfgsMemory } from './lbfgs-memory.ts';

/** Dense BFGS inverse-Hessian update, H+ = (I - rho s y^T) H (I - rho y s^T) + rho s s^T: the textbook form. */
function bfgsUpdate(h: number[][], s: number[], y: number[]): number[][] {
  const d = s.length;
  const rho = 1 / s.reduce((acc, v, i) => acc + v * y[i]!, 0);
  const left = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 : 0) - rho * s[i]! * y[j]!));
  const mul = (p: number[][], q: number[][]) => p.map((row) => q[0]!.map((_, j) => row.reduce((acc, v, k) => acc + v * q[k]![j]!, 0)));
  const right = left[0]!.map((_, j) => left.map((row) => row[j]!));
  const core = mul(mul(left, h), right);
  return core.map((row, i) => row.map((v, j) => v + rho * s[i]! * s[j]!));
}

describe('L-BFGS two-loop recursion', () => {
  it('equals the dense BFGS inverse Hessian applied to the gradient', () => {
    const d = 7;
    const rand = mulberry32(3);
    // Pairs from a convex quadratic with Hessian A = M M^T + I, so s.y > 0.
    const m = Array.from({ length: d }, () => Array.from(randn(d, rand)));
    const hess = m.map((ri, i) => m.map((rj, j) => ri.reduce((acc, v, k) => acc + v * rj[k]!, 0) + (i === j ? 1 : 0)));
    const memory = new LbfgsMemory(4);
    const pairs: { s: number[]; y: number[] }[] = [];
    for (let p = 0; p < 6; p++) {
      const s = Array.from(randn(d, rand));
      const y = hess.map((row) => row.reduce((acc, v, k) => acc + v * s[k]!, 0));
      pairs.push({ s, y });
      expect(memory.push(Float32Array.from(s), Float32Array.from(y))).toBe(true);
    }
    // Only the newest 4 pairs count, starting from H0 = (s.y / y.y) I of the newest pair.
    const kept = pairs.slice(-4);
    const last = kept[kept.length - 1]!;
    const gamma = last.s.reduce((acc, v, i) => acc + v * last.y[i]!, 0) / last.y.reduce((acc, v) => acc + v * v, 0);
    let h = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? gamma : 0)));
    for (const p of kept) h = bfgsUpdate(h, p.s, p.y);
    const g = Array.from(randn(d, rand));
    const expected = h.map((row) => row.reduce((acc, v, k) => acc + v * g[k]!, 0));
    const got = memory.apply(Float32Array.from(g), 1);
    expect(memory.size).toBe(4);
    got.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 4));
  });

  it('with no pairs it scales the gradient by the initial scale', () => {
    const memory = new LbfgsMemory(3);
    expect(Array.from(memory.apply(Float32Array.of(1, -2, 4), 0.5))).toEqual([0.5, -1, 2]);
  });

  it('skips pairs without positive curvature, which would make the direction uphill', () => {
    const memory = new LbfgsMemory(3);
    expect(memory.push(Float32Array.of(1, 0), Float32Array.of(-1, 0))).toBe(false);
    expect(memory.push(Float32Array.of(1, 0), Float32Array.of(0, 1))).toBe(false);
    expect(memory.size).toBe(0);
    memory.push(Float32Array.of(1, 0), Float32Array.of(2, 0));
    memory.clear();
    expect(memory.size).toBe(0);
  });

  it('rejects a memory size that is not a positive integer', () => {
    expect(() => new LbfgsMemory(0)).toThrow(/positive integer, got 0/);
    expect(() => new LbfgsMemory(2.5)).toThrow(/positive integer/);
  });
});
