/**
 * The Denoiser port over one onnxruntime session (denoiser-session.ts): the gated gradient graph
 * (model_vjp.onnx) serves m(x, t) alone, m(x, t) with J^T r, and the step objective's loss with
 * or without its gradient (onnx/autodiff/residual-objective.ts), each in one run; a folder
 * without one runs its unet/transformer for m(x, t) only. Per-image conditioning
 * tensors are stacked into the batch; classifier-free guidance runs the unconditional and
 * conditional branches in one batch, m = m_u + w (m_c - m_u), so J^T r = (1-w) J_u^T r + w J_c^T r.
 * fp16 graphs get loss scaling: the cotangent is scaled by a power of two before the run and
 * the product unscaled after, keeping small residuals representable.
 */
import ort from 'onnxruntime-node';
import { gradName } from '../onnx/autodiff/build-vjp.ts';
import { OBJECTIVE } from '../onnx/autodiff/residual-objective.ts';
import { fromOrtTensor, gradientSwitch, toOrtTensor } from '../onnx/ort-tensors.ts';
import { TensorDataType, type ValueInfoProto } from '../onnx/proto/types.ts';
import type { Denoiser, ObjectiveValue, StepObjective } from '../inversion/denoiser.ts';

/** One conditioning input of the denoiser (encoder_hidden_states, text_embeds, ...), per image. */
export interface ConditioningInput {
  /** Dims of one image's tensor, without the batch axis. */
  dims: number[];
  perImage: Float32Array[];
  /** The unconditional (empty prompt) value, shared by all images; needed when guidance != 1. */
  unconditional?: Float32Array;
}

export interface OnnxDenoiserOptions {
  session: ort.InferenceSession;
  /** Whether `session` is a gated gradient graph; if not, only predict() is available. */
  gradient: boolean;
  /** Declared graph inputs of the forward model (for element types and timestep rank). */
  inputs: ValueInfoProto[];
  wrt: string;
  of: string;
  /** Latent dims of one image, e.g. [4, 64, 64]. */
  latentDims: number[];
  conditioning: Record<string, ConditioningInput>;
  guidance: number;
}

const FP16_COTANGENT_TARGET = 256;

export class OnnxDenoiser implements Denoiser {
  readonly sampleSize: number;
  private readonly elemType: Map<string, number>;
  private readonly timestepRank: number;
  private readonly useGuidance: boolean;

  constructor(private readonly o: OnnxDenoiserOptions) {
    this.sampleSize = o.latentDims.reduce((a, b) => a * b, 1);
    this.elemType = new Map(o.inputs.map((i) => [i.name, i.type?.tensorType?.elemType ?? TensorDataType.FLOAT]));
    this.timestepRank = o.inputs.find((i) => i.name === 'timestep')?.type?.tensorType?.shape?.length ?? 1;
    this.useGuidance = o.guidance !== 1;
    if (this.useGuidance) {
      for (const [name, c] of Object.entries(o.conditioning)) {
        if (!c.unconditional) throw new Error(`guidance ${o.guidance} needs an unconditional value for '${name}'`);
      }
    }
  }

  private feeds(x: Float32Array, rows: readonly number[], timestep: number): { feeds: Record<string, ort.Tensor>; batch: number } {
    const n = this.sampleSize;
    const copies = this.useGuidance ? 2 : 1;
    const batch = rows.length * copies;
    const latent = new Float32Array(batch * n);
    for (let c = 0; c < copies; c++) latent.set(x, c * rows.length * n);
    const feeds: Record<string, ort.Tensor> = {
      [this.o.wrt]: toOrtTensor(this.elemType.get(this.o.wrt)!, latent, [batch, ...this.o.latentDims]),
    };
    const tType = this.elemType.get('timestep') ?? TensorDataType.FLOAT;
    feeds['timestep'] = this.timestepRank === 0 ? toOrtTensor(tType, [timestep], []) : toOrtTensor(tType, new Array(batch).fill(timestep), [batch]);
    for (const [name, c] of Object.entries(this.o.conditioning)) {
      const size = c.dims.reduce((a, b) => a * b, 1);
      const data = new Float32Array(batch * size);
      rows.forEach((row, j) => {
        const value = c.perImage[row];
        if (!value) throw new Error(`no '${name}' conditioning for image ${row}`);
        if (this.useGuidance) {
          data.set(c.unconditional!, j * size);
          data.set(value, (rows.length + j) * size);
        } else data.set(value, j * size);
      });
      feeds[name] = toOrtTensor(this.elemType.get(name) ?? TensorDataType.FLOAT, data, [batch, ...c.dims]);
    }
    return { feeds, batch };
  }

  /** Folds [uncond; cond] halves with the guidance weight: a + w (b - a). */
  private guide(out: Float64Array, rows: number): Float32Array {
    const half = rows * this.sampleSize;
    if (!this.useGuidance) return Float32Array.from(out);
    const w = this.o.guidance;
    const result = new Float32Array(half);
    for (let k = 0; k < half; k++) result[k] = out[k]! + w * (out[half + k]! - out[k]!);
    return result;
  }

  /** Branch weights of the batch copies: m = sum_k mix_k out_k. */
  private mix(): number[] {
    return this.useGuidance ? [1 - this.o.guidance, this.o.guidance] : [1];
  }

  /**
   * The objective's inputs; without an objective, zeros and a zero mix, which make its cotangent
   * zero so a fed cotangent reaches the backward unchanged.
   */
  private objectiveFeeds(x: Float32Array, rows: number, objective: StepObjective | null): Record<string, ort.Tensor> {
    const dims = [rows, ...this.o.latentDims];
    const mix = objective ? this.mix() : this.mix().map(() => 0);
    return {
      [OBJECTIVE.latent]: toOrtTensor(TensorDataType.FLOAT, objective ? x : new Float32Array(x.length), dims),
      [OBJECTIVE.target]: toOrtTensor(TensorDataType.FLOAT, objective ? objective.target : new Float32Array(x.length), dims),
      [OBJECTIVE.a]: toOrtTensor(TensorDataType.DOUBLE, [objective?.a ?? 0], []),
      [OBJECTIVE.b]: toOrtTensor(TensorDataType.DOUBLE, [objective?.b ?? 0], []),
      [OBJECTIVE.sigma]: toOrtTensor(TensorDataType.DOUBLE, [objective?.sigma ?? 0], []),
      [OBJECTIVE.mix]: toOrtTensor(TensorDataType.DOUBLE, mix, [mix.length]),
    };
  }

  private zeroCotangent(batch: number): Record<string, ort.Tensor> {
    return { [gradName(this.o.of)]: toOrtTensor(this.elemType.get(this.o.wrt)!, new Float32Array(batch * this.sampleSize), [batch, ...this.o.latentDims]) };
  }

  async predict(x: Float32Array, rows: readonly number[], timestep: number): Promise<Float32Array> {
    const { feeds, batch } = this.feeds(x, rows, timestep);
    if (this.o.gradient) {
      // The backward is skipped; its cotangent and the objective's inputs still need values.
      Object.assign(feeds, this.zeroCotangent(batch), this.objectiveFeeds(x, rows.length, null), gradientSwitch(false));
    }
    const out = await this.o.session.run(feeds, [this.o.of]);
    return this.guide(fromOrtTensor(out[this.o.of]!), rows.length);
  }

  async objective(x: Float32Array, rows: readonly number[], timestep: number, objective: StepObjective, withGradient: boolean): Promise<ObjectiveValue> {
    if (!this.o.gradient) throw new Error('this model has no gradient graph: run `preciseinv prepare <model-dir>` first');
    const { feeds, batch } = this.feeds(x, rows, timestep);
    Object.assign(feeds, this.zeroCotangent(batch), this.objectiveFeeds(x, rows.length, objective), gradientSwitch(withGradient));
    const res = await this.o.session.run(feeds, withGradient ? [OBJECTIVE.loss, OBJECTIVE.gradient] : [OBJECTIVE.loss]);
    return {
      loss: Array.from(fromOrtTensor(res[OBJECTIVE.loss]!)),
      gradient: withGradient ? Float32Array.from(fromOrtTensor(res[OBJECTIVE.gradient]!)) : null,
    };
  }

  async predictWithVjp(x: Float32Array, rows: readonly number[], timestep: number, cotangent: Float32Array) {
    if (!this.o.gradient) throw new Error('this model has no gradient graph: run `preciseinv prepare <model-dir>` first');
    const { feeds, batch } = this.feeds(x, rows, timestep);
    const outType = this.elemType.get(this.o.wrt)!;
    const half = rows.length * this.sampleSize;
    let maxAbs = 0;
    for (let k = 0; k < cotangent.length; k++) maxAbs = Math.max(maxAbs, Math.abs(cotangent[k]!));
    const scale = outType === TensorDataType.FLOAT16 && maxAbs > 0 ? 2 ** Math.round(Math.log2(FP16_COTANGENT_TARGET / maxAbs)) : 1;
    const u = new Float32Array(batch * this.sampleSize);
    if (this.useGuidance) {
      const w = this.o.guidance;
      for (let k = 0; k < half; k++) {
        u[k] = (1 - w) * cotangent[k]! * scale;
        u[half + k] = w * cotangent[k]! * scale;
      }
    } else for (let k = 0; k < half; k++) u[k] = cotangent[k]! * scale;
    feeds[gradName(this.o.of)] = toOrtTensor(outType, u, [batch, ...this.o.latentDims]);
    Object.assign(feeds, this.objectiveFeeds(x, rows.length, null), gradientSwitch(true));
    const res = await this.o.session.run(feeds, [this.o.of, gradName(this.o.wrt)]);
    const g = fromOrtTensor(res[gradName(this.o.wrt)]!);
    const vjp = new Float32Array(half);
    for (let k = 0; k < half; k++) vjp[k] = (this.useGuidance ? g[k]! + g[half + k]! : g[k]!) / scale;
    return { out: this.guide(fromOrtTensor(res[this.o.of]!), rows.length), vjp };
  }
}
