/** Conversions between plain arrays and onnxruntime tensors for the element types we feed. */
import ort from 'onnxruntime-node';
import { TensorDataType } from './proto/types.ts';
import { WITH_GRADIENT } from './autodiff/backward-gate.ts';
import { floatToHalf, halfToFloat } from './tensor.ts';

export function toOrtTensor(elemType: number, data: ArrayLike<number>, dims: readonly number[]): ort.Tensor {
  switch (elemType) {
    case TensorDataType.FLOAT: return new ort.Tensor('float32', Float32Array.from(data), dims);
    case TensorDataType.DOUBLE: return new ort.Tensor('float64', Float64Array.from(data), dims);
    case TensorDataType.FLOAT16: return new ort.Tensor('float16', Uint16Array.from(Array.from(data, floatToHalf)), dims);
    case TensorDataType.INT64: return new ort.Tensor('int64', BigInt64Array.from(Array.from(data, (v) => BigInt(Math.trunc(v)))), dims);
    case TensorDataType.INT32: return new ort.Tensor('int32', Int32Array.from(data), dims);
    default: throw new Error(`cannot feed element type ${elemType}`);
  }
}

export function fromOrtTensor(t: ort.Tensor): Float64Array {
  const d = t.data;
  if (d instanceof Float32Array || d instanceof Float64Array || d instanceof Int32Array) return Float64Array.from(d);
  if (d instanceof BigInt64Array) return Float64Array.from(d, (v) => Number(v));
  if (t.type === 'float16' && d instanceof Uint16Array) return Float64Array.from(d, halfToFloat);
  throw new Error(`cannot read ORT tensor of type ${t.type}`);
}

/** The feed that tells a gated gradient graph (autodiff/backward-gate.ts) whether to run its backward. */
export function gradientSwitch(on: boolean): Record<typeof WITH_GRADIENT, ort.Tensor> {
  return { [WITH_GRADIENT]: new ort.Tensor('bool', Uint8Array.of(on ? 1 : 0), []) };
}
