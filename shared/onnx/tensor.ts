/** Reading and creating TensorProto values: element types, small constant decoding, typed-array wrapping. */
import { floatToHalf, halfToFloat } from '../formats/float16.ts';
import { TensorDataType, type TensorProto } from './proto/types.ts';

export { floatToHalf, halfToFloat };

export const FLOAT_TYPES: ReadonlySet<number> = new Set([
  TensorDataType.FLOAT,
  TensorDataType.FLOAT16,
  TensorDataType.DOUBLE,
  TensorDataType.BFLOAT16,
]);

const ELEMENT_BYTES: Record<number, number> = {
  [TensorDataType.FLOAT]: 4,
  [TensorDataType.UINT8]: 1,
  [TensorDataType.INT8]: 1,
  [TensorDataType.UINT16]: 2,
  [TensorDataType.INT16]: 2,
  [TensorDataType.INT32]: 4,
  [TensorDataType.INT64]: 8,
  [TensorDataType.BOOL]: 1,
  [TensorDataType.FLOAT16]: 2,
  [TensorDataType.DOUBLE]: 8,
  [TensorDataType.UINT32]: 4,
  [TensorDataType.UINT64]: 8,
  [TensorDataType.BFLOAT16]: 2,
};

export function elementBytes(dataType: number): number {
  const n = ELEMENT_BYTES[dataType];
  if (n === undefined) throw new Error(`unsupported tensor element type ${dataTypeName(dataType)}`);
  return n;
}

export function dataTypeName(dataType: number): string {
  const entry = Object.entries(TensorDataType).find(([, v]) => v === dataType);
  return entry ? entry[0] : `type#${dataType}`;
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export function isExternal(t: TensorProto): boolean {
  return t.dataLocation === 1;
}

/**
 * Decodes an embedded tensor's values as numbers (constants, shape arithmetic, test data).
 * External tensors are not read here: callers must not need weights to build graphs.
 */
export function tensorValues(t: TensorProto): number[] {
  if (isExternal(t)) throw new Error(`tensor '${t.name}' is stored externally; its values are not loaded`);
  const n = elementCount(t.dims);
  if (t.rawData && t.rawData.length > 0) {
    const dv = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
    const out: number[] = new Array(n);
    const size = elementBytes(t.dataType);
    if (t.rawData.length !== n * size) {
      throw new Error(`tensor '${t.name}': raw_data has ${t.rawData.length} bytes, expected ${n * size}`);
    }
    for (let i = 0; i < n; i++) {
      const o = i * size;
      switch (t.dataType) {
        case TensorDataType.FLOAT: out[i] = dv.getFloat32(o, true); break;
        case TensorDataType.DOUBLE: out[i] = dv.getFloat64(o, true); break;
        case TensorDataType.FLOAT16: out[i] = halfToFloat(dv.getUint16(o, true)); break;
        case TensorDataType.BFLOAT16: out[i] = new Float32Array(new Uint32Array([dv.getUint16(o, true) << 16]).buffer)[0]!; break;
        case TensorDataType.INT64: out[i] = Number(dv.getBigInt64(o, true)); break;
        case TensorDataType.UINT64: out[i] = Number(dv.getBigUint64(o, true)); break;
        case TensorDataType.INT32: out[i] = dv.getInt32(o, true); break;
        case TensorDataType.UINT32: out[i] = dv.getUint32(o, true); break;
        case TensorDataType.INT16: out[i] = dv.getInt16(o, true); break;
        case TensorDataType.UINT16: out[i] = dv.getUint16(o, true); break;
        case TensorDataType.INT8: out[i] = dv.getInt8(o); break;
        case TensorDataType.UINT8:
        case TensorDataType.BOOL: out[i] = dv.getUint8(o); break;
        default: throw new Error(`tensor '${t.name}': cannot decode ${dataTypeName(t.dataType)}`);
      }
    }
    return out;
  }
  switch (t.dataType) {
    case TensorDataType.FLOAT: return t.floatData ?? [];
    case TensorDataType.DOUBLE: return t.doubleData ?? [];
    case TensorDataType.INT64: return t.int64Data ?? [];
    case TensorDataType.UINT64:
    case TensorDataType.UINT32: return t.uint64Data ?? [];
    case TensorDataType.FLOAT16: return (t.int32Data ?? []).map(halfToFloat);
    default: return t.int32Data ?? [];
  }
}

/** Builds an embedded tensor holding `values` in the given element type. */
export function makeTensor(name: string, dataType: number, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  const n = elementCount(dims);
  if (values.length !== n) throw new Error(`makeTensor '${name}': ${values.length} values for dims [${dims.join(',')}]`);
  const size = elementBytes(dataType);
  const raw = new Uint8Array(n * size);
  const dv = new DataView(raw.buffer);
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    const o = i * size;
    switch (dataType) {
      case TensorDataType.FLOAT: dv.setFloat32(o, v, true); break;
      case TensorDataType.DOUBLE: dv.setFloat64(o, v, true); break;
      case TensorDataType.FLOAT16: dv.setUint16(o, floatToHalf(v), true); break;
      case TensorDataType.INT64: dv.setBigInt64(o, clampInt64(v), true); break;
      case TensorDataType.INT32: dv.setInt32(o, v, true); break;
      case TensorDataType.UINT8:
      case TensorDataType.BOOL: dv.setUint8(o, v); break;
      default: throw new Error(`makeTensor '${name}': element type ${dataTypeName(dataType)} not supported`);
    }
  }
  return { name, dataType, dims: [...dims], rawData: raw };
}

/** int64 from a JS number; values at or beyond +-2^63 (sentinels such as INT64_MAX) saturate. */
function clampInt64(v: number): bigint {
  if (v >= 2 ** 63) return 2n ** 63n - 1n;
  if (v <= -(2 ** 63)) return -(2n ** 63n);
  return BigInt(Math.trunc(v));
}
