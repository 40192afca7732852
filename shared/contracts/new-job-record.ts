/** A new job record as the API creates it: nothing run yet, created (and, if its image is there, queued) now. */
import type { Job } from './job.ts';
import type { InversionParams } from './job-request.ts';
import type { JobStatus } from './job-status.ts';
import type { RenderWork } from './render-job.ts';

export interface NewJob {
  id: string;
  owner: string;
  model: string;
  batchId: string | null;
  params: InversionParams;
  input: Job['input'];
  /** Render and interpolation jobs only. */
  render?: RenderWork;
  webhook: string | null;
  status: Extract<JobStatus, 'awaiting_upload' | 'queued'>;
  requestHash: string;
  now: Date;
}

export function newJobRecord(spec: NewJob): Job {
  const at = spec.now.toISOString();
  return {
    id: spec.id,
    owner: spec.owner,
    model: spec.model,
    batchId: spec.batchId,
    params: spec.params,
    input: spec.input,
    ...(spec.render ? { render: spec.render } : {}),
    webhook: spec.webhook,
    status: spec.status,
    progress: null,
    attempts: 0,
    error: null,
    timings: { createdAt: at, queuedAt: spec.status === 'queued' ? at : null, startedAt: null, finishedAt: null },
    outputs: {},
    metrics: null,
    lease: null,
    requestHash: spec.requestHash,
  };
}
