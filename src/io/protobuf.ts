/**
 * The protocol-buffers wire format, both sides: writing what an ONNX file needs (varints, 32-bit
 * floats, length-delimited bytes and nested messages), and reading one message's fields, enough
 * to take an encoded message apart, keep most fields byte for byte and replace a few (see
 * export/bioimageio/wrapper.ts). A few dozen lines instead of a protobuf dependency and the
 * generated ONNX schema code that would come with it. Groups (wire types 3, 4) are obsolete and
 * rejected.
 */

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_BYTES = 2;
const WIRE_FIXED32 = 5;

const utf8 = new TextEncoder();

/** Builds one message; nested messages are written by their own writer and added with `message`. */
export class ProtoWriter {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  /** An integer field (int32, int64, enum); negative values take ten bytes, as protobuf specifies. */
  varint(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_BYTES);
    this.rawVarint(value.length);
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  message(field: number, value: ProtoWriter): this {
    return this.bytes(field, value.finish());
  }

  /** A field as readFields returned it, written again unchanged. */
  copy(f: ProtoField): this {
    if (f.wire === WIRE_VARINT) return this.varint(f.field, f.value as bigint);
    if (f.wire === WIRE_BYTES) return this.bytes(f.field, f.value as Uint8Array);
    this.tag(f.field, f.wire);
    this.push(f.value as Uint8Array);
    return this;
  }

  finish(): Uint8Array {
    if (this.parts.length === 1) return this.parts[0]!;
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    this.parts.splice(0, this.parts.length, out);
    return out;
  }

  private tag(field: number, wire: number): void {
    if (!Number.isInteger(field) || field < 1) throw new RangeError(`protobuf field number ${field}`);
    this.rawVarint(field * 8 + wire);
  }

  private rawVarint(value: number | bigint): void {
    if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new RangeError(`protobuf integer ${value}`);
    // Two's complement in 64 bits: a negative int64 is a large unsigned varint.
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.push(Uint8Array.from(out));
  }

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }
}

export interface ProtoField {
  field: number;
  wire: number;
  /** The field's payload: the varint's value, or the bytes of a length-delimited or fixed field. */
  value: bigint | Uint8Array;
}

function readVarint(bytes: Uint8Array, at: number): { value: bigint; next: number } {
  let value = 0n;
  for (let shift = 0n, i = at; i < bytes.length && shift < 70n; i++, shift += 7n) {
    const b = bytes[i]!;
    value |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return { value, next: i + 1 };
  }
  throw new RangeError('protobuf: truncated or overlong varint');
}

/** The fields of one encoded message, in file order. Throws RangeError on malformed input. */
export function readFields(bytes: Uint8Array): ProtoField[] {
  const out: ProtoField[] = [];
  let at = 0;
  while (at < bytes.length) {
    const tag = readVarint(bytes, at);
    const field = Number(tag.value >> 3n);
    const wire = Number(tag.value & 7n);
    at = tag.next;
    if (field < 1) throw new RangeError('protobuf: field number 0');
    let end: number;
    if (wire === WIRE_VARINT) {
      const v = readVarint(bytes, at);
      out.push({ field, wire, value: v.value });
      at = v.next;
      continue;
    } else if (wire === WIRE_BYTES) {
      const len = readVarint(bytes, at);
      at = len.next;
      end = at + Number(len.value);
    } else if (wire === WIRE_FIXED64 || wire === WIRE_FIXED32) {
      end = at + (wire === WIRE_FIXED64 ? 8 : 4);
    } else {
      throw new RangeError(`protobuf: unsupported wire type ${wire}`);
    }
    if (end > bytes.length) throw new RangeError('protobuf: field runs past the end of the message');
    out.push({ field, wire, value: bytes.subarray(at, end) });
    at = end;
  }
  return out;
}

/** The bytes of the first length-delimited field `field`, or undefined. */
export function bytesField(fields: readonly ProtoField[], field: number): Uint8Array | undefined {
  const f = fields.find((x) => x.field === field && x.wire === WIRE_BYTES);
  return f?.value as Uint8Array | undefined;
}
