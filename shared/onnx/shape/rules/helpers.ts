/** Shape arithmetic the shape rules share: broadcasting, axes, element counts, tracked values. */
import { TensorDataType, type TensorProto } from '../../proto/types.ts';
import { tensorValues } from '../../tensor.ts';
import type { Dims, NodeView, Values } from '../rule.ts';
import type { ValueShape } from '../value-shape.ts';

/** Integer tensors up to this many elements have their values tracked (shape arithmetic). */
export const MAX_TRACKED_VALUES = 64;

export function fromTensor(t: TensorProto): ValueShape {
  const vs: ValueShape = { elemType: t.dataType, dims: [...t.dims] };
  const n = t.dims.reduce((a, b) => a * b, 1);
  const isInt = t.dataType === TensorDataType.INT64 || t.dataType === TensorDataType.INT32;
  if (isInt && n <= MAX_TRACKED_VALUES && t.dataLocation !== 1) vs.values = tensorValues(t);
  return vs;
}

export const same = (v: NodeView) => [v.in(0)];

export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

export function broadcast(shapes: (ValueShape | undefined)[]): Dims | undefined {
  if (shapes.some((s) => !s?.dims)) return undefined;
  const rank = Math.max(...shapes.map((s) => s!.dims!.length));
  const out: Dims = [];
  for (let i = 0; i < rank; i++) {
    let d: number | null = 1;
    for (const s of shapes) {
      const dims = s!.dims!;
      const di = dims[i - (rank - dims.length)];
      if (di === undefined || di === 1) continue;
      if (di === null) d = d === 1 ? null : d;
      else d = di;
    }
    out.push(d);
  }
  return out;
}

export function elementwiseValues(v: NodeView, f: (a: number, b: number) => number): Values {
  const a = v.in(0)?.values;
  const b = v.in(1)?.values;
  if (!a || !b) return undefined;
  const n = Math.max(a.length, b.length);
  if (a.length !== n && a.length !== 1) return undefined;
  if (b.length !== n && b.length !== 1) return undefined;
  return Array.from({ length: n }, (_, i) => {
    const x = a[a.length === 1 ? 0 : i]!;
    const y = b[b.length === 1 ? 0 : i]!;
    return x === null || y === null ? null : f(x, y);
  });
}

/** Values of an int input, from the inputs' tracked values or undefined. */
export function ints(v: NodeView, k: number): number[] | undefined {
  const vals = v.in(k)?.values;
  return vals && vals.every((x) => x !== null) ? (vals as number[]) : undefined;
}

export function axesOf(v: NodeView, inputIndex: number): number[] | undefined {
  return v.attrInts('axes') ?? (v.node.input[inputIndex] ? ints(v, inputIndex) : undefined);
}

export function numel(d: Dims | undefined): number | null {
  if (!d) return null;
  let n = 1;
  for (const x of d) {
    if (x === null) return null;
    n *= x;
  }
  return n;
}
