/** TIFF tag numbers, field types and pixel-type mapping shared by the reader and the writer. */
import type { StackArray, StackDType } from '../../data/stack.js';

export const Tag = {
  NewSubfileType: 254,
  ImageWidth: 256,
  ImageLength: 257,
  BitsPerSample: 258,
  Compression: 259,
  Photometric: 262,
  FillOrder: 266,
  ImageDescription: 270,
  StripOffsets: 273,
  SamplesPerPixel: 277,
  RowsPerStrip: 278,
  StripByteCounts: 279,
  PlanarConfiguration: 284,
  Software: 305,
  Predictor: 317,
  TileWidth: 322,
  TileLength: 323,
  TileOffsets: 324,
  TileByteCounts: 325,
  SampleFormat: 339,
} as const;

/** TIFF field types: id → byte size of one value. */
export const FieldType = {
  BYTE: 1,
  ASCII: 2,
  SHORT: 3,
  LONG: 4,
  RATIONAL: 5,
  SBYTE: 6,
  UNDEFINED: 7,
  SSHORT: 8,
  SLONG: 9,
  SRATIONAL: 10,
  FLOAT: 11,
  DOUBLE: 12,
  IFD: 13,
  LONG8: 16,
  SLONG8: 17,
  IFD8: 18,
} as const;

export const FIELD_SIZE: Readonly<Record<number, number>> = {
  1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8,
};

export const Compression = {
  None: 1,
  LZW: 5,
  Deflate: 8,
  AdobeDeflate: 32946,
  PackBits: 32773,
  Zstd: 50000,
} as const;

export const COMPRESSION_NAMES: Readonly<Record<number, string>> = {
  1: 'none', 2: 'CCITT RLE', 3: 'CCITT fax 3', 4: 'CCITT fax 4', 5: 'LZW', 6: 'old JPEG', 7: 'JPEG',
  8: 'deflate', 32946: 'deflate', 32773: 'PackBits', 34712: 'JPEG 2000', 34887: 'LERC', 34925: 'LZMA',
  50000: 'zstd', 50001: 'WebP', 50002: 'JPEG XL',
};

export function compressionName(code: number): string {
  return COMPRESSION_NAMES[code] ?? `code ${code}`;
}

/** SampleFormat (1 unsigned, 2 signed, 3 float) × BitsPerSample → our dtype, or null if unsupported. */
export function dtypeFromTiff(sampleFormat: number, bits: number): StackDType | null {
  if (sampleFormat === 1 && bits === 8) return 'uint8';
  if (sampleFormat === 1 && bits === 16) return 'uint16';
  if (sampleFormat === 2 && bits === 16) return 'int16';
  if (sampleFormat === 1 && bits === 32) return 'uint32';
  if (sampleFormat === 2 && bits === 32) return 'int32';
  if (sampleFormat === 3 && bits === 32) return 'float32';
  return null;
}

export function tiffFromDtype(dtype: StackDType): { sampleFormat: number; bits: number } {
  switch (dtype) {
    case 'uint8': return { sampleFormat: 1, bits: 8 };
    case 'uint16': return { sampleFormat: 1, bits: 16 };
    case 'int16': return { sampleFormat: 2, bits: 16 };
    case 'uint32': return { sampleFormat: 1, bits: 32 };
    case 'int32': return { sampleFormat: 2, bits: 32 };
    case 'float32': return { sampleFormat: 3, bits: 32 };
  }
}

export function bytesPerSample(dtype: StackDType): number {
  switch (dtype) {
    case 'uint8': return 1;
    case 'uint16': case 'int16': return 2;
    case 'uint32': case 'int32': case 'float32': return 4;
  }
}

/** The dtype a typed array holds, or null for a type stacks never use. */
export function dtypeOfArray(a: ArrayBufferView): StackDType | null {
  if (a instanceof Uint8Array) return 'uint8';
  if (a instanceof Uint16Array) return 'uint16';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Uint32Array) return 'uint32';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Float32Array) return 'float32';
  return null;
}

/** The bytes of a typed array, without copying. */
export function bytesOf(a: StackArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Human wording of a pixel type a user sees in Fiji. */
export function describePixelType(sampleFormat: number, bits: number): string {
  const kind = sampleFormat === 2 ? 'signed integer' : sampleFormat === 3 ? 'floating point' : 'unsigned integer';
  return `${bits}-bit ${kind}`;
}
