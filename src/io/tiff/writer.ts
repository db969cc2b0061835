/**
 * TIFF stack encoding on bytes: the file layout, its parts, and TiffEncoder, which builds a whole
 * file in memory as frames arrive (node/tiff-files.ts writes the same parts to a file instead).
 *
 * Layout (the one ImageJ itself writes, so Fiji opens the stack fast and as one block):
 *   header | IFD 0 + its description | pixel data of all frames, back to back | IFDs 1…T-1
 * Every offset follows from the shape, so the header and IFD 0 can be written first, frames as
 * they arrive, and the remaining directories at the end.
 */
import type { Stack, StackArray, StackDType } from '../../data/stack.js';
import { StackError } from '../../errors.js';
import { HOST_LITTLE_ENDIAN } from '../../util/endian.js';
import { swapBytes } from './decode.js';
import { bytesOf, bytesPerSample, dtypeOfArray, FieldType, Tag, tiffFromDtype } from './tags.js';

const CLASSIC_LIMIT = 2 ** 32 - 1;
/** ImageJ 1.x opens these types from a hyperstack description (tifffile's imagej=True allows the same). */
const IMAGEJ_DTYPES: ReadonlySet<StackDType> = new Set<StackDType>(['uint8', 'uint16', 'float32']);

export interface WriteOptions {
  /** BigTIFF: true forces it, false forbids it, 'auto' (default) uses it when the file would exceed 4 GiB. */
  readonly bigTiff?: boolean | 'auto';
  /** Write an ImageJ hyperstack description when the file allows it (classic TIFF, uint8/uint16/float32). Default true. */
  readonly imagej?: boolean;
  /** How ImageJ should label the frames: 'T' (time frames, default) or 'Z' (slices). */
  readonly frameAxis?: 'T' | 'Z';
  /** Software tag (default "srdtrans-ts"). */
  readonly software?: string;
}

/** The byte layout of a stack file, worked out from its shape alone. */
export interface TiffPlan {
  readonly bigTiff: boolean;
  readonly imagej: boolean;
  readonly description: string;
  readonly frameBytes: number;
  /** Offset of frame 0; frame k starts at dataOffset + k × frameBytes. */
  readonly dataOffset: number;
  /** Offset of IFD 1 (IFD k at tailOffset + (k-1) × tailIfdBytes). */
  readonly tailOffset: number;
  readonly tailIfdBytes: number;
  readonly fileBytes: number;
  /** Software tag value ('' for none). */
  readonly software: string;
}

interface IfdEntry {
  readonly tag: number;
  readonly type: number;
  readonly values: readonly number[] | Uint8Array;
}

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

export function q(file: string): string {
  return `"${file.replace(/[\u0000-\u001f]/g, '?')}"`;
}

/** `cause`: the error this one reports, where there is one. */
export function cannotWrite(file: string, what: string, todo: string, cause?: unknown): StackError {
  return new StackError(`Cannot write ${q(file)}: ${what}. ${todo}.`, cause === undefined ? undefined : { cause });
}

function checkShape(file: string, shape: readonly number[]): void {
  if (shape.length !== 3 || !shape.every((n) => Number.isInteger(n) && n >= 1)) {
    throw cannotWrite(file, `the stack shape [${shape.join(', ')}] is not [frames ≥ 1, height ≥ 1, width ≥ 1]`, 'Pass a non-empty stack');
  }
}

function imagejDescription(t: number, axis: 'T' | 'Z'): string {
  if (t === 1) return 'ImageJ=1.11a\n';
  return axis === 'T'
    ? `ImageJ=1.11a\nimages=${t}\nframes=${t}\nhyperstack=true\nloop=false\n`
    : `ImageJ=1.11a\nimages=${t}\nslices=${t}\nloop=false\n`;
}

function pageEntries(plan: { bigTiff: boolean; frameBytes: number }, shape: readonly [number, number, number], dtype: StackDType, dataOffset: number, extra: IfdEntry[]): IfdEntry[] {
  const [, h, w] = shape;
  const { sampleFormat, bits } = tiffFromDtype(dtype);
  const off = plan.bigTiff ? FieldType.LONG8 : FieldType.LONG;
  const entries: IfdEntry[] = [
    { tag: Tag.NewSubfileType, type: FieldType.LONG, values: [0] },
    { tag: Tag.ImageWidth, type: FieldType.LONG, values: [w] },
    { tag: Tag.ImageLength, type: FieldType.LONG, values: [h] },
    { tag: Tag.BitsPerSample, type: FieldType.SHORT, values: [bits] },
    { tag: Tag.Compression, type: FieldType.SHORT, values: [1] },
    { tag: Tag.Photometric, type: FieldType.SHORT, values: [1] },
    { tag: Tag.StripOffsets, type: off, values: [dataOffset] },
    { tag: Tag.SamplesPerPixel, type: FieldType.SHORT, values: [1] },
    { tag: Tag.RowsPerStrip, type: FieldType.LONG, values: [h] },
    { tag: Tag.StripByteCounts, type: off, values: [plan.frameBytes] },
    { tag: Tag.SampleFormat, type: FieldType.SHORT, values: [sampleFormat] },
    ...extra,
  ];
  return entries.sort((a, b) => a.tag - b.tag);
}

const TYPE_SIZE: Record<number, number> = { [FieldType.ASCII]: 1, [FieldType.SHORT]: 2, [FieldType.LONG]: 4, [FieldType.LONG8]: 8 };

/** Bytes of an IFD with its out-of-line values placed right after it. */
function ifdBytes(entries: readonly IfdEntry[], big: boolean): number {
  const inlineMax = big ? 8 : 4;
  let n = (big ? 16 : 6) + entries.length * (big ? 20 : 12);
  for (const e of entries) {
    const size = TYPE_SIZE[e.type]! * e.values.length;
    if (size > inlineMax) n += align(size, 2);
  }
  return n;
}

/** Encodes an IFD at `offset` (little-endian) into `buf`, out-of-line values after it, pointing to `next`. */
function encodeIfd(entries: readonly IfdEntry[], big: boolean, offset: number, next: number, buf: Uint8Array): void {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const u64 = (at: number, x: number): void => v.setBigUint64(at, BigInt(x), true);
  const inlineMax = big ? 8 : 4;
  let p = 0;
  if (big) {
    u64(0, entries.length);
    p = 8;
  } else {
    v.setUint16(0, entries.length, true);
    p = 2;
  }
  let extra = p + entries.length * (big ? 20 : 12) + (big ? 8 : 4);
  const writeValue = (at: number, type: number, x: number): void => {
    switch (type) {
      case FieldType.ASCII: buf[at] = x; break;
      case FieldType.SHORT: v.setUint16(at, x, true); break;
      case FieldType.LONG: v.setUint32(at, x, true); break;
      case FieldType.LONG8: u64(at, x); break;
      default: throw new Error(`field type ${type}`);
    }
  };
  for (const e of entries) {
    v.setUint16(p, e.tag, true);
    v.setUint16(p + 2, e.type, true);
    if (big) u64(p + 4, e.values.length);
    else v.setUint32(p + 4, e.values.length, true);
    const valueField = p + (big ? 12 : 8);
    const size = TYPE_SIZE[e.type]! * e.values.length;
    let at = valueField;
    if (size > inlineMax) {
      at = extra;
      if (big) u64(valueField, offset + extra);
      else v.setUint32(valueField, offset + extra, true);
      extra += align(size, 2);
    }
    const step = TYPE_SIZE[e.type]!;
    for (let i = 0; i < e.values.length; i++) writeValue(at + i * step, e.type, e.values[i]!);
    p += big ? 20 : 12;
  }
  if (big) u64(p, next);
  else v.setUint32(p, next, true);
}

function ascii(s: string): Uint8Array {
  return Uint8Array.from(s.replace(/[^\x20-\x7e\n\r\t]/g, '?') + '\0', (c) => c.charCodeAt(0));
}

/** ImageDescription (and Software) of page 1. */
function firstPageExtras(p: { description: string; software: string }): IfdEntry[] {
  const extra: IfdEntry[] = [{ tag: Tag.ImageDescription, type: FieldType.ASCII, values: ascii(p.description) }];
  if (p.software) extra.push({ tag: Tag.Software, type: FieldType.ASCII, values: ascii(p.software) });
  return extra;
}

/** Works out the file layout for a stack; throws when BigTIFF is forbidden but needed. */
export function planTiff(path: string, shape: readonly [number, number, number], dtype: StackDType, opts: WriteOptions = {}): TiffPlan {
  checkShape(path, shape);
  const make = (bigTiff: boolean): TiffPlan & { first: IfdEntry[] } => {
    const [t, h, w] = shape;
    const frameBytes = h * w * bytesPerSample(dtype);
    const imagej = !bigTiff && (opts.imagej ?? true) && IMAGEJ_DTYPES.has(dtype);
    const description = imagej ? imagejDescription(t, opts.frameAxis ?? 'T') : `{"shape": [${t}, ${h}, ${w}]}`;
    const software = opts.software ?? 'srdtrans-ts';
    const extra = firstPageExtras({ description, software });
    const header = bigTiff ? 16 : 8;
    const plan0 = { bigTiff, frameBytes };
    const first = pageEntries(plan0, shape, dtype, 0, extra);
    const dataOffset = align(header + ifdBytes(first, bigTiff), 16);
    const dataEnd = dataOffset + t * frameBytes;
    const tailOffset = align(dataEnd, 8);
    const tailIfdBytes = ifdBytes(pageEntries(plan0, shape, dtype, 0, []), bigTiff);
    const fileBytes = t > 1 ? tailOffset + (t - 1) * tailIfdBytes : dataEnd;
    return { bigTiff, imagej, description, software, frameBytes, dataOffset, tailOffset, tailIfdBytes, fileBytes, first };
  };
  const want = opts.bigTiff ?? 'auto';
  const classic = make(false);
  const tooBig = classic.fileBytes > CLASSIC_LIMIT || classic.frameBytes > CLASSIC_LIMIT;
  if (want === false && tooBig) {
    throw cannotWrite(path, `the stack needs ${(classic.fileBytes / 2 ** 30).toFixed(2)} GiB, over the 4 GiB limit of classic TIFF`, 'Allow BigTIFF output');
  }
  const { first: _first, ...plan } = want === true || tooBig ? make(true) : classic;
  return plan;
}

/** The header and IFD 0, padded to where frame 0 starts (plan.dataOffset bytes). */
export function tiffHead(plan: TiffPlan, shape: readonly [number, number, number], dtype: StackDType): Uint8Array {
  const { bigTiff: big, dataOffset, tailOffset } = plan;
  const out = new Uint8Array(dataOffset);
  const v = new DataView(out.buffer);
  const headerBytes = big ? 16 : 8;
  out[0] = 0x49; // 'II': little-endian
  out[1] = 0x49;
  if (big) {
    v.setUint16(2, 43, true);
    v.setUint16(4, 8, true);
    v.setUint16(6, 0, true);
    v.setBigUint64(8, BigInt(headerBytes), true);
  } else {
    v.setUint16(2, 42, true);
    v.setUint32(4, headerBytes, true);
  }
  const entries = pageEntries(plan, shape, dtype, dataOffset, firstPageExtras(plan));
  encodeIfd(entries, big, headerBytes, shape[0] > 1 ? tailOffset : 0, out.subarray(headerBytes));
  return out;
}

/**
 * Checks that `data` is whole frames of the stack's dtype that fit after the `written` frames;
 * returns how many frames it holds, or the StackError to throw.
 */
export function checkFrames(file: string, shape: readonly [number, number, number], dtype: StackDType, written: number, data: StackArray): number | StackError {
  const [t, h, w] = shape;
  const px = h * w;
  if (dtypeOfArray(data) !== dtype) {
    return cannotWrite(file, `frames of type ${dtypeOfArray(data) ?? 'unknown'} were given to a ${dtype} stack`, 'Convert the frames to the stack\'s dtype');
  }
  if (data.length === 0 || data.length % px !== 0) {
    return cannotWrite(file, `${data.length} pixels were given, not a whole number of ${h}×${w} frames`, 'Pass whole frames');
  }
  const n = data.length / px;
  if (written + n > t) {
    return cannotWrite(file, `${written + n} frames were given to a stack of ${t} frames`, 'Create the writer with the right number of frames');
  }
  return n;
}

/** Frames as the file stores them (little-endian): their own bytes, or a swapped copy on a big-endian host. */
export function frameBytes(data: StackArray): Uint8Array {
  const bytes = bytesOf(data);
  const size = data.BYTES_PER_ELEMENT;
  if (HOST_LITTLE_ENDIAN || size === 1) return bytes;
  const copy = bytes.slice();
  swapBytes(copy, size);
  return copy;
}

/**
 * IFDs 1…T-1 in pieces of at most 4096 directories: each piece's bytes and the file offset
 * they go to (the first at plan.tailOffset).
 */
export function* tiffTail(plan: TiffPlan, shape: readonly [number, number, number], dtype: StackDType): Generator<{ offset: number; bytes: Uint8Array }> {
  const [t] = shape;
  const { bigTiff: big, tailOffset, tailIfdBytes, dataOffset, frameBytes: fb } = plan;
  const chunk = 4096;
  for (let k0 = 1; k0 < t; k0 += chunk) {
    const k1 = Math.min(t, k0 + chunk);
    const buf = new Uint8Array((k1 - k0) * tailIfdBytes);
    for (let k = k0; k < k1; k++) {
      const at = tailOffset + (k - 1) * tailIfdBytes;
      const entries = pageEntries(plan, shape, dtype, dataOffset + k * fb, []);
      encodeIfd(entries, big, at, k + 1 < t ? at + tailIfdBytes : 0, buf.subarray((k - k0) * tailIfdBytes, (k - k0 + 1) * tailIfdBytes));
    }
    yield { offset: tailOffset + (k0 - 1) * tailIfdBytes, bytes: buf };
  }
}

/** Puts `bytes` at `offset` of a file (an array in memory, a browser's sync access handle). */
export type WriteAt = (bytes: Uint8Array, offset: number) => void;

/**
 * A TIFF file written part by part as frames arrive (a FrameSink for denoiseStack), to wherever
 * `writeAt` puts bytes: the header first, each frame at its place, the directories at `finish`.
 * `name` is what messages call the file.
 */
export class TiffStreamEncoder {
  readonly plan: TiffPlan;
  private written = 0;

  constructor(
    readonly name: string,
    readonly shape: readonly [t: number, h: number, w: number],
    readonly dtype: StackDType,
    private readonly writeAt: WriteAt,
    opts: WriteOptions = {},
  ) {
    this.plan = planTiff(name, shape, dtype, opts);
    writeAt(tiffHead(this.plan, shape, dtype), 0);
  }

  /** Appends whole frames of the stack's dtype. */
  writeFrames(data: StackArray): void {
    const n = checkFrames(this.name, this.shape, this.dtype, this.written, data);
    if (n instanceof StackError) throw n;
    this.writeAt(frameBytes(data), this.plan.dataOffset + this.written * this.plan.frameBytes);
    this.written += n;
  }

  /** Writes the directories once every frame has been written; the file is then complete. */
  finish(): void {
    const [t] = this.shape;
    if (this.written !== t) throw cannotWrite(this.name, `only ${this.written} of ${t} frames were written`, 'Write every frame first');
    for (const { offset, bytes } of tiffTail(this.plan, this.shape, this.dtype)) this.writeAt(bytes, offset);
  }
}

/**
 * A TIFF file built in memory as frames arrive (a FrameSink for denoiseStack): the browser's
 * way to a downloadable stack. `name` is what messages call the file.
 */
export class TiffEncoder {
  private readonly file: Uint8Array;
  private readonly stream: TiffStreamEncoder;

  constructor(name: string, shape: readonly [t: number, h: number, w: number], dtype: StackDType, opts: WriteOptions = {}) {
    const file = new Uint8Array(planTiff(name, shape, dtype, opts).fileBytes);
    this.stream = new TiffStreamEncoder(name, shape, dtype, (bytes, offset) => file.set(bytes, offset), opts);
    this.file = file;
  }

  /** Appends whole frames of the stack's dtype. */
  writeFrames(data: StackArray): void {
    this.stream.writeFrames(data);
  }

  /** The whole file, once every frame has been written. */
  bytes(): Uint8Array {
    this.stream.finish();
    return this.file;
  }
}

/** A whole stack as TIFF file bytes. */
export function encodeTiff(stack: Stack, opts: WriteOptions = {}, name = 'stack.tif'): Uint8Array {
  const encoder = new TiffEncoder(name, stack.shape, stack.dtype, opts);
  encoder.writeFrames(stack.data);
  return encoder.bytes();
}
