/** Gradients of Softmax and LogSoftmax over one axis (opset 13+ semantics). */
import { attr } from '../../graph-builder.ts';
import { TensorDataType } from '../../proto/types.ts';
import type { VjpContext, VjpRule } from '../rule.ts';
import { accurateReduceSum, isLowPrecision } from '../precision.ts';

function axisOf(ctx: VjpContext): number {
  const rank = ctx.shape(ctx.output(0)).dims?.length ?? ctx.shape(ctx.input(0)).dims?.length;
  if (rank === undefined) ctx.fail('rank of the softmax input is unknown');
  const axis = ctx.attrInt('axis', -1);
  return axis < 0 ? axis + rank : axis;
}

// y = softmax(x): dx = y * (dy - sum(dy * y))
const softmax: VjpRule = (ctx: VjpContext) => {
  const dy = ctx.dy()!;
  const y = ctx.output(0);
  const b = ctx.b;
  const elemType = ctx.shape(y).elemType;
  const axis = axisOf(ctx);
  const viaProduct = attentionBackward(ctx, dy, y, axis, elemType);
  if (viaProduct) return [viaProduct];
  const s = accurateReduceSum(ctx, b.mul(dy, y), [axis], true, elemType);
  return [b.mul(b.sub(dy, s), y)];
};

/**
 * Attention: y = softmax(x) over the last axis feeds only o = y v, so dy = do v^T. Then
 * sum_j dy_ij y_ij = sum_j y_ij (do_i . v_j) = do_i . o_i, a reduction over the small head
 * dimension instead of over the [tokens x tokens] cotangent; and dy - s = [do, -s] [v, 1]^T is
 * one product with a single extra column. The gradient then costs one product and one Mul at
 * full size, where the generic rule reads or writes the full-size tensors four more times.
 */
function attentionBackward(ctx: VjpContext, dy: string, y: string, axis: number, elemType: number): string | undefined {
  const origin = ctx.origin(dy);
  const rank = ctx.shape(y).dims?.length;
  if (!origin || origin.left !== y || rank === undefined || axis !== rank - 1) return undefined;
  const vDims = ctx.shapeOrUndefined(origin.right)?.dims;
  const oRank = ctx.shapeOrUndefined(origin.output)?.dims?.length;
  if (!vDims || vDims.length < 2 || oRank !== rank) return undefined;
  const { dyAug, vAug } = centringFactors(ctx, origin.dy, origin.output, origin.right, vDims, elemType);
  const centred = ctx.b.op('MatMul', [dyAug, ctx.b.transpose(vAug, swapLast2(vDims.length))]);
  return ctx.b.mul(centred, y);
}

export function swapLast2(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
  return perm;
}

/**
 * For o = softmax(x) v with cotangent dO: dyAug = [dO, s] with s = rowsum(dO * o), and
 * vAug = [v, -1], so that dyAug vAug^T = dO v^T - s 1^T, the softmax input's cotangent before
 * the final product with the probabilities. Everything here is [tokens x head dim] in size. The
 * column of -1 is one Pad (no shape arithmetic), and the sign sits there rather than on s.
 */
export function centringFactors(ctx: VjpContext, dO: string, o: string, v: string, vDims: readonly (number | null)[], elemType: number): { dyAug: string; vAug: string } {
  const b = ctx.b;
  const last = (ctx.shapeOrUndefined(o)?.dims?.length ?? ctx.fail(`rank of '${o}' is unknown`)) - 1;
  // Row sums of dy * y as dO . o; small tensors, so low-precision types are widened first.
  let s: string;
  if (isLowPrecision(elemType)) {
    const wide = b.mul(b.cast(dO, TensorDataType.FLOAT), b.cast(o, TensorDataType.FLOAT));
    s = b.cast(b.reduceSum(wide, [last], true), elemType);
  } else {
    s = b.reduceSum(b.mul(dO, o), [last], true);
  }
  const pads = new Array<number>(2 * vDims.length).fill(0);
  pads[2 * vDims.length - 1] = 1;
  return {
    dyAug: b.op('Concat', [dO, s], { axis: attr.int(-1) }),
    vAug: b.op('Pad', [v, b.int64s(pads, 'pads'), b.scalar(-1, elemType, 'minus_one')]),
  };
}

// y = x - logsumexp(x): dx = dy - exp(y) * sum(dy)
const logSoftmax: VjpRule = (ctx: VjpContext) => {
  const dy = ctx.dy()!;
  const y = ctx.output(0);
  const b = ctx.b;
  const s = accurateReduceSum(ctx, dy, [axisOf(ctx)], true, ctx.shape(y).elemType);
  return [b.sub(dy, b.mul(b.op('Exp', [y]), s))];
};

export const softmaxRules: Record<string, VjpRule> = { Softmax: softmax, LogSoftmax: logSoftmax };
