/**
 * Shape arithmetic for gradient rules: integers that are static where shape inference knows
 * them and int64 tensors computed at run time where dims are symbolic, and the shape tensors
 * (reshape back, expand to, zeros like) built from them.
 */
import { attr, type GraphBuilder } from '../../graph-builder.ts';
import { TensorDataType } from '../../proto/types.ts';
import { knownDims } from '../../shape/value-shape.ts';
import { makeTensor } from '../../tensor.ts';
import type { VjpContext } from '../rule.ts';


/** A static integer, or the name of a one-element int64 tensor computed at run time. */
export type Int = number | string;

export function intTensor(b: GraphBuilder, v: Int): string {
  return typeof v === 'number' ? b.int64s([v]) : v;
}

export function intOp(b: GraphBuilder, op: 'Add' | 'Sub' | 'Mul' | 'Max' | 'Min', x: Int, y: Int): Int {
  if (typeof x === 'number' && typeof y === 'number') {
    const f = { Add: x + y, Sub: x - y, Mul: x * y, Max: Math.max(x, y), Min: Math.min(x, y) };
    return f[op];
  }
  // Identities, so shape arithmetic around symbolic dims emits no node for them (each node
  // costs a few microseconds per run however small its tensors).
  if ((op === 'Add' || op === 'Sub') && y === 0) return x;
  if (op === 'Add' && x === 0) return y;
  if (op === 'Mul' && y === 1) return x;
  if (op === 'Mul' && x === 1) return y;
  return b.op(op, [intTensor(b, x), intTensor(b, y)]);
}

/** One 1-D int64 tensor from pieces (constant when every piece is static). */
export function intVector(b: GraphBuilder, parts: readonly Int[]): string {
  if (parts.every((p) => typeof p === 'number')) return b.int64s(parts as number[]);
  return b.op('Concat', parts.map((p) => intTensor(b, p)), { axis: attr.int(0) });
}

export function rankOf(ctx: VjpContext, name: string): number {
  const dims = ctx.shape(name).dims;
  if (!dims) return ctx.fail(`rank of '${name}' is unknown`);
  return dims.length;
}

export function norm(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** Dim `axis` of a forward value: static if known, else Shape(x)[axis] at run time. */
export function dimOf(ctx: VjpContext, name: string, axis: number): Int {
  const d = ctx.shapeOrUndefined(name)?.dims?.[axis];
  if (typeof d === 'number') return d;
  return ctx.b.op('Gather', [ctx.b.shapeOf(name), ctx.b.int64s([axis])], { axis: attr.int(0) });
}

/** The shape of a forward value as an int64 tensor, constant where static. */
export function shapeTensor(ctx: VjpContext, name: string, forReshape = false): string {
  const dims = knownDims(ctx.shapeOrUndefined(name));
  // A 0 in a Reshape target copies the input dim, so zero-size shapes go through Shape().
  if (dims && !(forReshape && dims.includes(0))) return ctx.b.int64s(dims);
  return ctx.b.shapeOf(name);
}

/** g reshaped to the shape of forward value x. */
export function reshapeLike(ctx: VjpContext, g: string, x: string): string {
  return ctx.b.reshape(g, shapeTensor(ctx, x, true));
}

/** g broadcast to the shape of forward value x. */
export function expandTo(ctx: VjpContext, g: string, x: string): string {
  return ctx.b.op('Expand', [g, shapeTensor(ctx, x)]);
}

/** Zeros shaped like forward value x, in the given element type. */
export function zerosLike(ctx: VjpContext, x: string, elemType: number): string {
  const value = makeTensor('', elemType, [1], [0]);
  return ctx.b.op('ConstantOfShape', [shapeTensor(ctx, x)], { value: attr.tensor(value) });
}

/** A 1-element int64 view of an integer input value (int32 indices are widened). */
export function asInt64(ctx: VjpContext, name: string): string {
  const t = ctx.shapeOrUndefined(name)?.elemType;
  return t === TensorDataType.INT64 ? name : ctx.b.cast(name, TensorDataType.INT64);
}

