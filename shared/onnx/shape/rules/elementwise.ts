/** Ops whose output has the input's shape: unary math, activations, casts, masks, Dropout. */
import { TensorDataType } from '../../proto/types.ts';
import type { ShapeRule } from '../rule.ts';
import { same } from './helpers.ts';

const sameShape = [
  'Identity', 'Relu', 'Sigmoid', 'Tanh', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Erf', 'Abs', 'Softmax',
  'LogSoftmax', 'Gelu', 'Sin', 'Cos', 'Floor', 'Ceil', 'Round', 'Clip', 'LeakyRelu', 'HardSigmoid', 'Softplus',
  'Mish', 'Elu', 'Selu', 'HardSwish', 'Sign', 'Not', 'CumSum', 'Trilu',
];

const isNaN: ShapeRule = (v) => [v.in(0) && { ...v.in(0)!, elemType: TensorDataType.BOOL, values: undefined }];

export const elementwiseShapeRules: Record<string, ShapeRule> = {
  ...Object.fromEntries(sameShape.map((op) => [op, same])),
  Neg: (v) => {
    const s = v.in(0);
    return [s ? { ...s, ...(s.values ? { values: s.values.map((x) => (x === null ? null : -x)) } : {}) } : undefined];
  },
  IsNaN: isNaN,
  IsInf: isNaN,
  Dropout: (v) => [v.in(0), v.in(0) && { ...v.in(0)!, elemType: TensorDataType.BOOL }],
  Cast: (v) => {
    const s = v.in(0);
    const to = v.attrInt('to', 0);
    return [s && { ...s, elemType: to, values: to === TensorDataType.INT64 || to === TensorDataType.INT32 ? s.values : undefined }];
  },
  CastLike: (v) => [v.in(0) && { ...v.in(0)!, elemType: v.in(1)?.elemType ?? 0 }],
};
