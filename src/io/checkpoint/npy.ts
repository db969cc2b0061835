/**
 * NumPy's .npy format, version 1.0, writing side: the magic string, a little-endian header
 * length, a Python-literal header dict padded to a 64-byte boundary, then the raw C-order data.
 * BioImage Model Zoo packages carry their test tensors in it.
 */

export type NpyArray = Float32Array | Uint16Array;

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const PREAMBLE = MAGIC.length + 4; // magic, version (2 bytes), header length (uint16)

function descr(data: NpyArray): string {
  return data instanceof Float32Array ? '<f4' : '<u2';
}

export function encodeNpy(data: NpyArray, shape: readonly number[]): Uint8Array {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw new RangeError(`npy shape (${shape.join(', ')}) must be whole numbers`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`npy shape (${shape.join(', ')}) holds ${count} values, the data ${data.length}`);
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '${descr(data)}', 'fortran_order': False, 'shape': (${dims}), }`;
  // Spaces then a newline so that the data starts on a multiple of 64 bytes, as NumPy writes it.
  header += ' '.repeat(63 - ((PREAMBLE + header.length) % 64)) + '\n';
  if (header.length > 0xffff) throw new RangeError('npy header too long for format version 1.0');
  const out = new Uint8Array(PREAMBLE + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[PREAMBLE + i] = header.charCodeAt(i);
  // Typed arrays are little-endian on every platform Node supports.
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), PREAMBLE + header.length);
  return out;
}
