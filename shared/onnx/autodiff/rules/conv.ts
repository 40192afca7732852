/**
 * Gradient of Conv with respect to its data input: a ConvTranspose with the same weights,
 * strides, dilations and group, explicit pads, and the output_padding that restores the
 * input's spatial size (rows the forward stride skipped get zero gradient). It reads the
 * forward's weight tensor itself, so the gradient graph holds no second copy of it.
 *
 * Small stride-1 kernels instead get a plain Conv over flipped, channel-swapped weights: on
 * ONNX Runtime's CPU provider that runs at forward speed where ConvTranspose costs about 1.35x
 * (3x3, 320 to 1280 channels) and far more on tiny tensors, but the transformed weights are a
 * folded copy, so only weights up to MAX_COPIED_WEIGHT_BYTES take that form.
 */
import { attr } from '../../graph-builder.ts';
import { TensorDataType } from '../../proto/types.ts';
import { elementBytes } from '../../tensor.ts';
import { firstInputOnly, noCotangents, type VjpContext, type VjpRule } from '../rule.ts';

/** Largest weight (bytes) the stride-1 form copies: a 3x3 float32 kernel of up to 42 channels. */
export const MAX_COPIED_WEIGHT_BYTES = 64 * 1024;

const conv: VjpRule = (ctx: VjpContext) => {
  if (ctx.wants(1)) ctx.fail('the Conv weight lies on the gradient path; only the data input gradient is supported');
  if (ctx.wants(2)) ctx.fail('the Conv bias lies on the gradient path; only the data input gradient is supported');
  if (!ctx.wants(0)) return noCotangents(ctx);
  const dy = ctx.dy()!;
  const x = ctx.input(0);
  const w = ctx.input(1);
  const xDims = ctx.shape(x).dims;
  const wDims = ctx.shapeOrUndefined(w)?.dims;
  const spatial = wDims ? wDims.length - 2 : xDims ? xDims.length - 2 : ctx.fail('rank of the Conv input and weight are unknown');
  const kernel = ctx.attrInts('kernel_shape') ?? wDims?.slice(2).map((k) => k ?? ctx.fail('Conv kernel size is not static'));
  if (!kernel || kernel.length !== spatial) ctx.fail('Conv kernel_shape is unknown');
  const ones = new Array<number>(spatial).fill(1);
  const strides = ctx.attrInts('strides') ?? ones;
  const dilations = ctx.attrInts('dilations') ?? ones;
  const group = ctx.attrInt('group', 1);
  const autoPad = ctx.attrString('auto_pad', 'NOTSET');
  const size = (i: number): number | null => xDims?.[2 + i] ?? null;

  const begin: number[] = [];
  const end: number[] = [];
  const outPad: number[] = [];
  let needsCrop = false;
  for (let i = 0; i < spatial; i++) {
    const s = strides[i]!;
    const span = (kernel[i]! - 1) * dilations[i]! + 1;
    const h = size(i);
    let pb: number;
    let pe: number;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      if (h === null && s !== 1) ctx.fail(`auto_pad ${autoPad} with stride ${s} needs a static input size on spatial axis ${i}`);
      const total = h === null ? span - 1 : Math.max(0, (Math.ceil(h / s) - 1) * s + span - h);
      pb = autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
      pe = total - pb;
    } else if (autoPad === 'VALID') {
      pb = 0;
      pe = 0;
    } else if (autoPad === 'NOTSET') {
      const pads = ctx.attrInts('pads');
      pb = pads?.[i] ?? 0;
      pe = pads?.[i + spatial] ?? 0;
    } else {
      ctx.fail(`unknown auto_pad '${autoPad}'`);
    }
    begin.push(pb);
    end.push(pe);
    if (s === 1) outPad.push(0);
    else if (h !== null) outPad.push((((h + pb + pe - span) % s) + s) % s);
    else {
      // Unknown size: pad to the largest possible extent and crop to the input's runtime shape.
      outPad.push(s - 1);
      needsCrop = true;
    }
  }

  const spans = kernel.map((k, i) => (k - 1) * dilations[i]!);
  const wStatic = wDims && wDims.every((d) => d !== null) ? (wDims as number[]) : undefined;
  const wBytes = wStatic ? wStatic.reduce((a, d) => a * d, elementBytes(ctx.shapeOrUndefined(w)?.elemType ?? TensorDataType.FLOAT)) : Infinity;
  if (wStatic && wBytes <= MAX_COPIED_WEIGHT_BYTES && strides.every((s) => s === 1) && begin.every((p, i) => p <= spans[i]! && end[i]! <= spans[i]!)) {
    // Small stride-1 kernel: a plain Conv with flipped, channel-swapped weights (folded once).
    const attrs: Record<string, ReturnType<typeof attr.int>> = {
      pads: attr.ints([...spans.map((sp, i) => sp - begin[i]!), ...spans.map((sp, i) => sp - end[i]!)]),
      kernel_shape: attr.ints(kernel),
    };
    if (dilations.some((d) => d !== 1)) attrs['dilations'] = attr.ints(dilations);
    if (group !== 1) attrs['group'] = attr.int(group);
    return firstInputOnly(ctx, ctx.b.op('Conv', [dy, flippedWeights(ctx, w, wStatic, group)], attrs));
  }

  const attrs: Record<string, ReturnType<typeof attr.int>> = {
    pads: attr.ints([...begin, ...end]),
    kernel_shape: attr.ints(kernel),
  };
  if (strides.some((s) => s !== 1)) attrs['strides'] = attr.ints(strides);
  if (dilations.some((d) => d !== 1)) attrs['dilations'] = attr.ints(dilations);
  if (group !== 1) attrs['group'] = attr.int(group);
  if (outPad.some((p) => p !== 0)) attrs['output_padding'] = attr.ints(outPad);
  let dx = ctx.b.op('ConvTranspose', [dy, w], attrs);
  if (needsCrop) {
    const b = ctx.b;
    const axes = Array.from({ length: spatial }, (_, i) => 2 + i);
    // Shape's start attribute exists from opset 15; before, slice the full shape.
    const ends = ctx.opset >= 15
      ? b.op('Shape', [x], { start: attr.int(2) })
      : b.op('Slice', [b.shapeOf(x), b.int64s([2], 'starts'), b.int64s([spatial + 2], 'ends')]);
    dx = b.op('Slice', [dx, b.int64s(new Array(spatial).fill(0), 'starts'), ends, b.int64s(axes, 'axes')]);
  }
  return firstInputOnly(ctx, dx);
};

/** W [M, C/g, k..] -> W' [C, M/g, k..] with every spatial axis reversed. */
function flippedWeights(ctx: VjpContext, w: string, dims: number[], group: number): string {
  const b = ctx.b;
  const [m, cg] = [dims[0]!, dims[1]!];
  const kernel = dims.slice(2);
  const sp = kernel.map((_, i) => i);
  let wt: string;
  if (group === 1) {
    wt = b.transpose(w, [1, 0, ...sp.map((i) => i + 2)]);
  } else {
    const grouped = b.reshape(w, b.int64s([group, m / group, cg, ...kernel], 'grouped_weight_shape'));
    const swapped = b.transpose(grouped, [0, 2, 1, ...sp.map((i) => i + 3)]);
    wt = b.reshape(swapped, b.int64s([group * cg, m / group, ...kernel], 'swapped_weight_shape'));
  }
  const axes = sp.map((i) => i + 2);
  const minusOnes = axes.map(() => -1);
  return b.op('Slice', [wt, b.int64s(minusOnes, 'starts'), b.int64s(kernel.map((k) => -k - 1), 'ends'), b.int64s(axes, 'axes'), b.int64s(minusOnes, 'steps')]);
}

export const convRules: Record<string, VjpRule> = { Conv: conv };
