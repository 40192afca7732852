/**
 * Gradient of nearest-neighbour Resize by integer factors. When the coordinate mapping sends
 * output index o to input index floor(o / s) (block replication), the gradient sums each
 * s-block: Reshape dy to [.., H, s, W, s, ..] and ReduceSum over the factor axes.
 */
import { attr } from '../../graph-builder.ts';
import { firstInputOnly, noCotangents, type VjpContext, type VjpRule } from '../rule.ts';
import { accurateReduceSum } from '../precision.ts';

/** Source coordinate of output index o, per ONNX Resize's coordinate_transformation_mode. */
function sourceCoordinate(mode: string, o: number, s: number, inLen: number): number | undefined {
  const outLen = inLen * s;
  switch (mode) {
    case 'half_pixel':
    case 'half_pixel_symmetric':
      return (o + 0.5) / s - 0.5;
    case 'pytorch_half_pixel':
      return outLen > 1 ? (o + 0.5) / s - 0.5 : 0;
    case 'align_corners':
      return outLen === 1 ? 0 : (o * (inLen - 1)) / (outLen - 1);
    case 'asymmetric':
      return o / s;
    case 'tf_half_pixel_for_nearest':
      return (o + 0.5) / s;
    default:
      return undefined;
  }
}

function nearestIndex(rounding: string, x: number): number | undefined {
  const frac = x - Math.floor(x);
  switch (rounding) {
    case 'round_prefer_floor': return frac === 0.5 ? Math.floor(x) : Math.round(x);
    case 'round_prefer_ceil': return frac === 0.5 ? Math.ceil(x) : Math.round(x);
    case 'floor': return Math.floor(x);
    case 'ceil': return Math.ceil(x);
    default: return undefined;
  }
}

/** Whether (mode, rounding) replicates each input element into a block of s for every length. */
function isBlockReplication(mode: string, rounding: string, s: number): boolean {
  for (const inLen of [1, 2, 3, 4, 5, 7, 8, 13]) {
    for (let o = 0; o < inLen * s; o++) {
      const x = sourceCoordinate(mode, o, s, inLen);
      if (x === undefined) return false;
      const i = nearestIndex(rounding, x);
      if (i === undefined) return false;
      if (Math.min(Math.max(i, 0), inLen - 1) !== Math.floor(o / s)) return false;
    }
  }
  return true;
}

const MAX_DYNAMIC_FACTOR = 8;

const resize: VjpRule = (ctx: VjpContext) => {
  // roi/scales/sizes may derive from Shape(x); they are piecewise constant and get no gradient.
  if (!ctx.wants(0)) return noCotangents(ctx);
  const mode = ctx.attrString('mode', 'nearest');
  if (mode !== 'nearest') ctx.fail(`Resize mode '${mode}' has no gradient rule; only 'nearest' with integer factors is supported`);
  const ctm = ctx.attrString('coordinate_transformation_mode', 'half_pixel');
  const rounding = ctx.attrString('nearest_mode', 'round_prefer_floor');
  const b = ctx.b;
  const x = ctx.input(0);
  const y = ctx.output(0);
  const xDims = ctx.shape(x).dims ?? ctx.fail(`rank of '${x}' is unknown`);
  const yDims = ctx.shapeOrUndefined(y)?.dims;
  const rank = xDims.length;
  const axesAttr = ctx.attrInts('axes')?.map((a) => (a < 0 ? a + rank : a));
  const axes = axesAttr ?? Array.from({ length: rank }, (_, i) => i);

  // Per-axis factor: from constant scales, else from sizes over static input dims, else from static dims.
  const factors: (number | null)[] = new Array(rank).fill(1);
  const scales = ctx.input(2) ? ctx.constInts(2) : undefined;
  const sizes = ctx.input(3) ? ctx.constInts(3) : undefined;
  if (scales && scales.length > 0) {
    axes.forEach((a, i) => (factors[a] = scales[i]!));
  } else {
    if (sizes && ctx.attrString('keep_aspect_ratio_policy', 'stretch') !== 'stretch') {
      ctx.fail('Resize with sizes and keep_aspect_ratio_policy other than stretch is not supported');
    }
    axes.forEach((a, i) => {
      const inD = xDims[a];
      const outD = sizes?.[i] ?? yDims?.[a] ?? null;
      factors[a] = inD != null && outD != null ? outD / inD : null;
    });
  }
  for (const [a, f] of factors.entries()) {
    if (f !== null && (!Number.isInteger(f) || f < 1)) {
      ctx.fail(`Resize factor ${f} on axis ${a} is not a positive integer; only integer nearest upsampling is supported`);
    }
  }
  const candidates = [...new Set(factors.map((f) => f ?? -1))].flatMap((f) =>
    f === -1 ? Array.from({ length: MAX_DYNAMIC_FACTOR }, (_, i) => i + 1) : [f]);
  for (const s of candidates) {
    if (!isBlockReplication(ctm, rounding, s)) {
      ctx.fail(`nearest Resize with coordinate_transformation_mode '${ctm}' and nearest_mode '${rounding}' is not a block replication for factor ${s}`);
    }
  }
  if (factors.every((f) => f === 1)) return firstInputOnly(ctx, ctx.dy()!);

  // Split every axis whose factor is not 1 into (input dim, factor).
  const split = factors.map((f) => f !== 1);
  const reduceAxes: number[] = [];
  let pos = 0;
  for (const s of split) {
    pos += s ? 2 : 1;
    if (s) reduceAxes.push(pos - 1);
  }
  const dy = ctx.dy()!;
  let target: string;
  const statics = xDims.every((d) => d !== null) && factors.every((f) => f !== null);
  if (statics) {
    target = b.int64s(xDims.flatMap((d, a) => (split[a] ? [d!, factors[a]!] : [d!])), 'split_shape');
  } else {
    // Runtime target: interleave Shape(x) with factors (static or Shape(dy) / Shape(x)).
    const shx = b.shapeOf(x);
    const pick = (shape: string, a: number) => b.op('Gather', [shape, b.int64s([a], 'axis')], { axis: attr.int(0) });
    const shy = factors.some((f) => f === null) ? b.shapeOf(dy) : '';
    const pieces: string[] = [];
    xDims.forEach((d, a) => {
      pieces.push(d !== null ? b.int64s([d], 'dim') : pick(shx, a));
      if (!split[a]) return;
      const f = factors[a];
      pieces.push(f !== null ? b.int64s([f!], 'factor') : b.div(pick(shy, a), pick(shx, a)));
    });
    target = b.op('Concat', pieces, { axis: attr.int(0) });
  }
  const elemType = ctx.shape(x).elemType;
  const blocks = b.reshape(dy, target);
  // A handful of terms per sum needs no wider accumulator; larger or unknown blocks get one.
  const block = factors.reduce<number>((p, f) => p * (f ?? Infinity), 1);
  if (block <= 16) return firstInputOnly(ctx, b.reduceSum(blocks, reduceAxes, false));
  return firstInputOnly(ctx, accurateReduceSum(ctx, blocks, reduceAxes, false, elemType));
};

export const resizeRules: Record<string, VjpRule> = { Resize: resize };
