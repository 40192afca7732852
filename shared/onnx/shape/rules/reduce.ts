/** Reductions (axes as attribute before the op's opset moved them to an input) and ArgMax/ArgMin. */
import { TensorDataType } from '../../proto/types.ts';
import type { ShapeRule } from '../rule.ts';
import { ints, normAxis } from './helpers.ts';

function reduce(axesFromInputSince: number): ShapeRule {
  return (v) => {
    const x = v.in(0);
    if (!x?.dims) return [{ elemType: x?.elemType ?? 0 }];
    const keep = v.attrInt('keepdims', 1) === 1;
    const axes = v.opset >= axesFromInputSince ? (v.node.input[1] ? ints(v, 1) : []) : (v.attrInts('axes') ?? []);
    if (axes === undefined) return [{ elemType: x.elemType, ...(keep ? { dims: x.dims.map(() => null) } : {}) }];
    const r = x.dims.length;
    const noop = v.attrInt('noop_with_empty_axes', 0) === 1;
    const set = new Set(axes.length === 0 ? (noop ? [] : x.dims.map((_, i) => i)) : axes.map((a) => normAxis(a, r)));
    const dims = keep ? x.dims.map((d, i) => (set.has(i) ? 1 : d)) : x.dims.filter((_, i) => !set.has(i));
    return [{ elemType: x.elemType, dims }];
  };
}

const argExtreme: ShapeRule = (v) => {
  const x = v.in(0);
  if (!x?.dims) return [{ elemType: TensorDataType.INT64 }];
  const axis = normAxis(v.attrInt('axis', 0), x.dims.length);
  const keep = v.attrInt('keepdims', 1) === 1;
  return [{ elemType: TensorDataType.INT64, dims: keep ? x.dims.map((d, i) => (i === axis ? 1 : d)) : x.dims.filter((_, i) => i !== axis) }];
};

const axesFromInputAt18 = ['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceSumSquare', 'ReduceLogSumExp'];

export const reduceShapeRules: Record<string, ShapeRule> = {
  ReduceSum: reduce(13),
  ...Object.fromEntries(axesFromInputAt18.map((op) => [op, reduce(18)])),
  ArgMax: argExtreme,
  ArgMin: argExtreme,
};
