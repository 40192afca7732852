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
  const b = ctx.b;
  const last = rank - 1;
  // Row sums of dy * y as do . o; small tensors, so low-precision types are widened first.
  let s: string;
  if (isLowPrecision(elemType)) {
    const wide = b.mul(b.cast(origin.dy, TensorDataType.FLOAT), b.cast(origin.output, TensorDataType.FLOAT));
    s = b.cast(b.reduceSum(wide, [last], true), elemType);
  } else {
    s = b.reduceSum(b.mul(origin.dy, origin.output), [last], true);
  }
  const onesShape = vDims.every((d) => typeof d === 'number')
    ? b.int64s([...(vDims.slice(0, -1) as number[]), 1])
    : b.op('Concat', [b.op('Slice', [b.shapeOf(origin.right), b.int64s([0]), b.int64s([-1])]), b.int64s([1])], { axis: attr.int(0) });
  const ones = b.op('Expand', [b.scalar(1, elemType, 'one'), onesShape]);
  const left = b.op('Concat', [origin.dy, b.neg(s)], { axis: attr.int(-1) });
  const right = b.op('Concat', [origin.right, ones], { axis: attr.int(-1) });
  const perm = Array.from({ length: vDims.length }, (_, i) => i);
  [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1]!, perm[perm.length - 2]!];
  const centred = b.op('MatMul', [left, b.transpose(right, perm)]);
  return b.mul(centred, y);
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
