/**
 * Where a job's per-timestep records are while it runs and after: the worker's latest checkpoint
 * (checkpoints/{jobId}/step-{step}-of-{total}, safetensors whose metadata holds the records so far)
 * and, once succeeded, the engine's metrics.json (`perStep`). Both are read through the object
 * store only, so the API needs nothing from the worker but the storage layout.
 */
import { z } from 'zod';
import type { Job } from '../../shared/contracts/job.ts';
import { JobStep } from '../../shared/contracts/job-steps.ts';
import { parseSafetensors } from '../../shared/formats/safetensors.ts';
import type { Logger } from '../../shared/platform/logger.ts';
import { listAll, type ObjectStore } from '../../shared/platform/object-store.ts';

const CHECKPOINT_NAME = /\/step-(\d+)-of-(\d+)$/;
const CheckpointRecords = z.array(JobStep);
const MetricsSteps = z.object({ perStep: z.array(JobStep) });

/** Records that cannot be read (a checkpoint of another layout, a metrics file without steps) read as none, with the reason logged. */
function parsed<T>(log: Logger, what: string, read: () => T): T | undefined {
  try {
    return read();
  } catch (error) {
    log.warn('step records unreadable', { what, error: error instanceof Error ? error.message : String(error) });
    return undefined;
  }
}

async function fromMetrics(objects: ObjectStore, key: string, log: Logger): Promise<JobStep[] | undefined> {
  const object = await objects.get(key);
  if (!object) return undefined;
  return parsed(log, key, () => MetricsSteps.parse(JSON.parse(new TextDecoder().decode(object.body))).perStep);
}

async function fromCheckpoint(objects: ObjectStore, job: Job, log: Logger): Promise<JobStep[]> {
  const keys = (await listAll(objects, `checkpoints/${job.id}/`)).filter((key) => Number(CHECKPOINT_NAME.exec(key)?.[2]) === job.params.steps);
  // The worker writes the next checkpoint before deleting the last, so two may be listed: take the
  // highest step by number (listing order is lexical: step-10 would come before step-9).
  const stepOf = (key: string) => Number(CHECKPOINT_NAME.exec(key)![1]);
  const latest = keys.reduce<string | undefined>((best, key) => (best === undefined || stepOf(key) > stepOf(best) ? key : best), undefined);
  const object = latest ? await objects.get(latest) : undefined;
  if (!latest || !object) return [];
  return parsed(log, latest, () => CheckpointRecords.parse(JSON.parse(parseSafetensors(object.body, latest).metadata['records'] ?? '[]'))) ?? [];
}

/** Completed timesteps of the job, in order; empty before its first step. */
export async function readJobSteps(objects: ObjectStore, job: Job, log: Logger): Promise<JobStep[]> {
  if (job.status === 'succeeded' && job.outputs.metrics) {
    const steps = await fromMetrics(objects, job.outputs.metrics, log);
    if (steps) return steps;
  }
  if (job.status === 'awaiting_upload') return [];
  return fromCheckpoint(objects, job, log);
}
