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
import { float32Tensor, parseSafetensors, serializeSafetensors, tensorToFloat64 } from '../../shared/formats/safetensors.ts';
import { invertImages, type ImageInput, type ImageResult, type ImageState, type InversionParams } from '../../shared/inversion/invert-images.ts';
import type { InversionMetrics } from '../../shared/inversion/outputs/inversion-metrics.ts';
import type { StepRecord } from '../../shared/inversion/step-record.ts';
import { chooseExecutionProviders, type ExecutionProviderChoice } from '../../shared/platform/execution-provider.ts';
import { batchKey, type Checkpoint, type InversionResult, type InversionRunner, type InversionTask } from './inversion-runner.ts';
import type { ModelCache } from './model-cache.ts';
import { jsonLogger, type Logger } from './worker-logger.ts';

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
    this.logger = options.logger ?? jsonLogger({ service: 'preciseinv-engine' });
    this.providers = options.executionProviders ?? chooseExecutionProviders();
    this.logger.info('execution providers chosen', { providers: this.providers.providers, reason: this.providers.reason });
  }

  async run(tasks: readonly InversionTask[]): Promise<InversionResult[]> {
    const results = new Array<InversionResult | undefined>(tasks.length);
    // The worker already groups by batchKey; grouping again keeps a mixed call correct.
    const groups = new Map<string, number[]>();
    tasks.forEach((t, i) => groups.set(batchKey(t.job), [...(groups.get(batchKey(t.job)) ?? []), i]));
    for (const indices of groups.values()) {
      const group = indices.map((i) => tasks[i]!);
      let out: InversionResult[];
      try {
        out = await this.runGroup(group);
      } catch (error) {
        if (!(error instanceof ModelUnavailableError)) throw error;
        out = group.map(() => ({ ok: false, retryable: false, error: { code: 'model_unavailable', message: error.message } }));
      }
      indices.forEach((taskIndex, k) => (results[taskIndex] = out[k]));
    }
    return results.map((r) => r!);
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
    const inputs: ImageInput[] = tasks.map((task) => {
      const resume = task.resume ? this.restore(task.resume, task.job) : undefined;
      if (task.resume && !resume) log.warn('checkpoint does not fit this run; starting over', { jobId: task.job.id, step: task.resume.step });
      return {
        name: task.job.id,
        bytes: task.image,
        ...(resume ? { resume } : {}),
        signal: task.signal,
        onStep: (state) =>
          task.onStep({
            step: state.completedSteps,
            totalSteps: state.of,
            state: encodeCheckpoint(state, params.trajectory),
            modelEvals: state.records.reduce((a, r) => a + r.forwardEvals + r.vjpEvals, 0),
          }),
      };
    });
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

  /** The checkpoint as the engine's resume state, or undefined when it belongs to another run shape. */
  private restore(checkpoint: Checkpoint, job: Job): ImageState | undefined {
    try {
      const state = decodeCheckpoint(checkpoint.state);
      if (state.completedSteps !== checkpoint.step || checkpoint.totalSteps !== job.params.steps) return undefined;
      if (job.params.outputs.includes('trajectory') && state.trajectory.length !== state.completedSteps) return undefined;
      return state;
    } catch {
      return undefined;
    }
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
    const pipeline = await DiffusionPipeline.open(dir, { executionProviders: this.providers.providers });
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

/** Checkpoint bytes: safetensors with x*_i as "latent", x_1..x_i when kept, and the step records as metadata. */
export function encodeCheckpoint(state: ImageState, withTrajectory: boolean): Uint8Array {
  const dims = [state.latent.length];
  const tensors = { latent: float32Tensor(state.latent, dims), ...(withTrajectory ? Object.fromEntries(state.trajectory.map((x, i) => [`x_${i + 1}`, float32Tensor(x, dims)])) : {}) };
  // JSON turns a NaN residual into null; decodeCheckpoint turns it back.
  return serializeSafetensors(tensors, { completedSteps: String(state.completedSteps), records: JSON.stringify(state.records) });
}

export function decodeCheckpoint(bytes: Uint8Array): ImageState {
  const file = parseSafetensors(bytes, 'checkpoint');
  const latent = file.tensors.get('latent');
  if (!latent) throw new Error('checkpoint has no latent');
  const completedSteps = Number(file.metadata['completedSteps']);
  const records = (JSON.parse(file.metadata['records'] ?? '[]') as (Omit<StepRecord, 'residual'> & { residual: number | null })[]).map((r) => ({ ...r, residual: r.residual ?? Number.NaN }));
  const trajectory: Float32Array[] = [];
  for (let i = 1; file.tensors.has(`x_${i}`); i++) trajectory.push(Float32Array.from(tensorToFloat64(file.tensors.get(`x_${i}`)!)));
  if (!Number.isInteger(completedSteps) || records.length !== completedSteps) throw new Error('checkpoint metadata is inconsistent');
  return { completedSteps, latent: Float32Array.from(tensorToFloat64(latent)), trajectory, records };
}
