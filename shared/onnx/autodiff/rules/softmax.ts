/** Gradients of Softmax and LogSoftmax over one axis (opset 13+ semantics). */
import type { VjpContext, VjpRule } from '../rule.ts';
import { accurateReduceSum } from '../precision.ts';

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
  const s = accurateReduceSum(ctx, b.mul(dy, y), [axisOf(ctx)], true, elemType);
  return [b.mul(b.sub(dy, s), y)];
};

// y = x - logsumexp(x): dx = dy - exp(y) * sum(dy)
const logSoftmax: VjpRule = (ctx: VjpContext) => {
  const dy = ctx.dy()!;
  const y = ctx.output(0);
  const b = ctx.b;
  const s = accurateReduceSum(ctx, dy, [axisOf(ctx)], true, ctx.shape(y).elemType);
  return [b.sub(dy, b.mul(b.op('Exp', [y]), s))];
};

export const softmaxRules: Record<string, VjpRule> = { Softmax: softmax, LogSoftmax: logSoftmax };
