/**
 * A batch: many jobs of one model with one set of parameters, created at once (each with its own
 * upload) or imported from objects already in the bucket. Stored at batches/{batchId}.json; its
 * jobs have ids {batchId}-{index}, so they list by prefix.
 */
import { z } from 'zod';
import { InversionParams, InversionParamsInput } from './job-request.ts';
import { JobStatus } from './job-status.ts';
import { JobView } from './job-view.ts';
import { ModelId } from './model-manifest.ts';

export const MAX_BATCH_JOBS = 1000;

export const BatchRequest = z
  .object({
    model: ModelId,
    params: InversionParamsInput.default({ prompt: '', outputs: ['latent', 'reconstruction', 'metrics'] }),
    count: z.number().int().min(0).max(MAX_BATCH_JOBS).describe('jobs to create now, each with its own upload'),
    webhook: z.url({ protocol: /^https?$/ }).max(2048).optional(),
  })
  .strict()
  .meta({ id: 'BatchRequest' });
export type BatchRequest = z.infer<typeof BatchRequest>;

export const BatchImportRequest = z
  .union([
    z.object({ keys: z.array(z.string().min(1).max(1024)).min(1).max(MAX_BATCH_JOBS) }).strict(),
    z.object({ prefix: z.string().min(1).max(1024) }).strict(),
  ])
  .describe('object keys, or one prefix, under imports/{your key id}/')
  .meta({ id: 'BatchImportRequest' });
export type BatchImportRequest = z.infer<typeof BatchImportRequest>;

export const Batch = z.object({
  id: z.string(),
  owner: z.string(),
  model: ModelId,
  params: InversionParams,
  webhook: z.string().nullable(),
  /** Jobs created so far; job ids are {id}-{index} for index < jobCount. */
  jobCount: z.number().int().nonnegative(),
  createdAt: z.iso.datetime(),
});
export type Batch = z.infer<typeof Batch>;

export function batchKey(batchId: string): string {
  return `batches/${batchId}.json`;
}

export function batchJobId(batchId: string, index: number): string {
  return `${batchId}-${String(index).padStart(4, '0')}`;
}

export const BatchView = Batch.omit({ owner: true })
  .extend({
    counts: z.partialRecord(JobStatus, z.number().int()),
    jobs: z.array(JobView),
  })
  .meta({ id: 'Batch' });
export type BatchView = z.infer<typeof BatchView>;

export const BatchImportResult = z
  .object({ batchId: z.string(), jobs: z.array(JobView).describe('the queued jobs, one per imported object') })
  .meta({ id: 'BatchImportResult' });
export type BatchImportResult = z.infer<typeof BatchImportResult>;
