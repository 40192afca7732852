/**
 * A text encoder component (text_encoder, text_encoder_2, text_encoder_3): token ids in, every
 * output the export provides out (last_hidden_state, pooler_output or text_embeds, and
 * hidden_states.K when exported), so each model family picks what its denoiser expects.
 */
import ort from 'onnxruntime-node';
import { fromOrtTensor, toOrtTensor } from '../../onnx/ort-tensors.ts';
import { TensorDataType } from '../../onnx/proto/types.ts';

export interface EncodedText {
  data: Float32Array;
  dims: number[];
}

export class TextEncoder {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly path: string,
  ) {}

  static async open(path: string, options: ort.InferenceSession.SessionOptions = {}): Promise<TextEncoder> {
    return new TextEncoder(await ort.InferenceSession.create(path, options), path);
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** ids: [N, L] token ids. */
  async encode(ids: ArrayLike<number>, dims: [number, number]): Promise<Record<string, EncodedText>> {
    const input = this.session.inputNames.includes('input_ids') ? 'input_ids' : this.session.inputNames[0]!;
    const meta = this.session.inputMetadata.find((m) => m.name === input);
    const type = meta && meta.isTensor && meta.type === 'int32' ? TensorDataType.INT32 : TensorDataType.INT64;
    const out = await this.session.run({ [input]: toOrtTensor(type, ids, dims) });
    return Object.fromEntries(
      Object.entries(out).map(([name, t]) => [name, { data: Float32Array.from(fromOrtTensor(t)), dims: [...t.dims] as number[] }]),
    );
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
