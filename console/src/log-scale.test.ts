import { describe, expect, it } from 'vitest';
import { logAxis, logPosition } from './log-scale.ts';

describe('logAxis', () => {
  it('pads to whole decades with a tick at each power of ten, ignoring non-finite and non-positive values', () => {
    const axis = logAxis([3e-6, 1e-4, 0.02, Number.NaN, 0, -1])!;
    expect([axis.lo, axis.hi]).toEqual([-6, -1]);
    expect(axis.ticks).toEqual([1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1].map((t, i) => expect.closeTo(t, 12 + i)));
    expect(logPosition(axis, 1e-6)).toBe(0);
    expect(logPosition(axis, 1e-1)).toBeCloseTo(1, 12);
  });

  it('keeps a value on a power of ten off the edges, and has no axis without a usable value', () => {
    expect(logAxis([1e-4])).toMatchObject({ lo: -5, hi: -3 });
    expect(logAxis([2e-4])).toMatchObject({ lo: -4, hi: -3 });
    expect(logAxis([Number.NaN])).toBeUndefined();
  });
});
