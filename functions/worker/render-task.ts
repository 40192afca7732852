/**
 * The port between the worker and the engine for render and interpolation jobs. The worker
 * reads the source latents (and trajectory) named by the job and writes the returned files; the
 * engine renders.
 *
 * Contract: render() reports progress in sampler steps (an interpolation counts every frame's),
 * stops at the next step once task.signal aborts ({ ok: false, error.code 'aborted' }), refuses
 * sources it cannot render with a non-retryable 'invalid_input', and never throws.
 */
import type { Job, JobError } from '../../shared/contracts/job.ts';
import type { RenderOutputName } from '../../shared/contracts/render-job.ts';

export interface RenderTaskSource {
  latent: Uint8Array;
  trajectory?: Uint8Array;
}

export interface RenderTask {
  job: Job;
  /** One source for a render, two for an interpolation, in the job's order. */
  sources: RenderTaskSource[];
  onProgress(step: number, totalSteps: number): void;
  signal: AbortSignal;
}

export type RenderTaskResult =
  | { ok: true; files: Partial<Record<RenderOutputName, Uint8Array>>; modelEvals: number; seconds: number }
  | { ok: false; error: JobError; retryable: boolean };
