/**
 * The port between the worker and the inversion engine (shared/inversion). The worker owns
 * queues, records, checkpoints and outputs; the engine only turns images into latents.
 *
 * Contract for implementations:
 * - run() gets up to maxBatchSize tasks with one batchKey (the worker groups them by the engine's
 *   own key), so one denoiser call per timestep can serve the whole batch.
 * - A task with `resume` continues after resume.step; its state is what the engine itself
 *   produced in an earlier onStep, byte for byte.
 * - After each completed timestep the engine awaits task.onStep with its state; the worker
 *   persists it before returning, so a crash loses at most one timestep.
 * - When task.signal aborts (shutdown, cancel, lost lease) the engine stops that task at the next
 *   step boundary and reports { ok: false, error: { code: 'aborted' } }; other tasks go on.
 * - One result per task, in task order. A throw from run() fails every task as retryable.
 */
import type { JobError } from '../../shared/contracts/job.ts';
import type { Job } from '../../shared/contracts/job.ts';
import type { JobMetrics } from '../../shared/contracts/job-metrics.ts';
import type { RenderTask, RenderTaskResult } from './render-task.ts';

/** Engine state after `step` of `totalSteps` timesteps (opaque to the worker, e.g. safetensors bytes). */
export interface Checkpoint {
  step: number;
  totalSteps: number;
  state: Uint8Array;
}

/** What the engine reports after each timestep: the checkpoint plus the work done so far. */
export interface StepCheckpoint extends Checkpoint {
  modelEvals: number;
}

export interface InversionTask {
  job: Job;
  /** The uploaded image file (PNG, JPEG or WebP bytes). */
  image: Uint8Array;
  resume?: Checkpoint;
  onStep(step: StepCheckpoint): Promise<void>;
  signal: AbortSignal;
}

/** Encoded output files by output name; metrics.json is the engine's own file, else written from `metrics`. */
export interface InversionOutputs {
  latent: Uint8Array;
  reconstruction?: Uint8Array;
  trajectory?: Uint8Array;
  metrics?: Uint8Array;
}

export type InversionResult =
  | { ok: true; outputs: InversionOutputs; metrics: JobMetrics }
  /** retryable: a transient fault (memory, device); false for inputs that can never succeed. */
  | { ok: false; error: JobError; retryable: boolean };

export interface InversionRunner {
  /** Most tasks one run() accepts; 1 disables batching. */
  readonly maxBatchSize: number;
  /** Jobs with equal keys may share one run(); the engine decides, since only it knows what a batch shares. */
  batchKey(job: Job): string;
  run(tasks: readonly InversionTask[]): Promise<InversionResult[]>;
  /** Render and interpolation jobs (render-task.ts); a runner without it fails them. */
  render?(task: RenderTask): Promise<RenderTaskResult>;
}

