/**
 * Writes a job's requested outputs to results/{jobId}/ with create-only writes: the first
 * complete run's files stay, and a later duplicate run can never overwrite them.
 */
import { OUTPUT_FILES, type OutputName } from '../../shared/contracts/job-request.ts';
import { resultKey, type Job } from '../../shared/contracts/job.ts';
import type { JobMetrics } from '../../shared/contracts/job-metrics.ts';
import { PreconditionFailedError, type ObjectStore } from '../../shared/platform/object-store.ts';
import { RENDER_OUTPUT_FILES, type RenderOutputName } from '../../shared/contracts/render-job.ts';
import type { InversionOutputs } from './inversion-runner.ts';

const CONTENT_TYPES: Record<OutputName, string> = {
  latent: 'application/octet-stream',
  trajectory: 'application/octet-stream',
  reconstruction: 'image/png',
  metrics: 'application/json',
};

/** A render or interpolation job's files, to results/{jobId}/ with the same create-only writes. */
export async function writeRenderResults(objects: ObjectStore, job: Job, files: Partial<Record<RenderOutputName, Uint8Array>>): Promise<Partial<Record<RenderOutputName, string>>> {
  const written: Partial<Record<RenderOutputName, string>> = {};
  for (const [name, body] of Object.entries(files) as [RenderOutputName, Uint8Array][]) {
    const key = resultKey(job.id, RENDER_OUTPUT_FILES[name].file);
    try {
      await objects.put(key, body, { contentType: RENDER_OUTPUT_FILES[name].contentType, condition: { ifNoneMatch: '*' } });
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
    }
    written[name] = key;
  }
  return written;
}

export async function writeResults(objects: ObjectStore, job: Job, outputs: InversionOutputs, metrics: JobMetrics): Promise<Partial<Record<OutputName, string>>> {
  const files: Partial<Record<OutputName, Uint8Array>> = { ...outputs, metrics: outputs.metrics ?? new TextEncoder().encode(`${JSON.stringify(metrics, null, 2)}\n`) };
  const written: Partial<Record<OutputName, string>> = {};
  for (const name of job.params.outputs) {
    const body = files[name];
    if (!body) throw new Error(`the engine produced no '${name}' output, which the job requested`);
    const key = resultKey(job.id, OUTPUT_FILES[name]);
    try {
      await objects.put(key, body, { contentType: CONTENT_TYPES[name], condition: { ifNoneMatch: '*' } });
    } catch (error) {
      if (!(error instanceof PreconditionFailedError)) throw error;
    }
    written[name] = key;
  }
  return written;
}
