/**
 * ONNX ModelProto <-> bytes. Field numbers follow onnx.proto as of ONNX 1.19 (IR version 11);
 * anything else is carried through untouched in `unknown`, so files from newer ONNX versions
 * survive a round trip.
 */
import { ProtobufDecodeError, Rope, WireReader, WireType, WireWriter } from './wire.ts';
import type {
  AttributeProto,
  Dimension,
  GraphProto,
  ModelProto,
  NodeProto,
  OperatorSetId,
  StringStringEntry,
  TensorProto,
  TensorTypeProto,
  TypeProto,
  ValueInfoProto,
} from './types.ts';

type FieldHandler = (r: WireReader, wire: number) => void;

/** Decodes the message in r.buf[start, end), calling handle for each modelled field. */
function decodeFields(
  r: WireReader,
  end: number,
  handlers: Record<number, FieldHandler>,
  unknown: Uint8Array[],
): void {
  const sub = new WireReader(r.buf, r.pos, end);
  while (!sub.done) {
    const tagStart = sub.pos;
    const { field, wire } = sub.tag();
    const h = handlers[field];
    if (h) h(sub, wire);
    else unknown.push(sub.skip(wire, tagStart));
  }
  r.pos = end;
}

function nested<T>(r: WireReader, decode: (r: WireReader, end: number) => T): T {
  const [s, e] = r.span();
  const sub = new WireReader(r.buf, s, e);
  return decode(sub, e);
}

function keepUnknown<T extends { unknown?: Uint8Array[] }>(msg: T, unknown: Uint8Array[]): T {
  if (unknown.length > 0) msg.unknown = unknown;
  return msg;
}

function expectWire(wire: number, expected: number, what: string): void {
  if (wire !== expected) throw new ProtobufDecodeError(`${what}: wire type ${wire}, expected ${expected}`);
}

const f32 = (r: WireReader) => r.float32();
const f64 = (r: WireReader) => r.float64();
const vint = (r: WireReader) => r.varint();

function decodeEntry(r: WireReader, end: number): StringStringEntry {
  const m: StringStringEntry = { key: '', value: '' };
  const unknown: Uint8Array[] = [];
  decodeFields(r, end, { 1: (x) => (m.key = x.string()), 2: (x) => (m.value = x.string()) }, unknown);
  return keepUnknown(m, unknown);
}

function decodeTensor(r: WireReader, end: number): TensorProto {
  const m: TensorProto = { dims: [], dataType: 0, name: '' };
  const unknown: Uint8Array[] = [];
  decodeFields(
    r,
    end,
    {
      1: (x, w) => x.repeated(w, vint, m.dims),
      2: (x) => (m.dataType = x.varint()),
      4: (x, w) => x.repeated(w, f32, (m.floatData ??= [])),
      5: (x, w) => x.repeated(w, vint, (m.int32Data ??= [])),
      6: (x) => (m.stringData ??= []).push(x.bytes()),
      7: (x, w) => x.repeated(w, vint, (m.int64Data ??= [])),
      8: (x) => (m.name = x.string()),
      9: (x) => {
        const [s, e] = x.span();
        m.rawData = x.buf.subarray(s, e);
        m.rawDataFileOffset = s;
      },
      10: (x, w) => x.repeated(w, f64, (m.doubleData ??= [])),
      11: (x, w) => x.repeated(w, vint, (m.uint64Data ??= [])),
      12: (x) => (m.docString = x.string()),
      13: (x) => (m.externalData ??= []).push(nested(x, decodeEntry)),
      14: (x) => (m.dataLocation = x.varint()),
    },
    unknown,
  );
  return keepUnknown(m, unknown);
}

function decodeDimension(r: WireReader, end: number): Dimension {
  const m: Dimension = {};
  const unknown: Uint8Array[] = [];
  decodeFields(r, end, { 1: (x) => (m.dimValue = x.varint()), 2: (x) => (m.dimParam = x.string()) }, unknown);
  return keepUnknown(m, unknown);
}

function decodeShape(r: WireReader, end: number): Dimension[] {
  const dims: Dimension[] = [];
  const unknown: Uint8Array[] = [];
  decodeFields(r, end, { 1: (x) => dims.push(nested(x, decodeDimension)) }, unknown);
  if (unknown.length > 0) throw new ProtobufDecodeError('TensorShapeProto: unexpected fields');
  return dims;
}

function decodeTensorType(r: WireReader, end: number): TensorTypeProto {
  const m: TensorTypeProto = { elemType: 0 };
  const unknown: Uint8Array[] = [];
  decodeFields(r, end, { 1: (x) => (m.elemType = x.varint()), 2: (x) => (m.shape = nested(x, decodeShape)) }, unknown);
  return keepUnknown(m, unknown);
}

function decodeType(r: WireReader, end: number): TypeProto {
  const m: TypeProto = {};
  const unknown: Uint8Array[] = [];
  decodeFields(
    r,
    end,
    { 1: (x) => (m.tensorType = nested(x, decodeTensorType)), 6: (x) => (m.denotation = x.string()) },
    unknown,
  );
  return keepUnknown(m, unknown);
}

function decodeValueInfo(r: WireReader, end: number): ValueInfoProto {
  const m: ValueInfoProto = { name: '' };
  const unknown: Uint8Array[] = [];
  decodeFields(
    r,
    end,
    {
      1: (x) => (m.name = x.string()),
      2: (x) => (m.type = nested(x, decodeType)),
      3: (x) => (m.docString = x.string()),
    },
    unknown,
  );
  return keepUnknown(m, unknown);
}

function decodeAttribute(r: WireReader, end: number): AttributeProto {
  const m: AttributeProto = { name: '', type: 0 };
  const unknown: Uint8Array[] = [];
  decodeFields(
    r,
    end,
    {
      1: (x) => (m.name = x.string()),
      2: (x, w) => {
        expectWire(w, WireType.Fixed32, 'AttributeProto.f');
        m.f = x.float32();
      },
      3: (x) => (m.i = x.varint()),
      4: (x) => (m.s = x.bytes()),
      5: (x) => (m.t = nested(x, decodeTensor)),
      6: (x) => (m.g = nested(x, decodeGraph)),
      7: (x, w) => x.repeated(w, f32, (m.floats ??= [])),
      8: (x, w) => x.repeated(w, vint, (m.ints ??= [])),
      9: (x) => (m.strings ??= []).push(x.bytes()),
      10: (x) => (m.tensors ??= []).push(nested(x, decodeTensor)),
      11: (x) => (m.graphs ??= []).push(nested(x, decodeGraph)),
      13: (x) => (m.docString = x.string()),
      20: (x) => (m.type = x.varint()),
      21: (x) => (m.refAttrName = x.string()),
    },
    unknown,
  );
  return keepUnknown(m, unknown);
}

function decodeNode(r: WireReader, end: number): NodeProto {
  const m: NodeProto = { input: [], output: [], name: '', opType: '', domain: '', attribute: [] };
  const unknown: Uint8Array[] = [];
  decodeFields(
    r,
    end,
    {
      1: (x) => m.input.push(x.string()),
      2: (x) => m.output.push(x.string()),
      3: (x) => (m.name = x.string()),
      4: (x) => (m.opType = x.string()),
      5: (x) => m.attribute.push(nested(x, decodeAttribute)),
      6: (x) => (m.docString = x.string()),
      7: (x) => (m.domain = x.string()),
    },
    unknown,
  );
  return keepUnknown(m, unknown);
}

function decodeGraph(r: WireReader, end: number): GraphProto {
  const m: GraphProto = { node: [], name: '', initializer: [], input: [], output: [], valueInfo: [] };
  const unknown: Uint8Array[] = [];
  decodeFields(
    r,
    end,
    {
      1: (x) => m.node.push(nested(x, decodeNode)),
      2: (x) => (m.name = x.string()),
      5: (x) => m.initializer.push(nested(x, decodeTensor)),
      10: (x) => (m.docString = x.string()),
      11: (x) => m.input.push(nested(x, decodeValueInfo)),
      12: (x) => m.output.push(nested(x, decodeValueInfo)),
      13: (x) => m.valueInfo.push(nested(x, decodeValueInfo)),
    },
    unknown,
  );
  return keepUnknown(m, unknown);
}

function decodeOpset(r: WireReader, end: number): OperatorSetId {
  const m: OperatorSetId = { domain: '', version: 0 };
  const unknown: Uint8Array[] = [];
  decodeFields(r, end, { 1: (x) => (m.domain = x.string()), 2: (x) => (m.version = x.varint()) }, unknown);
  return keepUnknown(m, unknown);
}

/** Decodes a serialized ModelProto. Tensor payloads are views into `bytes`, not copies. */
export function decodeModel(bytes: Uint8Array): ModelProto {
  const r = new WireReader(bytes);
  let graph: GraphProto | undefined;
  const m: Omit<ModelProto, 'graph'> = { irVersion: 0, opsetImport: [], metadataProps: [] };
  const unknown: Uint8Array[] = [];
  decodeFields(
    r,
    bytes.length,
    {
      1: (x) => (m.irVersion = x.varint()),
      2: (x) => (m.producerName = x.string()),
      3: (x) => (m.producerVersion = x.string()),
      4: (x) => (m.domain = x.string()),
      5: (x) => (m.modelVersion = x.varint()),
      6: (x) => (m.docString = x.string()),
      7: (x) => (graph = nested(x, decodeGraph)),
      8: (x) => m.opsetImport.push(nested(x, decodeOpset)),
      14: (x) => m.metadataProps.push(nested(x, decodeEntry)),
    },
    unknown,
  );
  if (!graph) throw new ProtobufDecodeError('no graph (ModelProto field 7) found');
  if (m.irVersion <= 0) throw new ProtobufDecodeError('no ir_version (ModelProto field 1) found');
  return keepUnknown({ ...m, graph }, unknown);
}

// ---------------------------------------------------------------- encoding

function emitUnknown(w: WireWriter, msg: { unknown?: Uint8Array[] }): void {
  for (const u of msg.unknown ?? []) w.raw(u);
}

function encodeEntry(m: StringStringEntry): Rope {
  const w = new WireWriter();
  w.string(1, m.key);
  w.string(2, m.value);
  emitUnknown(w, m);
  return w.rope;
}

export function encodeTensor(m: TensorProto): Rope {
  const w = new WireWriter();
  for (const d of m.dims) w.varint(1, d);
  w.varint(2, m.dataType);
  if (m.floatData?.length) w.packedFloat32(4, m.floatData);
  if (m.int32Data?.length) w.packedVarint(5, m.int32Data);
  for (const s of m.stringData ?? []) w.bytes(6, s);
  if (m.int64Data?.length) w.packedVarint(7, m.int64Data);
  if (m.name) w.string(8, m.name);
  if (m.rawData) w.bytes(9, m.rawData);
  if (m.doubleData?.length) w.packedFloat64(10, m.doubleData);
  if (m.uint64Data?.length) w.packedVarint(11, m.uint64Data);
  if (m.docString) w.string(12, m.docString);
  for (const e of m.externalData ?? []) w.message(13, encodeEntry(e));
  if (m.dataLocation) w.varint(14, m.dataLocation);
  emitUnknown(w, m);
  return w.rope;
}

function encodeType(m: TypeProto): Rope {
  const w = new WireWriter();
  if (m.tensorType) {
    const t = new WireWriter();
    t.varint(1, m.tensorType.elemType);
    if (m.tensorType.shape) {
      const s = new WireWriter();
      for (const d of m.tensorType.shape) {
        const dw = new WireWriter();
        if (d.dimValue !== undefined) dw.varint(1, d.dimValue);
        if (d.dimParam !== undefined) dw.string(2, d.dimParam);
        emitUnknown(dw, d);
        s.message(1, dw.rope);
      }
      t.message(2, s.rope);
    }
    emitUnknown(t, m.tensorType);
    w.message(1, t.rope);
  }
  if (m.denotation) w.string(6, m.denotation);
  emitUnknown(w, m);
  return w.rope;
}

function encodeValueInfo(m: ValueInfoProto): Rope {
  const w = new WireWriter();
  w.string(1, m.name);
  if (m.type) w.message(2, encodeType(m.type));
  if (m.docString) w.string(3, m.docString);
  emitUnknown(w, m);
  return w.rope;
}

function encodeAttribute(m: AttributeProto): Rope {
  const w = new WireWriter();
  w.string(1, m.name);
  if (m.f !== undefined) w.float32(2, m.f);
  if (m.i !== undefined) w.varint(3, m.i);
  if (m.s !== undefined) w.bytes(4, m.s);
  if (m.t) w.message(5, encodeTensor(m.t));
  if (m.g) w.message(6, encodeGraph(m.g));
  for (const v of m.floats ?? []) w.float32(7, v);
  for (const v of m.ints ?? []) w.varint(8, v);
  for (const v of m.strings ?? []) w.bytes(9, v);
  for (const v of m.tensors ?? []) w.message(10, encodeTensor(v));
  for (const v of m.graphs ?? []) w.message(11, encodeGraph(v));
  if (m.docString) w.string(13, m.docString);
  w.varint(20, m.type);
  if (m.refAttrName) w.string(21, m.refAttrName);
  emitUnknown(w, m);
  return w.rope;
}

function encodeNode(m: NodeProto): Rope {
  const w = new WireWriter();
  for (const s of m.input) w.string(1, s);
  for (const s of m.output) w.string(2, s);
  if (m.name) w.string(3, m.name);
  w.string(4, m.opType);
  for (const a of m.attribute) w.message(5, encodeAttribute(a));
  if (m.docString) w.string(6, m.docString);
  if (m.domain) w.string(7, m.domain);
  emitUnknown(w, m);
  return w.rope;
}

function encodeGraph(m: GraphProto): Rope {
  const w = new WireWriter();
  for (const n of m.node) w.message(1, encodeNode(n));
  if (m.name) w.string(2, m.name);
  for (const t of m.initializer) w.message(5, encodeTensor(t));
  if (m.docString) w.string(10, m.docString);
  for (const v of m.input) w.message(11, encodeValueInfo(v));
  for (const v of m.output) w.message(12, encodeValueInfo(v));
  for (const v of m.valueInfo) w.message(13, encodeValueInfo(v));
  emitUnknown(w, m);
  return w.rope;
}

/** Encodes a ModelProto as a rope of chunks (tensor payloads are referenced, not copied). */
export function encodeModel(m: ModelProto): Rope {
  const w = new WireWriter();
  w.varint(1, m.irVersion);
  if (m.producerName) w.string(2, m.producerName);
  if (m.producerVersion) w.string(3, m.producerVersion);
  if (m.domain) w.string(4, m.domain);
  if (m.modelVersion) w.varint(5, m.modelVersion);
  if (m.docString) w.string(6, m.docString);
  w.message(7, encodeGraph(m.graph));
  for (const o of m.opsetImport) {
    const ow = new WireWriter();
    if (o.domain) ow.string(1, o.domain);
    ow.varint(2, o.version);
    emitUnknown(ow, o);
    w.message(8, ow.rope);
  }
  for (const e of m.metadataProps) w.message(14, encodeEntry(e));
  emitUnknown(w, m);
  return w.rope;
}
