/**
 * The safetensors format: 8-byte little-endian header length, a JSON header mapping tensor
 * names to dtype/shape/byte ranges (plus optional string metadata), then the raw data.
 */
import { z } from 'zod';
import { halfToFloat } from './float16.ts';

export const SafetensorsDtype = z.enum(['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL']);
export type SafetensorsDtype = z.infer<typeof SafetensorsDtype>;

const TensorEntry = z.object({
  dtype: SafetensorsDtype,
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Little-endian element bytes. */
  data: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

export function parseSafetensors(bytes: Uint8Array, source = 'safetensors data'): SafetensorsFile {
  if (bytes.length < 8) throw new SafetensorsError(`${source}: too short for a safetensors header`);
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLen > bytes.length - 8) throw new SafetensorsError(`${source}: header length ${headerLen} exceeds the file`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch {
    throw new SafetensorsError(`${source}: header is not valid JSON`);
  }
  if (typeof header !== 'object' || header === null) throw new SafetensorsError(`${source}: header is not an object`);
  const dataStart = 8 + headerLen;
  const tensors = new Map<string, SafetensorsTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = z.record(z.string(), z.string()).parse(raw);
      continue;
    }
    const parsed = TensorEntry.safeParse(raw);
    if (!parsed.success) throw new SafetensorsError(`${source}: tensor '${name}': ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    const { dtype, shape, data_offsets: [s, e] } = parsed.data;
    const expected = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    if (e - s !== expected || dataStart + e > bytes.length) {
      throw new SafetensorsError(`${source}: tensor '${name}' byte range [${s}, ${e}) does not fit its shape or the file`);
    }
    tensors.set(name, { dtype, shape, data: bytes.subarray(dataStart + s, dataStart + e) });
  }
  return { tensors, metadata };
}

export function serializeSafetensors(tensors: Record<string, SafetensorsTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  let offset = 0;
  const names = Object.keys(tensors);
  for (const name of names) {
    const t = tensors[name]!;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned.
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    out.set(tensors[name]!.data, pos);
    pos += tensors[name]!.data.length;
  }
  return out;
}

/** Tensor values as float64 numbers, whatever the stored dtype. */
export function tensorToFloat64(t: SafetensorsTensor): Float64Array {
  const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const n = t.data.length / DTYPE_BYTES[t.dtype];
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    switch (t.dtype) {
      case 'F64': out[i] = dv.getFloat64(i * 8, true); break;
      case 'F32': out[i] = dv.getFloat32(i * 4, true); break;
      case 'F16': out[i] = halfToFloat(dv.getUint16(i * 2, true)); break;
      case 'BF16': out[i] = new Float32Array(new Uint32Array([dv.getUint16(i * 2, true) << 16]).buffer)[0]!; break;
      case 'I64': out[i] = Number(dv.getBigInt64(i * 8, true)); break;
      case 'I32': out[i] = dv.getInt32(i * 4, true); break;
      case 'I16': out[i] = dv.getInt16(i * 2, true); break;
      case 'I8': out[i] = dv.getInt8(i); break;
      case 'U8':
      case 'BOOL': out[i] = dv.getUint8(i); break;
    }
  }
  return out;
}

export function float32Tensor(values: ArrayLike<number>, shape: number[]): SafetensorsTensor {
  const f = Float32Array.from(values);
  return { dtype: 'F32', shape, data: new Uint8Array(f.buffer) };
}
