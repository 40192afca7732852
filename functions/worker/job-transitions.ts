/**
 * The worker's changes to a job record, as pure functions of the current record. Each returns
 * undefined when the change does not apply, so JsonRecordStore.update leaves the record alone:
 * that is how a duplicate delivery or a stale worker is kept from touching a job.
 */
import type { Job, JobError, JobOutputName, JobProgress } from '../../shared/contracts/job.ts';
import type { JobMetrics } from '../../shared/contracts/job-metrics.ts';
import { assertTransition, isTerminal } from '../../shared/contracts/job-status.ts';

const leaseLive = (job: Job, now: Date): boolean => job.lease !== null && Date.parse(job.lease.expiresAt) > now.getTime();

const leasedBy = (job: Job, workerId: string): boolean => job.status === 'running' && job.lease?.workerId === workerId;

/** Takes a job for this worker: a queued one, an uploaded one, or a running one whose worker stopped renewing. */
export function claim(job: Job, workerId: string, now: Date, leaseSeconds: number): Job | undefined {
  const claimable = job.status === 'awaiting_upload' || job.status === 'queued' || (job.status === 'running' && !leaseLive(job, now));
  if (!claimable) return undefined;
  const at = now.toISOString();
  return {
    ...job,
    status: 'running',
    attempts: job.attempts + 1,
    lease: { workerId, expiresAt: new Date(now.getTime() + leaseSeconds * 1000).toISOString() },
    timings: { ...job.timings, queuedAt: job.timings.queuedAt ?? at, startedAt: job.timings.startedAt ?? at },
  };
}

/** Extends this worker's lease, recording progress if given; undefined once the job is no longer ours. */
export function renewLease(job: Job, workerId: string, now: Date, leaseSeconds: number, progress?: JobProgress): Job | undefined {
  if (!leasedBy(job, workerId)) return undefined;
  return { ...job, lease: { workerId, expiresAt: new Date(now.getTime() + leaseSeconds * 1000).toISOString() }, progress: progress ?? job.progress };
}

/** Hands the job back to the queue (shutdown, or a failure worth retrying), keeping its checkpoint. */
export function release(job: Job, workerId: string, error: JobError | null = null): Job | undefined {
  if (!leasedBy(job, workerId)) return undefined;
  assertTransition(job.status, 'queued');
  return { ...job, status: 'queued', lease: null, error };
}

export function succeed(job: Job, workerId: string, now: Date, outputs: Partial<Record<JobOutputName, string>>, metrics: JobMetrics | null): Job | undefined {
  if (!leasedBy(job, workerId)) return undefined;
  // A render counts its own steps (an interpolation every frame's); an inversion its timesteps.
  const total = job.render ? (job.progress?.totalSteps ?? job.params.steps) : job.params.steps;
  return {
    ...job,
    status: 'succeeded',
    lease: null,
    error: null,
    outputs,
    metrics,
    progress: { step: total, totalSteps: total },
    timings: { ...job.timings, finishedAt: now.toISOString() },
  };
}

/** Fails a job this worker holds, or one not started yet (its input was unusable). */
export function fail(job: Job, workerId: string, now: Date, error: JobError): Job | undefined {
  if (!leasedBy(job, workerId) && job.status !== 'queued') return undefined;
  return { ...job, status: 'failed', lease: null, error, timings: { ...job.timings, finishedAt: now.toISOString() } };
}

/**
 * Fails a job whose message reached the dead-letter queue without a settled attempt (its workers
 * crashed or were killed each time), unless it finished meanwhile or a live worker holds it.
 */
export function abandon(job: Job, now: Date): Job | undefined {
  if (isTerminal(job.status) || (job.status === 'running' && leaseLive(job, now))) return undefined;
  const last = job.error ? `; last error (${job.error.code}): ${job.error.message}` : '';
  const error: JobError = {
    code: 'max_attempts',
    message: `gave up after ${job.attempts} attempt${job.attempts === 1 ? '' : 's'}: the worker stopped before finishing each time (crashed, killed or out of memory) and the message went to the dead-letter queue${last}`,
  };
  return { ...job, status: 'failed', lease: null, error, timings: { ...job.timings, finishedAt: now.toISOString() } };
}
