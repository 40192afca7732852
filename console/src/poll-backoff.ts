/**
 * How long to wait before the next poll of a job. Each new step (or status) brings the wait back
 * to `minMs`; every poll that brings nothing new, and every transient failure, stretches it by
 * `factor` up to `maxMs`. A page watching many long jobs then asks rarely, one that is watching a
 * fast job sees each step promptly.
 */
export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  factor: number;
}

export const POLL_BACKOFF: BackoffOptions = { minMs: 500, maxMs: 10_000, factor: 1.6 };

export class PollBackoff {
  private waitMs: number;

  constructor(private readonly options: BackoffOptions = POLL_BACKOFF) {
    this.waitMs = options.minMs;
  }

  /** The wait after a poll; `changed` says whether it brought anything new. */
  next(changed: boolean): number {
    this.waitMs = changed ? this.options.minMs : Math.min(this.options.maxMs, this.waitMs * this.options.factor);
    return this.waitMs;
  }
}
