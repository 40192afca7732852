/**
 * The InversionRunner over the engine: one DiffusionPipeline per model (opened on first use and
 * kept), compatible tasks inverted as one batch, a checkpoint after every timestep (x*_i as
 * safetensors, plus the trajectory and step records so far) and exact resumption from it.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Job } from '../../shared/contracts/job.ts';
import type { JobMetrics } from '../../shared/contracts/job-metrics.ts';
import type { ModelManifest } from '../../shared/contracts/model-manifest.ts';
import { modelRegistry } from '../../models/registry.ts';
import { readFolderManifest } from '../../shared/diffusion/folder-manifest.ts';
import type { ResolutionRule } from '../../shared/diffusion/image/prepare-image.ts';
import { DiffusionPipeline } from '../../shared/diffusion/pipeline/diffusion-pipeline.ts';
import { prepareGradientGraph } from '../../shared/diffusion/prepare-gradient-graph.ts';
import { StaleGradientGraphError } from '../../shared/diffusion/source-fingerprint.ts';
import { decodeImage } from '../../shared/diffusion/image/decode-image.ts';
import { targetSize } from '../../shared/diffusion/image/prepare-image.ts';
import { invertImages, type ImageInput, type ImageResult, type ImageState, type InversionParams } from '../../shared/inversion/invert-images.ts';
import type { InversionMetrics } from '../../shared/inversion/outputs/inversion-metrics.ts';
import { chooseExecutionProviders, type ExecutionProviderChoice } from '../../shared/platform/execution-provider.ts';
import { checkpointForRun, encodeCheckpoint, type CheckpointRun } from './engine-checkpoint.ts';
import type { Checkpoint, InversionResult, InversionRunner, InversionTask } from './inversion-runner.ts';
import type { ModelCache } from './model-cache.ts';
import { createLogger, type Logger } from '../../shared/platform/logger.ts';
import { runRenderTask } from './render-runner.ts';
import type { RenderTask, RenderTaskResult } from './render-task.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/** A model folder this runner cannot find: retrying the job will not make it appear. */
class ModelUnavailableError extends Error {}

export interface EngineRunnerOptions {
  /** Model id -> folder, ahead of the registry (a folder given on the command line, tests). */
  modelDirs?: Record<string, string>;
  /** Model id -> resolution rule, for a folder whose shape differs from its registry entry's. */
  resolutions?: Record<string, ResolutionRule>;
  /** Downloads models/{id}/ from the bucket (AWS); without it the registry's localDir is used. */
  cache?: ModelCache;
  /** Tasks per engine call; 1 disables batching. */
  maxBatchSize?: number;
  executionProviders?: ExecutionProviderChoice;
  logger?: Logger;
  /** Seed of the recorded noise of stochastic samplers. */
  seed?: number;
}

interface OpenModel {
  dir: string;
  pipeline: DiffusionPipeline;
}

export class EngineRunner implements InversionRunner {
  readonly maxBatchSize: number;
  private readonly models = new Map<string, Promise<OpenModel>>();
  private readonly providers: ExecutionProviderChoice;
  private readonly logger: Logger;

  constructor(private readonly options: EngineRunnerOptions = {}) {
    this.maxBatchSize = options.maxBatchSize ?? 4;
    this.logger = options.logger ?? createLogger({ service: 'preciseinv-engine' });
    this.providers = options.executionProviders ?? chooseExecutionProviders();
    this.logger.info('execution providers chosen', { providers: this.providers.providers, reason: this.providers.reason });
  }

  /**
   * Jobs step in lockstep through one batch only when everything the engine applies to the whole
   * batch agrees: model, method, steps, solver settings, prompt, and whether x_1..x_T are kept.
   */
  batchKey(job: Job): string {
    const { method, steps, eta, maxIters, guidance, prompt, outputs } = job.params;
    return JSON.stringify([job.model, method, steps, eta, maxIters, guidance, prompt, outputs.includes('trajectory')]);
  }

  async run(tasks: readonly InversionTask[]): Promise<InversionResult[]> {
    const results = new Array<InversionResult | undefined>(tasks.length);
    // The worker already groups by batchKey; grouping again keeps a mixed call correct.
    const groups = new Map<string, number[]>();
    tasks.forEach((t, i) => groups.set(this.batchKey(t.job), [...(groups.get(this.batchKey(t.job)) ?? []), i]));
    for (const indices of groups.values()) {
      const out = await this.runIsolated(indices.map((i) => tasks[i]!));
      indices.forEach((taskIndex, k) => (results[taskIndex] = out[k]));
    }
    return results.map((r) => r!);
  }

  /**
   * Runs a group as one batch; when the batch throws, each task runs again alone, so the task that
   * caused it fails by itself and its batch-mates still finish.
   */
  private async runIsolated(group: readonly InversionTask[]): Promise<InversionResult[]> {
    try {
      return await this.runGroup(group);
    } catch (error) {
      if (error instanceof ModelUnavailableError) return group.map(() => ({ ok: false, retryable: false, error: { code: 'model_unavailable', message: error.message } }));
      if (group.length === 1) return [{ ok: false, retryable: true, error: { code: 'engine_error', message: (error as Error).message } }];
      this.logger.warn('batch failed; running its jobs one by one', { jobIds: group.map((t) => t.job.id), error: (error as Error).message });
      const out: InversionResult[] = [];
      for (const task of group) out.push(...(await this.runIsolated([task])));
      return out;
    }
  }

  /** A render or interpolation job, on the same opened pipeline as the model's inversions. */
  async render(task: RenderTask): Promise<RenderTaskResult> {
    let pipeline: DiffusionPipeline;
    try {
      pipeline = (await this.open(task.job.model, false)).pipeline;
    } catch (error) {
      const unavailable = error instanceof ModelUnavailableError;
      return { ok: false, retryable: !unavailable, error: { code: unavailable ? 'model_unavailable' : 'engine_error', message: (error as Error).message } };
    }
    return runRenderTask(pipeline, task);
  }

  /** Opens a model ahead of its first job (downloading it and building its gradient graph if needed). */
  async warm(modelId: string, method: Job['params']['method'] = 'preciseinv'): Promise<void> {
    await this.open(modelId, method === 'preciseinv');
  }

  /** Releases every opened pipeline. */
  async close(): Promise<void> {
    const open = [...this.models.values()];
    this.models.clear();
    for (const model of open) await (await model.catch(() => undefined))?.pipeline.release();
  }

  private async runGroup(tasks: readonly InversionTask[]): Promise<InversionResult[]> {
    const job = tasks[0]!.job;
    const manifest = modelRegistry.find((m) => m.id === job.model);
    if (!manifest) throw new ModelUnavailableError(`model '${job.model}' is not in the registry`);
    const { pipeline } = await this.open(job.model, job.params.method === 'preciseinv');
    const params = this.params(job, manifest);
    const log = this.logger.child({ model: job.model, jobIds: tasks.map((t) => t.job.id) });
    const inputs: ImageInput[] = [];
    for (const task of tasks) {
      const run = await this.checkpointRun(task, params, pipeline);
      const resume = task.resume && run ? this.restore(task.resume, task.job, run, log) : undefined;
      inputs.push({
        name: task.job.id,
        bytes: task.image,
        ...(resume ? { resume } : {}),
        signal: task.signal,
        onStep: (state) =>
          task.onStep({
            step: state.completedSteps,
            totalSteps: state.of,
            state: encodeCheckpoint(state, run ?? { model: job.model, runKey: this.batchKey(task.job), latentLength: state.latent.length, withTrajectory: params.trajectory }),
            modelEvals: state.records.reduce((a, r) => a + r.forwardEvals + r.vjpEvals, 0),
          }),
      });
    }
    const started = performance.now();
    const results = await invertImages(pipeline, inputs, params);
    log.info('engine batch done', { images: tasks.length, seconds: (performance.now() - started) / 1000 });
    return results.map((r) => toInversionResult(r));
  }

  private params(job: Job, manifest: ModelManifest): InversionParams {
    return {
      model: job.model,
      method: job.params.method,
      steps: job.params.steps,
      eta: job.params.eta,
      maxIters: job.params.maxIters,
      guidance: job.params.guidance,
      prompt: job.params.prompt,
      seed: this.options.seed ?? 0,
      trajectory: job.params.outputs.includes('trajectory'),
      resolution: this.options.resolutions?.[job.model] ?? manifest.resolution,
      batchSize: this.maxBatchSize,
    };
  }

  /**
   * What a checkpoint of this task must match; undefined when the image cannot be read (the
   * inversion then fails it as an invalid image).
   */
  private async checkpointRun(task: InversionTask, params: InversionParams, pipeline: DiffusionPipeline): Promise<CheckpointRun | undefined> {
    try {
      const decoded = await decodeImage(task.image, task.job.id);
      const size = targetSize(decoded.width, decoded.height, params.resolution);
      const cells = (size.width / pipeline.vae.downscale) * (size.height / pipeline.vae.downscale);
      return { model: task.job.model, runKey: this.batchKey(task.job), latentLength: pipeline.latentChannels * cells, withTrajectory: params.trajectory };
    } catch {
      return undefined;
    }
  }

  /** The checkpoint as the engine's resume state, or undefined (logged with the reason) when it does not fit this run. */
  private restore(checkpoint: Checkpoint, job: Job, run: CheckpointRun, log: Logger): ImageState | undefined {
    const fit = checkpoint.totalSteps === job.params.steps ? checkpointForRun(checkpoint.state, checkpoint.step, checkpoint.totalSteps, run) : { unfit: `written for ${checkpoint.totalSteps} steps, not ${job.params.steps}` };
    if ('state' in fit) return fit.state;
    log.warn('checkpoint does not fit this run; discarded, starting over', { jobId: job.id, step: checkpoint.step, reason: fit.unfit });
    return undefined;
  }

  private open(modelId: string, needsGradient: boolean): Promise<OpenModel> {
    let opened = this.models.get(modelId);
    if (!opened) {
      opened = this.openModel(modelId);
      opened.catch(() => this.models.delete(modelId));
      this.models.set(modelId, opened);
    }
    if (!needsGradient) return opened;
    // PreciseInv needs the gradient graph: built once per folder, then the pipeline is reopened with it.
    const withGradient = opened.then(async (model) => {
      if (model.pipeline.hasGradientGraph) return model;
      if (!readFolderManifest(model.dir)?.gradientGraph) {
        this.logger.info('preparing the gradient graph (once per model folder)', { model: modelId, dir: model.dir });
        await prepareGradientGraph(model.dir);
      }
      await model.pipeline.release();
      return { dir: model.dir, pipeline: await DiffusionPipeline.open(model.dir, { executionProviders: this.providers.providers }) };
    });
    withGradient.catch(() => this.models.delete(modelId));
    this.models.set(modelId, withGradient);
    return withGradient;
  }

  private async openModel(modelId: string): Promise<OpenModel> {
    const dir = await this.modelDir(modelId);
    const started = performance.now();
    const pipeline = await DiffusionPipeline.open(dir, { executionProviders: this.providers.providers }).catch(async (error: unknown) => {
      if (!(error instanceof StaleGradientGraphError)) throw error;
      // The worker prepares its own folders: a gradient graph left from another model file is rebuilt.
      this.logger.warn('gradient graph is stale; building it again', { model: modelId, dir, reason: error.message });
      await prepareGradientGraph(dir);
      return DiffusionPipeline.open(dir, { executionProviders: this.providers.providers });
    });
    this.logger.info('model opened', { model: modelId, dir, providers: this.providers.providers, seconds: (performance.now() - started) / 1000 });
    return { dir, pipeline };
  }

  private async modelDir(modelId: string): Promise<string> {
    const given = this.options.modelDirs?.[modelId];
    if (given) return resolve(given);
    const manifest = modelRegistry.find((m) => m.id === modelId);
    if (this.options.cache) return this.options.cache.ensure(modelId, manifest?.artifacts.prefix);
    const local = manifest?.artifacts.localDir;
    const dir = local ? resolve(REPO_ROOT, local) : undefined;
    if (!dir || !existsSync(dir)) {
      const where = manifest ? `its artifacts live under ${manifest.artifacts.prefix} in the bucket` : 'it is not in the registry';
      throw new ModelUnavailableError(`model '${modelId}' has no local folder on this worker (${where})`);
    }
    return dir;
  }
}

/** Identical 8-bit images have infinite PSNR; the job record holds a number (metrics.json keeps null). */
const IDENTICAL_PSNR = 100;

function toInversionResult(result: ImageResult): InversionResult {
  if (!result.ok) {
    if (result.aborted) return { ok: false, retryable: true, error: { code: 'aborted', message: result.error } };
    return { ok: false, retryable: false, error: { code: 'invalid_image', message: result.error } };
  }
  const m: InversionMetrics = result.metrics;
  const metrics: JobMetrics = {
    psnr: m.psnr ?? IDENTICAL_PSNR,
    ssim: m.ssim,
    latentRmse: m.latentRmse,
    iterations: m.iterations,
    modelEvals: m.modelEvals.forward + m.modelEvals.vjp,
    seconds: m.seconds,
  };
  return {
    ok: true,
    outputs: {
      latent: result.files['latent.safetensors']!,
      reconstruction: result.files['reconstruction.png']!,
      ...(result.files['trajectory.safetensors'] ? { trajectory: result.files['trajectory.safetensors'] } : {}),
      metrics: result.files['metrics.json']!,
    },
    metrics,
  };
}
