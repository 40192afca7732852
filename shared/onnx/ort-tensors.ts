/** Conversions between plain arrays and onnxruntime tensors for the element types we feed. */
import ort from 'onnxruntime-node';
import { TensorDataType } from './proto/types.ts';
import { WITH_GRADIENT } from './autodiff/backward-gate.ts';
import { OBJECTIVE } from './autodiff/residual-objective.ts';
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

/**
 * The step objective's inputs of a prepared gradient graph (autodiff/residual-objective.ts) with
 * the objective switched off (zero mix): for runs that want only m(x) or a fed cotangent's VJP.
 * `dims`: the latent batch's dims, one branch copy.
 */
export function objectiveOff(dims: readonly number[]): Record<string, ort.Tensor> {
  const zeros = new Float32Array(dims.reduce((a, d) => a * d, 1));
  return {
    [OBJECTIVE.latent]: new ort.Tensor('float32', zeros, dims),
    [OBJECTIVE.target]: new ort.Tensor('float32', zeros, dims),
    [OBJECTIVE.a]: new ort.Tensor('float64', Float64Array.of(0), []),
    [OBJECTIVE.b]: new ort.Tensor('float64', Float64Array.of(0), []),
    [OBJECTIVE.sigma]: new ort.Tensor('float64', Float64Array.of(0), []),
    [OBJECTIVE.mix]: new ort.Tensor('float64', Float64Array.of(0), [1]),
  };
}
