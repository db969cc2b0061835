/**
 * The protocol-buffers wire format, reading side, at the level of one message's fields: enough
 * to take an encoded message apart, keep most fields byte for byte and replace a few (see
 * bioimageio-graph.ts). Groups (wire types 3, 4) are obsolete and rejected.
 */

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
    if (wire === 0) {
      const v = readVarint(bytes, at);
      out.push({ field, wire, value: v.value });
      at = v.next;
      continue;
    } else if (wire === 2) {
      const len = readVarint(bytes, at);
      at = len.next;
      end = at + Number(len.value);
    } else if (wire === 1 || wire === 5) {
      end = at + (wire === 1 ? 8 : 4);
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
  const f = fields.find((x) => x.field === field && x.wire === 2);
  return f?.value as Uint8Array | undefined;
}
