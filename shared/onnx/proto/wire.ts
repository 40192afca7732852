/**
 * Protocol-buffer wire format: the four encodings ONNX files use (varint, fixed32, fixed64,
 * length-delimited). Reading keeps byte positions so callers can locate large payloads inside
 * the file, and writing builds a rope of chunks so big tensors are never copied.
 */

export const WireType = { Varint: 0, Fixed64: 1, LengthDelimited: 2, Fixed32: 5 } as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

export class ProtobufDecodeError extends Error {
  override name = 'ProtobufDecodeError';
}

export class WireReader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) {
      throw new ProtobufDecodeError(
        `unexpected end of data at byte ${this.pos} (needed ${n} more bytes, message ends at ${this.end})`,
      );
    }
  }

  /** Varint as a JS number; values beyond 2^53 round to the nearest double (ONNX uses them only as sentinels). */
  varint(): number {
    let result = 0;
    let scale = 1;
    const start = this.pos;
    for (let i = 0; i < 10; i++) {
      this.need(1);
      const byte = this.buf[this.pos++]!;
      if (i === 6 && byte >= 0x80) return this.longVarint(start);
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
    throw new ProtobufDecodeError(`malformed varint at byte ${start}`);
  }

  /** Varints of 9-10 bytes (large or negative int64) decoded exactly, then rounded once. */
  private longVarint(start: number): number {
    this.pos = start;
    let v = 0n;
    for (let i = 0; i < 10; i++) {
      this.need(1);
      const byte = this.buf[this.pos++]!;
      v |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if (byte < 0x80) return Number(BigInt.asIntN(64, v));
    }
    throw new ProtobufDecodeError(`malformed varint at byte ${start}`);
  }

  tag(): { field: number; wire: number } {
    const key = this.varint();
    const field = Math.floor(key / 8);
    if (field === 0) throw new ProtobufDecodeError(`invalid field number 0 at byte ${this.pos}`);
    return { field, wire: key & 7 };
  }

  /** Returns [start, end) of a length-delimited payload and advances past it. */
  span(): [number, number] {
    const len = this.varint();
    if (len < 0) throw new ProtobufDecodeError(`negative length at byte ${this.pos}`);
    this.need(len);
    const start = this.pos;
    this.pos += len;
    return [start, this.pos];
  }

  bytes(): Uint8Array {
    const [s, e] = this.span();
    return this.buf.subarray(s, e);
  }

  string(): string {
    return textDecoder.decode(this.bytes());
  }

  float32(): number {
    this.need(4);
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  float64(): number {
    this.need(8);
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
    this.pos += 8;
    return v;
  }

  /** Skips one field of the given wire type; returns the raw bytes of the whole field (tag included). */
  skip(wire: number, tagStart: number): Uint8Array {
    switch (wire) {
      case WireType.Varint:
        this.varint();
        break;
      case WireType.Fixed64:
        this.need(8);
        this.pos += 8;
        break;
      case WireType.LengthDelimited:
        this.span();
        break;
      case WireType.Fixed32:
        this.need(4);
        this.pos += 4;
        break;
      default:
        throw new ProtobufDecodeError(`unsupported wire type ${wire} at byte ${tagStart}`);
    }
    return this.buf.subarray(tagStart, this.pos);
  }

  /** Repeated numeric field: accepts both packed and unpacked encodings. */
  repeated(wire: number, one: (r: WireReader) => number, out: number[]): void {
    if (wire === WireType.LengthDelimited) {
      const [s, e] = this.span();
      const sub = new WireReader(this.buf, s, e);
      while (!sub.done) out.push(one(sub));
    } else {
      out.push(one(this));
    }
  }
}

const textDecoder = new TextDecoder('utf-8', { fatal: false });
const textEncoder = new TextEncoder();

/** A sequence of byte chunks; nested messages append their chunks rather than copying them. */
export class Rope {
  readonly chunks: Uint8Array[] = [];
  length = 0;

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  append(other: Rope): void {
    for (const c of other.chunks) this.chunks.push(c);
    this.length += other.length;
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}

const INT64_MAX = 2 ** 63 - 1;
const INT64_MIN = -(2 ** 63);

export function encodeVarint(value: number): Uint8Array {
  if (!Number.isFinite(value)) throw new RangeError(`cannot encode ${value} as a varint`);
  // Clamp to int64: sentinels such as Slice's INT64_MAX round to 2^63 as JS numbers.
  let v = BigInt(Math.trunc(Math.min(Math.max(value, INT64_MIN), INT64_MAX)));
  if (value >= INT64_MAX) v = 2n ** 63n - 1n;
  if (v < 0n) v += 2n ** 64n;
  const bytes: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (v > 0n);
  return Uint8Array.from(bytes);
}

export class WireWriter {
  readonly rope = new Rope();

  private tag(field: number, wire: number): void {
    this.rope.push(encodeVarint(field * 8 + wire));
  }

  varint(field: number, value: number): void {
    this.tag(field, WireType.Varint);
    this.rope.push(encodeVarint(value));
  }

  bytes(field: number, value: Uint8Array): void {
    this.tag(field, WireType.LengthDelimited);
    this.rope.push(encodeVarint(value.length));
    this.rope.push(value);
  }

  string(field: number, value: string): void {
    this.bytes(field, textEncoder.encode(value));
  }

  message(field: number, sub: Rope): void {
    this.tag(field, WireType.LengthDelimited);
    this.rope.push(encodeVarint(sub.length));
    this.rope.append(sub);
  }

  float32(field: number, value: number): void {
    this.tag(field, WireType.Fixed32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.rope.push(b);
  }

  packedFloat32(field: number, values: readonly number[]): void {
    const b = new Uint8Array(values.length * 4);
    const dv = new DataView(b.buffer);
    values.forEach((v, i) => dv.setFloat32(i * 4, v, true));
    this.bytes(field, b);
  }

  packedFloat64(field: number, values: readonly number[]): void {
    const b = new Uint8Array(values.length * 8);
    const dv = new DataView(b.buffer);
    values.forEach((v, i) => dv.setFloat64(i * 8, v, true));
    this.bytes(field, b);
  }

  packedVarint(field: number, values: readonly number[]): void {
    const sub = new Rope();
    for (const v of values) sub.push(encodeVarint(v));
    this.message(field, sub);
  }

  /** Re-emits a field kept verbatim from decoding (tag included). */
  raw(fieldBytes: Uint8Array): void {
    this.rope.push(fieldBytes);
  }
}
