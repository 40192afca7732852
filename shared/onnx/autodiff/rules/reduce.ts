/**
 * Gradients of reductions: ReduceSum, ReduceMean, ReduceSumSquare, ReduceL2, ReduceL1,
 * ReduceMax, ReduceMin. Axes come from the attribute before the op's axes-as-input opset (13 for
 * ReduceSum, 18 for the others) and from input 1 after; empty axes mean all axes unless
 * noop_with_empty_axes=1. The output cotangent is re-expanded over the reduced axes.
 */
import { attr } from '../../graph-builder.ts';
import { nodeAttributes } from '../../node-attributes.ts';
import { TensorDataType } from '../../proto/types.ts';
import { accurateReduceSum, isLowPrecision } from '../precision.ts';
import type { NodeProto } from '../../proto/types.ts';
import { firstInputOnly, type VjpContext, type VjpRule } from '../rule.ts';
import { expandTo } from './shape-arithmetic.ts';
import { elemTypeOf } from './unary.ts';

/** Reduced axes: a static list, every axis, none (identity), or a runtime int64 tensor. */
type Axes = { kind: 'list'; axes: number[] } | { kind: 'all' } | { kind: 'none' } | { kind: 'runtime'; name: string };

export interface Reduction {
  axes: Axes;
  keepdims: boolean;
  noop: boolean;
}

/**
 * How `node` (default: the node being differentiated) reduces: axes from the attribute before
 * the op's axes-as-input opset, from input 1 after.
 */
export function reduction(ctx: VjpContext, axesInputSince: number, node: NodeProto = ctx.node): Reduction {
  const { attrInt, attrInts } = nodeAttributes(node);
  const keepdims = attrInt('keepdims', 1) === 1;
  const fromInput = ctx.opset >= axesInputSince;
  const noop = fromInput && attrInt('noop_with_empty_axes', 0) === 1;
  const axesInput = node.input[1] ?? '';
  let list: number[] | undefined;
  if (!fromInput) list = attrInts('axes') ?? [];
  else if (!axesInput) list = [];
  else list = ctx.constValues(axesInput);
  if (!list) return { axes: { kind: 'runtime', name: axesInput }, keepdims, noop };
  if (list.length === 0) return { axes: noop ? { kind: 'none' } : { kind: 'all' }, keepdims, noop };
  return { axes: { kind: 'list', axes: list }, keepdims, noop };
}

/** A value shaped like the output, with the reduced axes re-inserted as size 1 (broadcastable to x). */
function unreduce(ctx: VjpContext, g: string, red: Reduction): string {
  if (red.keepdims) return g;
  switch (red.axes.kind) {
    // Unsqueeze's negative axes count from the end of its output, whose rank is x's: same axes.
    case 'list': return ctx.b.unsqueeze(g, red.axes.axes);
    case 'runtime': return ctx.b.op('Unsqueeze', [g, red.axes.name]);
    default: return g;
  }
}

/** The cotangent spread back over the reduced axes: shape of x. */
function spread(ctx: VjpContext, g: string, red: Reduction): string {
  if (red.axes.kind === 'none') return g;
  return expandTo(ctx, unreduce(ctx, g, red), ctx.input(0));
}

/** Sum over the reduced axes keeping them as size 1 (counts of ties). */
function sumReduced(ctx: VjpContext, t: string, red: Reduction, elemType: number): string {
  const b = ctx.b;
  switch (red.axes.kind) {
    case 'none': return t;
    case 'list': return accurateReduceSum(ctx, t, red.axes.axes, true, elemType);
    default: {
      const low = isLowPrecision(elemType);
      const wide = low ? b.cast(t, TensorDataType.FLOAT) : t;
      const attrs = { keepdims: attr.int(1), noop_with_empty_axes: attr.int(red.noop ? 1 : 0) };
      const s = b.op('ReduceSum', red.axes.kind === 'all' ? [wide] : [wide, red.axes.name], attrs);
      return low ? b.cast(s, elemType) : s;
    }
  }
}

/** Number of elements each output element averages over, as a scalar of elemType. */
function count(ctx: VjpContext, red: Reduction, elemType: number): string {
  const b = ctx.b;
  const dims = ctx.shapeOrUndefined(ctx.input(0))?.dims;
  let n: number | undefined;
  if (red.axes.kind === 'none') n = 1;
  else if (dims && red.axes.kind === 'all' && dims.every((d) => d !== null)) n = (dims as number[]).reduce((p, q) => p * q, 1);
  else if (dims && red.axes.kind === 'list') {
    const r = dims.length;
    const picked = [...new Set(red.axes.axes.map((a) => (a < 0 ? a + r : a)))].map((a) => dims[a]);
    if (picked.every((d) => typeof d === 'number')) n = (picked as number[]).reduce((p, q) => p * q, 1);
  }
  if (n !== undefined) return b.scalar(n, elemType);
  // Symbolic dims: |x| / |y| at run time, computed in float32 at least.
  const wideType = isLowPrecision(elemType) ? TensorDataType.FLOAT : elemType;
  const ratio = b.div(b.cast(b.op('Size', [ctx.input(0)]), wideType), b.cast(b.op('Size', [ctx.output(0)]), wideType));
  return wideType === elemType ? ratio : b.cast(ratio, elemType);
}

function rule(axesInputSince: number, f: (ctx: VjpContext, dy: string, red: Reduction, elemType: number) => string): VjpRule {
  return (ctx) => firstInputOnly(ctx, f(ctx, ctx.dy()!, reduction(ctx, axesInputSince), elemTypeOf(ctx, ctx.output(0))));
}

const reduceSum = rule(13, (ctx, dy, red) => spread(ctx, dy, red));

// Scaling the small output cotangent before expanding it saves a pass over x-sized data.
const reduceMean = rule(18, (ctx, dy, red, t) => spread(ctx, ctx.b.div(dy, count(ctx, red, t)), red));

// d sum(x^2) = 2 x
const reduceSumSquare = rule(18, (ctx, dy, red, t) => ctx.b.mul(spread(ctx, ctx.b.mul(dy, ctx.b.scalar(2, t)), red), ctx.input(0)));

// d ||x|| = x / ||x||
const reduceL2 = rule(18, (ctx, dy, red) => ctx.b.mul(spread(ctx, ctx.b.div(dy, ctx.output(0)), red), ctx.input(0)));

const reduceL1 = rule(18, (ctx, dy, red) => ctx.b.mul(spread(ctx, dy, red), ctx.b.op('Sign', [ctx.input(0)])));

/**
 * ReduceMax/ReduceMin: the cotangent goes to the positions equal to the result; tied positions
 * share it evenly (the mean of the one-sided subgradients, as torch's amax/amin do).
 */
const reduceExtremum = rule(18, (ctx, dy, red, t) => {
  const b = ctx.b;
  const mask = b.cast(b.op('Equal', [ctx.input(0), unreduce(ctx, ctx.output(0), red)]), t);
  const share = b.div(unreduce(ctx, dy, red), sumReduced(ctx, mask, red, t));
  return b.mul(mask, share);
});

export const reduceRules: Record<string, VjpRule> = {
  ReduceSum: reduceSum,
  ReduceMean: reduceMean,
  ReduceSumSquare: reduceSumSquare,
  ReduceL2: reduceL2,
  ReduceL1: reduceL1,
  ReduceMax: reduceExtremum,
  ReduceMin: reduceExtremum,
};
