import { describe, expect, it } from 'vitest';
import { assertTransition, canTransition, isTerminal, JobStatus } from './job-status.ts';

describe('job status machine', () => {
  it('follows awaiting_upload -> queued -> running -> succeeded', () => {
    expect(canTransition('awaiting_upload', 'queued')).toBe(true);
    expect(canTransition('queued', 'running')).toBe(true);
    expect(canTransition('running', 'succeeded')).toBe(true);
    expect(canTransition('awaiting_upload', 'running')).toBe(false);
  });

  it('lets a stopped worker hand a running job back to the queue', () => {
    expect(canTransition('running', 'queued')).toBe(true);
  });

  it('never leaves a terminal status', () => {
    for (const terminal of ['succeeded', 'failed', 'canceled'] as const) {
      expect(isTerminal(terminal)).toBe(true);
      for (const to of JobStatus.options) expect(canTransition(terminal, to)).toBe(false);
    }
    expect(() => assertTransition('succeeded', 'running')).toThrow('a succeeded job cannot become running');
  });
});
