/**
 * The job record, stored at jobs/{jobId}.json and changed only by conditional writes. The lease
 * names the worker running it and until when; a lapsed lease lets another worker take over.
 */
import { z } from 'zod';
import { JobMetrics } from './job-metrics.ts';
import { InputContentType, InversionParams, OutputName } from './job-request.ts';
import { JobStatus } from './job-status.ts';
import { ModelId } from './model-manifest.ts';
import { LATENT_CONTENT_TYPE, RenderOutputName, RenderWork } from './render-job.ts';

/** Every output a job of any kind may write. */
export const JobOutputName = z.enum([...OutputName.options, ...RenderOutputName.options]);
export type JobOutputName = z.infer<typeof JobOutputName>;

export const JobId = z.string().regex(/^[a-z0-9][a-z0-9-]{5,80}$/, 'a job id from this service');

const isoTime = z.iso.datetime();

export const JobError = z.object({
  code: z.string().describe("stable machine-readable reason, e.g. 'invalid_input' or 'max_attempts'"),
  message: z.string(),
});
export type JobError = z.infer<typeof JobError>;

export const JobProgress = z.object({ step: z.number().int().nonnegative(), totalSteps: z.number().int().positive() });
export type JobProgress = z.infer<typeof JobProgress>;

export const JobTimings = z.object({
  createdAt: isoTime,
  queuedAt: isoTime.nullable(),
  startedAt: isoTime.nullable(),
  finishedAt: isoTime.nullable(),
});

export const Job = z.object({
  id: JobId,
  /** API key id of the creator; other keys see 404. */
  owner: z.string(),
  model: ModelId,
  batchId: z.string().nullable(),
  /** An inversion's parameters; for render and interpolation jobs, those of the (first) source inversion, whose sampler they re-run. */
  params: InversionParams,
  /** What the job starts from: an inversion's uploaded image; a render's source latent (an interpolation's first). */
  input: z.object({ key: z.string(), contentType: z.union([InputContentType, z.literal(LATENT_CONTENT_TYPE)]) }),
  /** Present on render and interpolation jobs only: what to render from which inversions. */
  render: RenderWork.optional(),
  webhook: z.string().nullable(),
  status: JobStatus,
  progress: JobProgress.nullable(),
  /** Runs started, including resumed ones. */
  attempts: z.number().int().nonnegative(),
  error: JobError.nullable(),
  timings: JobTimings,
  /** Object keys of the written outputs, once succeeded. */
  outputs: z.partialRecord(JobOutputName, z.string()),
  metrics: JobMetrics.nullable(),
  lease: z.object({ workerId: z.string(), expiresAt: isoTime }).nullable(),
  /** Hash of the request that created the job, so a repeated Idempotency-Key with another body is refused. */
  requestHash: z.string(),
});
export type Job = z.infer<typeof Job>;

export function jobKey(jobId: string): string {
  return `jobs/${jobId}.json`;
}

export function resultKey(jobId: string, file: string): string {
  return `results/${jobId}/${file}`;
}
