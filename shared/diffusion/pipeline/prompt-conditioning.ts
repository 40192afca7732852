/**
 * Turns prompts into the denoiser's conditioning inputs, per model family, from whatever the
 * folder's text encoders export:
 * - SD1.x/2.x: encoder_hidden_states = text_encoder's last_hidden_state;
 * - SDXL: the penultimate hidden states of text_encoder and text_encoder_2, concatenated along
 *   features; text_embeds = text_encoder_2's projected pooled output; time_ids from sizes;
 * - LCM: timestep_cond = the guidance embedding (the distilled model takes w as an input);
 * - SD3: CLIP penultimate states concatenated, zero-padded to the T5 width, then T5's states
 *   appended along the sequence; pooled_projections = both CLIP pooled outputs concatenated.
 * The unconditional branch is the negative prompt, by default the empty one (zeros for SDXL when
 * the pipeline forces them for an empty prompt).
 */
import type { ConditioningInput } from '../onnx-denoiser.ts';
import type { EncodedText, TextEncoder } from '../components/text-encoder.ts';
import { guidanceEmbedding, sdxlTimeIds } from '../conditioning/extra-inputs.ts';

export interface PromptTokenizer {
  encodeBatch(texts: readonly string[], idType: 'int32' | 'int64'): { inputIds: Int32Array | BigInt64Array; dims: [number, number] };
}

export interface TextStack {
  encoder: TextEncoder;
  tokenizer: PromptTokenizer;
}

export interface ConditioningRequest {
  prompts: string[];
  /** Names and per-image dims (without batch) of the denoiser's conditioning inputs; null = symbolic. */
  inputs: Record<string, (number | null)[]>;
  guidance: number;
  /** The unconditional branch's prompt ('' when absent). */
  negativePrompt?: string;
  /** Pixel size of the images, for SDXL time_ids. */
  size: { height: number; width: number };
  forceZerosForEmptyPrompt: boolean;
}

/** One row of a batched output, e.g. [N, L, D] -> row j as [L, D]. */
function row(t: EncodedText, j: number): Float32Array {
  const size = t.dims.slice(1).reduce((a, b) => a * b, 1);
  return t.data.slice(j * size, (j + 1) * size);
}

/** The penultimate hidden state when exported (SDXL/SD3 use it), else the last one. */
function penultimate(out: Record<string, EncodedText>): EncodedText {
  const layers = Object.keys(out)
    .map((k) => /^hidden_states\.(\d+)$/.exec(k))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]));
  if (layers.length >= 2) return out[`hidden_states.${Math.max(...layers) - 1}`]!;
  const last = out['last_hidden_state'];
  if (!last) throw new Error(`text encoder exports neither hidden_states.N nor last_hidden_state (has ${Object.keys(out).join(', ')})`);
  return last;
}

function pooled(out: Record<string, EncodedText>): EncodedText {
  const t = out['text_embeds'] ?? out['pooler_output'];
  if (!t) throw new Error(`text encoder exports no pooled output (text_embeds or pooler_output); has ${Object.keys(out).join(', ')}`);
  return t;
}

async function run(stack: TextStack, prompts: string[]): Promise<Record<string, EncodedText>> {
  const { inputIds, dims } = stack.tokenizer.encodeBatch(prompts, 'int64');
  return stack.encoder.encode(Array.from(inputIds, Number), dims);
}

/** Concatenates [L, a] and [L, b] rows along features, zero-padding to `width` if given. */
function concatFeatures(parts: { data: Float32Array; width: number }[], length: number, width?: number): Float32Array {
  const total = width ?? parts.reduce((a, p) => a + p.width, 0);
  const out = new Float32Array(length * total);
  for (let l = 0; l < length; l++) {
    let off = 0;
    for (const p of parts) {
      out.set(p.data.subarray(l * p.width, (l + 1) * p.width), l * total + off);
      off += p.width;
    }
  }
  return out;
}

export async function encodeConditioning(stacks: (TextStack | undefined)[], req: ConditioningRequest): Promise<Record<string, ConditioningInput>> {
  const result: Record<string, ConditioningInput> = {};
  const want = req.inputs;
  const negative = req.negativePrompt ?? '';
  const texts = [...req.prompts, negative];
  const zerosForUnconditional = req.forceZerosForEmptyPrompt && negative === '';
  const n = req.prompts.length;
  const [s1, s2, s3] = stacks;
  const split = (t: EncodedText, declared: (number | null)[], name: string): ConditioningInput => {
    const actual = t.dims.slice(1);
    const fits = actual.length === declared.length && declared.every((d, i) => d === null || d === actual[i]);
    if (!fits) {
      throw new Error(`conditioning '${name}': text encoders give [${actual.join(',')}], the denoiser expects [${declared.map((d) => d ?? '?').join(',')}]`);
    }
    const dims = actual;
    const expected = dims.reduce((a, b) => a * b, 1);
    return {
      dims,
      perImage: req.prompts.map((_, j) => row(t, j)),
      unconditional: zerosForUnconditional ? new Float32Array(expected) : row(t, n),
    };
  };

  if (want['encoder_hidden_states']) {
    const dims = want['encoder_hidden_states'];
    if (!s1) throw new Error('the denoiser takes encoder_hidden_states but the folder has no text_encoder + tokenizer');
    const o1 = await run(s1, texts);
    if (!s2) {
      result['encoder_hidden_states'] = split(o1['last_hidden_state'] ?? penultimate(o1), dims, 'encoder_hidden_states');
    } else {
      const o2 = await run(s2, texts);
      const h1 = penultimate(o1);
      const h2 = penultimate(o2);
      const length = h1.dims[1]!;
      const [w1, w2] = [h1.dims[2]!, h2.dims[2]!];
      const o3 = s3 ? await run(s3, texts) : undefined;
      const t5 = o3?.['last_hidden_state'];
      const width = t5 ? t5.dims[2]! : (dims[1] ?? w1 + w2);
      const rows = texts.map((_, j) => {
        const clip = concatFeatures([{ data: row(h1, j), width: w1 }, { data: row(h2, j), width: w2 }], length, t5 || want['pooled_projections'] ? width : undefined);
        if (!t5) return clip;
        const joint = new Float32Array(clip.length + row(t5, j).length);
        joint.set(clip);
        joint.set(row(t5, j), clip.length);
        return joint;
      });
      const rowSize = rows[0]!.length;
      const data = new Float32Array(rows.length * rowSize);
      rows.forEach((r, j) => data.set(r, j * rowSize));
      const rowWidth = t5 || want['pooled_projections'] ? width : w1 + w2;
      result['encoder_hidden_states'] = split({ data, dims: [rows.length, rowSize / rowWidth, rowWidth] }, dims, 'encoder_hidden_states');
      if (want['text_embeds']) result['text_embeds'] = split(pooled(o2), want['text_embeds'], 'text_embeds');
      if (want['pooled_projections']) {
        const [p1, p2] = [pooled(o1), pooled(o2)];
        const pr = texts.map((_, j) => concatFeatures([{ data: row(p1, j), width: p1.dims[1]! }, { data: row(p2, j), width: p2.dims[1]! }], 1));
        const size = pr[0]!.length;
        const data2 = new Float32Array(pr.length * size);
        pr.forEach((r, j) => data2.set(r, j * size));
        result['pooled_projections'] = split({ data: data2, dims: [pr.length, size] }, want['pooled_projections'], 'pooled_projections');
      }
    }
  }
  if (want['time_ids']) {
    const ids = sdxlTimeIds(req.size, { top: 0, left: 0 }, req.size);
    result['time_ids'] = { dims: [6], perImage: req.prompts.map(() => ids), unconditional: ids };
  }
  if (want['timestep_cond']) {
    const dim = want['timestep_cond'][0];
    if (typeof dim !== 'number') throw new Error('timestep_cond must have a static feature size');
    const e = guidanceEmbedding(req.guidance, dim);
    result['timestep_cond'] = { dims: [dim], perImage: req.prompts.map(() => e), unconditional: e };
  }
  return result;
}
