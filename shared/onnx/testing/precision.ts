/** Comparing a low-precision gradient with a high-precision one of the same graph. */
import { expect } from 'vitest';

/**
 * Asserts that `low` matches `reference` to `tolerance` relative to the reference's largest
 * magnitude, and that the reference is not vanishingly small (else any match is vacuous).
 */
export function expectMatchesReference(reference: ArrayLike<number>, low: ArrayLike<number>, tolerance: number): void {
  const ref = Array.from(reference);
  const scale = Math.max(...ref.map(Math.abs));
  const err = Math.max(...ref.map((g, i) => Math.abs(g - low[i]!)));
  expect(err / scale).toBeLessThan(tolerance);
  expect(scale).toBeGreaterThan(0.01);
}
