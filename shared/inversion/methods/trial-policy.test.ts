import { describe, expect, it } from 'vitest';
import { TrialPolicy } from './trial-policy.ts';

/** A policy whose clock advances by what each run is declared to cost. */
function timedPolicy(forwardMs: number, gradientMs: number) {
  let now = 0;
  const policy = new TrialPolicy(() => now);
  const run = (withGradient: boolean, images = 1) => policy.timed(withGradient, images, async () => void (now += (withGradient ? gradientMs : forwardMs) * images));
  return { policy, run };
}

describe('trial policy: fused trial when p > (R - 1) / R', () => {
  it('measures R per image from the runs it timed, with a prior before both kinds ran', async () => {
    const { policy, run } = timedPolicy(10, 30);
    expect(policy.costRatio()).toBe(2.5);
    await run(false, 3);
    expect(policy.costRatio()).toBe(2.5);
    await run(true, 2);
    expect(policy.costRatio()).toBeCloseTo(3, 12);
  });

  it('fuses once acceptance is above the threshold, and keeps first and later trials apart', async () => {
    const { policy, run } = timedPolicy(10, 20);
    await run(false);
    await run(true);
    // R = 2: threshold 0.5; the prior alone (p = 0.5) is not above it.
    expect(policy.fuse([false])).toBe(false);
    policy.record(false, true);
    expect(policy.acceptance(false)).toBeCloseTo(2 / 3, 12);
    expect(policy.fuse([false])).toBe(true);
    // Later trials have their own record: still at the prior.
    expect(policy.fuse([true])).toBe(false);
    policy.record(true, false);
    policy.record(true, false);
    // A batch mixes its members' estimates: (2/3 + 1/4) / 2 < 0.5.
    expect(policy.fuse([false, true])).toBe(false);
    expect(policy.fuse([])).toBe(false);
  });

  it('a gradient run as cheap as a forward run is always fused; a very dear one almost never', async () => {
    const cheap = timedPolicy(10, 10);
    await cheap.run(false);
    await cheap.run(true);
    cheap.policy.record(false, false);
    expect(cheap.policy.fuse([false])).toBe(true);
    const dear = timedPolicy(10, 1000);
    await dear.run(false);
    await dear.run(true);
    for (let i = 0; i < 20; i++) dear.policy.record(false, true);
    // p = 21/22 = 0.955 < 0.99.
    expect(dear.policy.fuse([false])).toBe(false);
  });
});
