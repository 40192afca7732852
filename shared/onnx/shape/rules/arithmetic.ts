/** Broadcasting binary ops, comparisons, variadic Sum/Mean and Where, with integer values folded. */
import { TensorDataType } from '../../proto/types.ts';
import type { ShapeRule } from '../rule.ts';
import type { ValueShape } from '../value-shape.ts';
import { broadcast, elementwiseValues } from './helpers.ts';

function binary(f?: (a: number, b: number) => number, boolOut = false): ShapeRule {
  return (v) => {
    const dims = broadcast([v.in(0), v.in(1)]);
    const s: ValueShape = { elemType: boolOut ? TensorDataType.BOOL : (v.in(0)?.elemType ?? 0) };
    if (dims) s.dims = dims;
    if (f) {
      const vals = elementwiseValues(v, f);
      if (vals) s.values = vals;
    }
    return [s];
  };
}

const variadic: ShapeRule = (v) => {
  const all = v.node.input.map((_, k) => v.in(k));
  const dims = broadcast(all);
  return [{ elemType: all[0]?.elemType ?? 0, ...(dims ? { dims } : {}) }];
};

export const arithmeticShapeRules: Record<string, ShapeRule> = {
  Add: binary((a, b) => a + b),
  Sub: binary((a, b) => a - b),
  Mul: binary((a, b) => a * b),
  Div: binary((a, b) => Math.trunc(a / b)),
  Pow: binary(),
  Mod: binary((a, b) => a % b),
  Max: binary(Math.max),
  Min: binary(Math.min),
  Equal: binary((a, b) => (a === b ? 1 : 0), true),
  Less: binary((a, b) => (a < b ? 1 : 0), true),
  Greater: binary((a, b) => (a > b ? 1 : 0), true),
  LessOrEqual: binary((a, b) => (a <= b ? 1 : 0), true),
  GreaterOrEqual: binary((a, b) => (a >= b ? 1 : 0), true),
  And: binary(undefined, true),
  Or: binary(undefined, true),
  Sum: variadic,
  Mean: variadic,
  Where: (v) => {
    const dims = broadcast([v.in(0), v.in(1), v.in(2)]);
    const s: ValueShape = { elemType: v.in(1)?.elemType ?? v.in(2)?.elemType ?? 0 };
    if (dims) s.dims = dims;
    const c = v.in(0)?.values;
    const x = v.in(1)?.values;
    const y = v.in(2)?.values;
    if (c && x && y && c.length === x.length && x.length === y.length) {
      s.values = c.map((ci, i) => (ci === null ? null : ci ? x[i]! : y[i]!));
    }
    return [s];
  },
};
