import { describe, expect, it } from 'vitest';
import { PollBackoff } from './poll-backoff.ts';

describe('PollBackoff', () => {
  it('stretches the wait while nothing changes, up to the cap, and returns to the minimum on news', () => {
    const backoff = new PollBackoff({ minMs: 500, maxMs: 3000, factor: 2 });
    expect([false, false, false, false].map((changed) => backoff.next(changed))).toEqual([1000, 2000, 3000, 3000]);
    expect(backoff.next(true)).toBe(500);
    expect(backoff.next(false)).toBe(1000);
  });
});
