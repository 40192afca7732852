/**
 * Sums a cotangent of a broadcast result back to the shape of one operand. Axes are decided
 * from static shapes: leading axes the operand lacks, and axes where the operand's dim is
 * known to be 1. A dim that is symbolic in the operand is taken as not broadcast there:
 * exports only broadcast over axes whose size-1 dims are static (biases, Unsqueeze, keepdims).
 */
import type { VjpContext } from './rule.ts';
import { accurateReduceSum } from './precision.ts';

export function unbroadcast(ctx: VjpContext, grad: string, operand: string, result: string): string {
  const x = ctx.shape(operand);
  const y = ctx.shape(result);
  if (!x.dims) ctx.fail(`rank of '${operand}' is unknown; cannot reduce its broadcast gradient`);
  if (!y.dims) ctx.fail(`rank of '${result}' is unknown; cannot reduce its broadcast gradient`);
  const lead = y.dims.length - x.dims.length;
  if (lead < 0) ctx.fail(`'${operand}' has higher rank than the result '${result}'`);
  const kept: number[] = [];
  x.dims.forEach((d, i) => {
    if (d === 1 && y.dims![i + lead] !== 1) kept.push(i + lead);
  });
  const leading = Array.from({ length: lead }, (_, i) => i);
  if (leading.length === 0 && kept.length === 0) return grad;
  let g = grad;
  if (kept.length > 0) g = accurateReduceSum(ctx, g, kept, true, y.elemType);
  if (leading.length > 0) g = accurateReduceSum(ctx, g, leading, false, y.elemType);
  return g;
}
