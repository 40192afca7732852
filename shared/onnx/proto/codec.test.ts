import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from './codec.ts';
import { encodeVarint, ProtobufDecodeError, WireReader } from './wire.ts';
import { tinyModel } from '../testing/tiny-model.ts';
import { attr } from '../graph-builder.ts';
import { tensorValues } from '../tensor.ts';

function sampleModel() {
  return tinyModel({
    opset: 18,
    inputs: [{ name: 'x', dims: ['N', 3, 8, 8] }],
    constants: [{ name: 'w', dims: [4, 3, 3, 3], values: Array.from({ length: 108 }, (_, i) => i / 7) }],
    build: (b) => [
      {
        name: b.op('Conv', ['x', 'w'], { pads: attr.ints([1, 1, 1, 1]), strides: attr.ints([2, 2]), auto_pad: attr.string('NOTSET') }),
        dims: ['N', 4, 4, 4],
      },
    ],
  });
}

/** Appends a raw field (tag + payload) to a serialized message. */
function withField(bytes: Uint8Array, field: number, wire: number, payload: Uint8Array): Uint8Array {
  const tag = encodeVarint(field * 8 + wire);
  const out = new Uint8Array(bytes.length + tag.length + payload.length);
  out.set(bytes);
  out.set(tag, bytes.length);
  out.set(payload, bytes.length + tag.length);
  return out;
}

describe('ONNX protobuf codec', () => {
  it('round-trips a model byte for byte', () => {
    const bytes = encodeModel(sampleModel()).toBytes();
    const again = encodeModel(decodeModel(bytes)).toBytes();
    expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
  });

  it('decodes attributes, dims, symbolic shapes and tensor data', () => {
    const m = decodeModel(encodeModel(sampleModel()).toBytes());
    const conv = m.graph.node[0]!;
    expect(conv.opType).toBe('Conv');
    expect(conv.attribute.find((a) => a.name === 'pads')?.ints).toEqual([1, 1, 1, 1]);
    expect(new TextDecoder().decode(conv.attribute.find((a) => a.name === 'auto_pad')!.s)).toBe('NOTSET');
    expect(m.graph.input[0]!.type?.tensorType?.shape?.map((d) => d.dimParam ?? d.dimValue)).toEqual(['N', 3, 8, 8]);
    const w = m.graph.initializer[0]!;
    expect(w.dims).toEqual([4, 3, 3, 3]);
    expect(tensorValues(w)[107]).toBeCloseTo(107 / 7, 5);
    expect(m.opsetImport).toEqual([{ domain: '', version: 18 }]);
  });

  it('keeps fields it does not model (newer ONNX versions) through a round trip', () => {
    const base = encodeModel(sampleModel()).toBytes();
    // ModelProto field 99 (unknown, length-delimited) and field 26 (a varint from a future schema).
    let bytes = withField(base, 99, 2, Uint8Array.from([3, 0x61, 0x62, 0x63]));
    bytes = withField(bytes, 26, 0, encodeVarint(300));
    const m = decodeModel(bytes);
    expect(m.unknown?.length).toBe(2);
    const again = encodeModel(m).toBytes();
    expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
  });

  it('keeps unknown fields nested inside nodes', () => {
    const model = sampleModel();
    const node = model.graph.node[0]!;
    // NodeProto field 8 (`overload` in newer schemas): a string.
    node.unknown = [Uint8Array.from([0x42, 2, 0x68, 0x69])];
    const m = decodeModel(encodeModel(model).toBytes());
    expect(m.graph.node[0]!.unknown).toEqual([Uint8Array.from([0x42, 2, 0x68, 0x69])]);
  });

  it('preserves INT64 sentinels such as Slice ends = INT64_MAX', () => {
    const model = sampleModel();
    model.graph.node[0]!.attribute.push({ name: 'big', type: 7, ints: [9223372036854775807, -9223372036854775808, -1] });
    const m = decodeModel(encodeModel(model).toBytes());
    const again = encodeModel(m).toBytes();
    const r = new WireReader(again);
    expect(r.done).toBe(false);
    const ints = m.graph.node[0]!.attribute.find((a) => a.name === 'big')!.ints!;
    expect(ints[0]).toBeGreaterThanOrEqual(2 ** 63 - 1);
    expect(ints[1]).toBe(-(2 ** 63));
    expect(ints[2]).toBe(-1);
    expect(Buffer.from(encodeModel(decodeModel(again)).toBytes()).equals(Buffer.from(again))).toBe(true);
  });

  it('rejects truncated data and data that is not a model', () => {
    const bytes = encodeModel(sampleModel()).toBytes();
    expect(() => decodeModel(bytes.subarray(0, bytes.length - 10))).toThrow(ProtobufDecodeError);
    expect(() => decodeModel(new TextEncoder().encode('hello, this is not a model'))).toThrow(ProtobufDecodeError);
  });
});
