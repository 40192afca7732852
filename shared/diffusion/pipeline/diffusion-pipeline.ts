/**
 * A model folder opened for inversion: scheduler config, VAE, text stacks and the denoiser (one
 * session for its forward and gradient runs), each ONNX session created once and reused for every image.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { ClipTokenizer } from '../tokenizer/clip-tokenizer.ts';
import { T5Tokenizer } from '../tokenizer/t5-tokenizer.ts';
import { TextEncoder } from '../components/text-encoder.ts';
import { componentSessionOptions } from '../components/session-options.ts';
import { openVae, type Vae } from '../components/vae.ts';
import { denoiserSessionOptions, openDenoiserSession, type DenoiserSession } from '../denoiser-session.ts';
import { readFolderManifest } from '../folder-manifest.ts';
import { checkGradientSource } from '../source-fingerprint.ts';
import { openModelFolder, type ModelFolder } from '../model-folder.ts';
import { OnnxDenoiser, type ConditioningInput } from '../onnx-denoiser.ts';
import { parseSchedulerConfig, type SchedulerConfig } from '../schedulers/scheduler-config.ts';
import { loadModel } from '../../onnx/model-io.ts';
import type { ValueInfoProto } from '../../onnx/proto/types.ts';
import { withoutFusedObjective } from '../../inversion/step-objective.ts';
import type { Denoiser } from '../../inversion/denoiser.ts';
import { encodeConditioning, type PromptTokenizer, type TextStack } from './prompt-conditioning.ts';

const LATENT_INPUTS = new Set(['sample', 'hidden_states', 'timestep']);

export interface PipelineOptions {
  executionProviders?: ort.InferenceSession.ExecutionProviderConfig[];
  /** Extra tokenizers by folder name (e.g. a T5 tokenizer for tokenizer_3). */
  tokenizerFactories?: Record<string, (dir: string) => PromptTokenizer>;
  /**
   * false: denoisers evaluate the step objective by a forward run and a gradient run, as before
   * the fused objective (benchmarks measure what it saves); default true.
   */
  fusedObjective?: boolean;
}

export class DiffusionPipeline {
  private constructor(
    readonly folder: ModelFolder,
    readonly scheduler: SchedulerConfig,
    readonly vae: Vae,
    private readonly stacks: (TextStack | undefined)[],
    private readonly denoiserSession: DenoiserSession,
    readonly denoiserInputs: ValueInfoProto[],
    private readonly forceZeros: boolean,
    private readonly fusedObjective: boolean,
  ) {}

  static async open(dir: string, options: PipelineOptions = {}): Promise<DiffusionPipeline> {
    const folder = openModelFolder(dir);
    const sessionOptions = componentSessionOptions(options.executionProviders);
    const scheduler = parseSchedulerConfig(JSON.parse(readFileSync(join(folder.dir, 'scheduler', 'scheduler_config.json'), 'utf8')), join(folder.dir, 'scheduler', 'scheduler_config.json'));
    const vae = await openVae(folder.dir, sessionOptions);
    const stacks: (TextStack | undefined)[] = [];
    for (const [encoder, tokenizer] of [['text_encoder', 'tokenizer'], ['text_encoder_2', 'tokenizer_2'], ['text_encoder_3', 'tokenizer_3']] as const) {
      const path = folder.components[encoder];
      if (!path) {
        stacks.push(undefined);
        continue;
      }
      const tokDir = join(folder.dir, tokenizer);
      if (!existsSync(tokDir)) throw new Error(`${folder.dir} has ${encoder} but no ${tokenizer}/ folder`);
      const factory = options.tokenizerFactories?.[tokenizer];
      const tok: PromptTokenizer = factory ? factory(tokDir) : openTokenizer(tokDir);
      stacks.push({ encoder: await TextEncoder.open(path, sessionOptions), tokenizer: tok });
    }
    const record = readFolderManifest(folder.dir)?.gradientGraph;
    // The gradient graph reads the forward model's weights at recorded offsets: refuse a stale one.
    if (record && existsSync(join(folder.dir, record.path))) checkGradientSource(folder.dir, record.source, join(folder.dir, record.path));
    // Read first: a broken denoiser file fails here naming it, before the gradient graph that
    // refers to its weights is opened.
    const graph = loadModel(folder.denoiser.path).model.graph;
    const denoiserSession = await openDenoiserSession(folder, record, denoiserSessionOptions(sessionOptions.executionProviders));
    const inputs = graph.input.filter((i) => !graph.initializer.some((t) => t.name === i.name));
    const forceZeros = folder.index['force_zeros_for_empty_prompt'] === true;
    return new DiffusionPipeline(folder, scheduler, vae, stacks, denoiserSession, inputs, forceZeros, options.fusedObjective ?? true);
  }

  get hasGradientGraph(): boolean {
    return this.denoiserSession.gradient;
  }

  /** Latent channels the denoiser takes. */
  get latentChannels(): number {
    const dims = this.denoiserInputs.find((i) => i.name === this.folder.denoiser.wrt)?.type?.tensorType?.shape;
    return dims?.[1]?.dimValue ?? this.vae.latentChannels;
  }

  /** Per-image dims of the conditioning inputs the denoiser declares (null = symbolic). */
  conditioningInputs(): Record<string, (number | null)[]> {
    const out: Record<string, (number | null)[]> = {};
    for (const i of this.denoiserInputs) {
      if (LATENT_INPUTS.has(i.name)) continue;
      const shape = i.type?.tensorType?.shape ?? [];
      out[i.name] = shape.slice(1).map((d) => (d.dimValue !== undefined && d.dimParam === undefined ? d.dimValue : null));
    }
    return out;
  }

  async conditioning(prompts: string[], guidance: number, size: { height: number; width: number }, negativePrompt = ''): Promise<Record<string, ConditioningInput>> {
    return encodeConditioning(this.stacks, { prompts, inputs: this.conditioningInputs(), guidance, size, negativePrompt, forceZerosForEmptyPrompt: this.forceZeros });
  }

  /** Whether the denoiser takes text conditioning at all (an unconditional model ignores prompts). */
  get takesText(): boolean {
    return 'encoder_hidden_states' in this.conditioningInputs();
  }

  /** LCM-style models take the guidance scale as an input instead of running two branches. */
  get guidanceIsInput(): boolean {
    return this.denoiserInputs.some((i) => i.name === 'timestep_cond');
  }

  denoiser(conditioning: Record<string, ConditioningInput>, latentDims: number[], guidance: number): Denoiser {
    const denoiser = this.onnxDenoiser(conditioning, latentDims, guidance);
    return this.fusedObjective ? denoiser : withoutFusedObjective(denoiser);
  }

  onnxDenoiser(conditioning: Record<string, ConditioningInput>, latentDims: number[], guidance: number): OnnxDenoiser {
    return new OnnxDenoiser({
      session: this.denoiserSession.session,
      gradient: this.denoiserSession.gradient,
      inputs: this.denoiserInputs,
      wrt: this.folder.denoiser.wrt,
      of: this.folder.denoiser.of,
      latentDims,
      conditioning,
      guidance: this.guidanceIsInput ? 1 : guidance,
    });
  }

  async release(): Promise<void> {
    await this.denoiserSession.session.release();
    await this.vae.release();
    for (const s of this.stacks) await s?.encoder.release();
  }
}

/** CLIP BPE (vocab.json + merges.txt) or T5 unigram (spiece.model or tokenizer.json). */
function openTokenizer(dir: string): PromptTokenizer {
  if (existsSync(join(dir, 'vocab.json'))) return ClipTokenizer.fromFolder(dir);
  // diffusers' SD3 pipelines encode T5 prompts to 256 tokens by default.
  if (existsSync(join(dir, 'spiece.model')) || existsSync(join(dir, 'tokenizer.json'))) return T5Tokenizer.fromFolder(dir, { maxLength: 256 });
  throw new Error(`${dir}: no tokenizer files found (expected vocab.json + merges.txt for CLIP, or spiece.model / tokenizer.json for T5)`);
}
