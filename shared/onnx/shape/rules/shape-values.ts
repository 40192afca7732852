/**
 * Ops that make the small integer tensors of shape arithmetic (Shape, Size, Constant,
 * ConstantOfShape, Range, NonZero): their values are tracked so Reshape targets resolve.
 */
import { TensorDataType } from '../../proto/types.ts';
import { tensorValues } from '../../tensor.ts';
import type { ShapeRule } from '../rule.ts';
import type { ValueShape } from '../value-shape.ts';
import { fromTensor, MAX_TRACKED_VALUES, normAxis, numel } from './helpers.ts';

export const shapeValueShapeRules: Record<string, ShapeRule> = {
  Shape: (v) => {
    const dims = v.in(0)?.dims;
    const s: ValueShape = { elemType: TensorDataType.INT64 };
    if (!dims) return [s];
    const r = dims.length;
    const clamp = (x: number) => Math.min(Math.max(normAxis(x, r), 0), r);
    const start = clamp(v.attrInt('start', 0));
    const end = clamp(v.attrInt('end', r));
    const values = dims.slice(start, end);
    return [{ ...s, dims: [values.length], values }];
  },
  Size: (v) => {
    const n = numel(v.in(0)?.dims);
    return [{ elemType: TensorDataType.INT64, dims: [], values: [n] }];
  },
  Constant: (v) => {
    const t = v.attrTensor('value');
    if (t) return [fromTensor(t)];
    const vi = v.attrInts('value_ints');
    if (vi) return [{ elemType: TensorDataType.INT64, dims: [vi.length], values: vi }];
    const n = v.attribute('value_int');
    if (n?.i !== undefined) return [{ elemType: TensorDataType.INT64, dims: [], values: [n.i] }];
    const f = v.attribute('value_float') ?? v.attribute('value_floats');
    if (f) return [{ elemType: TensorDataType.FLOAT, dims: f.name === 'value_float' ? [] : [f.floats?.length ?? 0] }];
    return [];
  },
  ConstantOfShape: (v) => {
    const dims = v.in(0)?.values;
    const t = v.attrTensor('value');
    const elemType = t?.dataType ?? TensorDataType.FLOAT;
    const s: ValueShape = { elemType };
    if (dims) s.dims = dims;
    const n = numel(dims);
    if (t && n !== null && n <= MAX_TRACKED_VALUES && (elemType === TensorDataType.INT64 || elemType === TensorDataType.INT32)) {
      s.values = new Array(n).fill(tensorValues(t)[0] ?? 0);
    }
    return [s];
  },
  Range: (v) => {
    const [start, limit, delta] = [0, 1, 2].map((k) => v.in(k)?.values?.[0]);
    const elemType = v.in(0)?.elemType ?? 0;
    if (start == null || limit == null || delta == null) return [{ elemType, dims: [null] }];
    const n = Math.max(Math.ceil((limit - start) / delta), 0);
    const s: ValueShape = { elemType, dims: [n] };
    if (n <= MAX_TRACKED_VALUES) s.values = Array.from({ length: n }, (_, i) => start + i * delta);
    return [s];
  },
  NonZero: (v) => [{ elemType: TensorDataType.INT64, ...(v.in(0)?.dims ? { dims: [v.in(0)!.dims!.length, null] } : {}) }],
};
