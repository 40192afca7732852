/** Reductions of low-precision cotangents accumulate in float32, then cast back. */
import { TensorDataType } from '../proto/types.ts';
import type { VjpContext } from './rule.ts';

const LOW_PRECISION = new Set<number>([TensorDataType.FLOAT16, TensorDataType.BFLOAT16]);

export function isLowPrecision(elemType: number): boolean {
  return LOW_PRECISION.has(elemType);
}

export function accurateReduceSum(ctx: VjpContext, x: string, axes: readonly number[], keepdims: boolean, elemType: number): string {
  if (!isLowPrecision(elemType)) return ctx.b.reduceSum(x, axes, keepdims);
  const wide = ctx.b.cast(x, TensorDataType.FLOAT);
  return ctx.b.cast(ctx.b.reduceSum(wide, axes, keepdims), elemType);
}
