/**
 * The job status machine: awaiting_upload -> queued -> running -> succeeded | failed | canceled.
 * A running job goes back to queued when its worker stops before finishing (it resumes from its
 * checkpoint); canceled and failed are reachable from every non-terminal status.
 */
import { z } from 'zod';

export const JobStatus = z.enum(['awaiting_upload', 'queued', 'running', 'succeeded', 'failed', 'canceled']);
export type JobStatus = z.infer<typeof JobStatus>;

const NEXT: Record<JobStatus, readonly JobStatus[]> = {
  awaiting_upload: ['queued', 'canceled', 'failed'],
  queued: ['running', 'canceled', 'failed'],
  running: ['queued', 'succeeded', 'failed', 'canceled'],
  succeeded: [],
  failed: [],
  canceled: [],
};

export function isTerminal(status: JobStatus): boolean {
  return NEXT[status].length === 0;
}

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return NEXT[from].includes(to);
}

export class InvalidTransitionError extends Error {
  override name = 'InvalidTransitionError';
  constructor(
    readonly from: JobStatus,
    readonly to: JobStatus,
  ) {
    super(`a ${from} job cannot become ${to}`);
  }
}

export function assertTransition(from: JobStatus, to: JobStatus): void {
  if (!canTransition(from, to)) throw new InvalidTransitionError(from, to);
}
