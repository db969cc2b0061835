/**
 * Streaming reader for grayscale TIFF stacks on any ByteSource: classic TIFF and BigTIFF, either
 * byte order, strips or tiles, uncompressed / LZW / PackBits (own decoders), deflate (fflate, or
 * the inflate a caller passes: Node's file reader passes node:zlib's) and zstd (fzstd).
 *
 * `TiffStackReader.open` walks the page directories only; pixels are read on demand with
 * `readFrames(start, count)`. Uncompressed pages stored back to back are read with one positional
 * read straight into the output array (byte-swapped in place for big-endian files).
 */
import { makeStackArray, type Stack, type StackArray, type StackDType, type StackFileInfo } from '../../data/stack.js';
import { StackError } from '../../errors.js';
import {
  channelPages, imagejLayout, omeLayout, parseImageJDescription, parseOmeDescription, plainLayout,
  type PageLayout, type TiffFormat,
} from './axes.js';
import {
  DecodeError, deflateDecode, lzwDecode, packBitsDecode, swapBytes, undoFloatPredictor, undoHorizontalPredictor, zstdDecode,
  type ZlibInflate,
} from './decode.js';
import { readFully, type ByteSource } from '../source.js';
import { HOST_LITTLE_ENDIAN } from '../../util/endian.js';
import {
  bytesOf, bytesPerSample, Compression, compressionName, describePixelType, dtypeFromTiff, dtypeOfArray, FIELD_SIZE,
  FieldType, Tag,
} from './tags.js';

const META_BLOCK = 64 * 1024;
const MAX_READ = 1 << 30;
const SUPPORTED_COMPRESSION = new Set<number>([
  Compression.None, Compression.LZW, Compression.Deflate, Compression.AdobeDeflate, Compression.PackBits, Compression.Zstd,
]);

export interface ReadOptions {
  /** For multi-channel files: the channel (0-based) whose frames to read. */
  readonly channel?: number;
  /** The zlib inflate for deflate pages (default fflate's, which runs anywhere). */
  readonly inflate?: ZlibInflate;
}

export interface TiffStackInfo extends StackFileInfo {
  /** Where the axes came from. */
  readonly format: TiffFormat;
  /** Image pages in the file (for ImageJ "raw" files over 4 GB: the images its metadata lists). */
  readonly pages: number;
  readonly bigTiff: boolean;
  readonly littleEndian: boolean;
  /** Compression of the first page ("none", "LZW", "deflate", …). */
  readonly compression: string;
}

/** A whole stack plus what the file said about it. */
export interface TiffStack extends Stack {
  readonly axes: string;
  readonly info: TiffStackInfo;
}

// ---------------------------------------------------------------------------------------------
// Messages

function q(file: string): string {
  return `"${file.replace(/[\u0000-\u001f]/g, '?')}"`;
}

/** `cause`: the error this one reports, where there is one. */
export function cannotRead(file: string, what: string, todo: string, cause?: unknown): StackError {
  return new StackError(`Cannot read ${q(file)}: ${what}. ${todo}.`, cause === undefined ? undefined : { cause });
}

const RECOPY = 'The file is incomplete or damaged; copy or export it again';

function truncated(file: string, what: string, fileSize: number): StackError {
  return cannotRead(file, `the file is truncated (${what}, but the file ends at byte ${fileSize})`, RECOPY);
}

function corrupt(file: string, what: string, cause?: unknown): StackError {
  return cannotRead(file, `the TIFF structure is damaged (${what})`, RECOPY, cause);
}

/** A file-system failure (an error with a system `code`) as a message a user can act on. */
export function fsError(file: string, err: unknown): StackError {
  const code = errorCode(err);
  switch (code) {
    case 'ENOENT': return cannotRead(file, 'the file does not exist', 'Check the path', err);
    case 'EACCES': case 'EPERM': return cannotRead(file, 'permission denied', 'Check the file\'s permissions', err);
    case 'EISDIR': return cannotRead(file, 'it is a folder, not a TIFF file', 'Pass a .tif file', err);
    case 'ENOTDIR': return cannotRead(file, 'a part of the path is not a folder', 'Check the path', err);
    case 'EMFILE': case 'ENFILE': return cannotRead(file, 'too many open files', 'Close other programs or raise the open-file limit', err);
    default: return cannotRead(file, `the file system reported ${code ?? 'an I/O error'}`, 'Check that the disk or network share is available', err);
  }
}

export function errorCode(err: unknown): string | undefined {
  return (err as { code?: string } | undefined)?.code;
}

function latin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

function sniff(head: Uint8Array): string {
  const b = (i: number): number => head[i] ?? -1;
  const ascii = latin1(head.subarray(0, 16));
  if (b(0) === 0x89 && ascii.startsWith('\x89PNG')) return 'it looks like a PNG image';
  if (b(0) === 0xff && b(1) === 0xd8) return 'it looks like a JPEG image';
  if (ascii.startsWith('PK\x03\x04')) return 'it looks like a ZIP archive';
  if (ascii.startsWith('\x89HDF')) return 'it looks like an HDF5 file';
  if (ascii.startsWith('\x93NUMPY')) return 'it looks like a NumPy .npy file';
  if (ascii.startsWith('GIF8')) return 'it looks like a GIF image';
  if (ascii.startsWith('BM')) return 'it looks like a BMP image';
  if (ascii.startsWith('<')) return 'it looks like a text (XML/HTML) file';
  const hex = [...head.subarray(0, 4)].map((x) => x.toString(16).padStart(2, '0')).join(' ');
  return `its first bytes are ${hex}, not a TIFF header`;
}

// ---------------------------------------------------------------------------------------------
// Page directories

interface Entry {
  readonly tag: number;
  readonly type: number;
  readonly count: number;
  /** File offset of the value bytes (inline values: inside the entry). */
  readonly at: number;
}

/** Positional reads for the metadata walk, through one cached block. */
class MetaSource {
  private block: Uint8Array = new Uint8Array(0);
  private blockStart = 0;

  constructor(
    readonly source: ByteSource,
    readonly size: number,
    readonly file: string,
    readonly le: boolean,
    readonly big: boolean,
  ) {}

  async bytes(offset: number, length: number, what: string): Promise<Uint8Array> {
    if (offset < 0 || offset + length > this.size) {
      throw truncated(this.file, `${what} lies at bytes ${offset}–${offset + length}`, this.size);
    }
    if (offset >= this.blockStart && offset + length <= this.blockStart + this.block.length) {
      return this.block.subarray(offset - this.blockStart, offset - this.blockStart + length);
    }
    const n = Math.min(Math.max(length, META_BLOCK), this.size - offset);
    const buf = await this.source.read(offset, n);
    if (buf.length < n) throw truncated(this.file, `${what} lies at bytes ${offset}–${offset + length}`, offset + buf.length);
    if (n <= META_BLOCK * 4) {
      this.block = buf;
      this.blockStart = offset;
    }
    return buf.subarray(0, length);
  }

  // Byte arithmetic rather than a DataView per value: a stack's directories hold ~10⁵ of these.
  u16(b: Uint8Array, o: number): number { return this.le ? b[o]! | (b[o + 1]! << 8) : (b[o]! << 8) | b[o + 1]!; }
  u32(b: Uint8Array, o: number): number {
    return this.le
      ? (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 2 ** 24
      : b[o]! * 2 ** 24 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
  }
  u64(b: Uint8Array, o: number): number {
    const v = view(b).getBigUint64(o, this.le);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(this.file, `an offset of ${v} bytes`);
    return Number(v);
  }

  /** Reads one IFD: its entries by tag and the offset of the next IFD. */
  async readIfd(offset: number, what: string): Promise<{ entries: Map<number, Entry>; next: number }> {
    const countSize = this.big ? 8 : 2;
    const entrySize = this.big ? 20 : 12;
    const head = await this.bytes(offset, countSize, `${what}'s directory`);
    const n = this.big ? this.u64(head, 0) : this.u16(head, 0);
    if (n === 0 || n > 10000) throw corrupt(this.file, `${what}'s directory claims ${n} entries`);
    const body = await this.bytes(offset + countSize, n * entrySize + (this.big ? 8 : 4), `${what}'s directory`);
    const entries = new Map<number, Entry>();
    for (let i = 0; i < n; i++) {
      const e = i * entrySize;
      const tag = this.u16(body, e);
      const type = this.u16(body, e + 2);
      const count = this.big ? this.u64(body, e + 4) : this.u32(body, e + 4);
      const size = FIELD_SIZE[type];
      if (size === undefined) continue; // unknown field type: skip the entry, as libtiff does
      const valueField = offset + countSize + e + (this.big ? 12 : 8);
      const inline = size * count <= (this.big ? 8 : 4);
      const at = inline ? valueField : this.big ? this.u64(body, e + 12) : this.u32(body, e + 8);
      entries.set(tag, { tag, type, count, at });
    }
    const nb = n * entrySize;
    const next = this.big ? this.u64(body, nb) : this.u32(body, nb);
    return { entries, next };
  }

  /** Integer values of an entry (BYTE, SHORT, LONG, LONG8 and their signed kinds). */
  async ints(e: Entry, what: string): Promise<Float64Array> {
    const size = FIELD_SIZE[e.type]!;
    const b = await this.bytes(e.at, e.count * size, what);
    const v = view(b);
    const out = new Float64Array(e.count);
    for (let i = 0; i < e.count; i++) {
      const o = i * size;
      switch (e.type) {
        case FieldType.BYTE: case FieldType.UNDEFINED: out[i] = b[o]!; break;
        case FieldType.SBYTE: out[i] = v.getInt8(o); break;
        case FieldType.SHORT: out[i] = this.u16(b, o); break;
        case FieldType.SSHORT: out[i] = v.getInt16(o, this.le); break;
        case FieldType.LONG: case FieldType.IFD: out[i] = this.u32(b, o); break;
        case FieldType.SLONG: out[i] = v.getInt32(o, this.le); break;
        case FieldType.LONG8: case FieldType.IFD8: case FieldType.SLONG8: out[i] = this.u64(b, o); break;
        default: throw corrupt(this.file, `${what} has field type ${e.type}`);
      }
    }
    return out;
  }

  async text(e: Entry, what: string): Promise<string> {
    const b = await this.bytes(e.at, e.count * (FIELD_SIZE[e.type] ?? 1), what);
    let end = b.indexOf(0);
    if (end < 0) end = b.length;
    return new TextDecoder().decode(b.subarray(0, end));
  }
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Where one page's pixels are and how they are stored. */
interface Page {
  readonly compression: number;
  readonly predictor: number;
  readonly tiled: boolean;
  readonly blockW: number;
  readonly blockH: number;
  readonly offsets: Float64Array;
  readonly counts: Float64Array;
  /** File offset of the whole frame when it is uncompressed and stored in one piece, else -1. */
  readonly start: number;
}

interface PageHeader {
  width: number;
  height: number;
  sampleFormat: number;
  bits: number;
  samples: number;
  photometric: number;
  planar: number;
}

// ---------------------------------------------------------------------------------------------

export class TiffStackReader {
  readonly shape: readonly [t: number, h: number, w: number];
  readonly dtype: StackDType;
  readonly axes: string;

  private constructor(
    readonly path: string,
    readonly info: TiffStackInfo,
    private readonly source: ByteSource,
    private readonly inflate: ZlibInflate | undefined,
    private readonly le: boolean,
    private readonly pages: readonly Page[],
    /** ImageJ raw files: byte offset of image 0 (images follow back to back), else -1. */
    private readonly rawStart: number,
    /** Page index of each frame, or null when frames are pages 0…T-1. */
    private readonly framePages: Int32Array | null,
  ) {
    this.shape = info.shape;
    this.dtype = info.dtype;
    this.axes = info.axes;
  }

  private get frameBytes(): number {
    return this.shape[1] * this.shape[2] * bytesPerSample(this.dtype);
  }

  /**
   * Reads a stack's page directories and metadata from `source` (no pixels); `name` (the file
   * path, or a name) is what messages call it. The reader owns the source from here: close()
   * closes it, and so does a failure to open.
   */
  static async open(source: ByteSource, name: string, opts: ReadOptions = {}): Promise<TiffStackReader> {
    try {
      return await TiffStackReader.parse(name, source, opts);
    } catch (err) {
      await source.close?.().catch(() => undefined);
      if (err instanceof StackError) throw err;
      if (errorCode(err)) throw fsError(name, err);
      throw cannotRead(name, `unexpected failure while reading the TIFF directories (${oneLine(err)})`, RECOPY, err);
    }
  }

  private static async parse(file: string, source: ByteSource, opts: ReadOptions): Promise<TiffStackReader> {
    const size = source.size;
    if (size === 0) throw cannotRead(file, 'the file is empty (0 bytes)', 'It was probably not saved completely; export it again');

    const head = await source.read(0, Math.min(16, size));
    const bom = latin1(head.subarray(0, 2));
    if (bom !== 'II' && bom !== 'MM') {
      throw cannotRead(file, `it is not a TIFF file (${sniff(head)})`, 'Save the stack as TIFF (Fiji: File > Save As > Tiff...)');
    }
    const le = bom === 'II';
    if (head.length < 4) throw truncated(file, 'the TIFF header needs 8 bytes', size);
    const version = view(head).getUint16(2, le);
    if (version !== 42 && version !== 43) {
      throw cannotRead(file, `it is not a TIFF file (${sniff(head)})`, 'Save the stack as TIFF (Fiji: File > Save As > Tiff...)');
    }
    const big = version === 43;
    if (head.length < (big ? 16 : 8)) throw truncated(file, `the ${big ? 'BigTIFF' : 'TIFF'} header needs ${big ? 16 : 8} bytes`, size);
    const src = new MetaSource(source, size, file, le, big);
    if (big && (src.u16(head, 4) !== 8 || src.u16(head, 6) !== 0)) throw corrupt(file, 'BigTIFF header with an unknown offset size');
    const firstIfd = big ? src.u64(head, 8) : src.u32(head, 4);
    if (firstIfd === 0) throw cannotRead(file, 'the TIFF file holds no images', 'Export the stack again');

    // Walk the chain of page directories.
    const pages: Page[] = [];
    let first: PageHeader | null = null;
    let dtype: StackDType | null = null;
    let description = '';
    const seen = new Set<number>();
    let ifdIndex = 0;
    for (let off = firstIfd; off !== 0; ifdIndex++) {
      if (seen.has(off)) throw corrupt(file, `page directories form a loop at byte ${off}`);
      seen.add(off);
      const what = `page ${ifdIndex + 1}`;
      if (off >= size) throw truncated(file, `${what}'s directory would start at byte ${off}`, size);
      const { entries, next } = await src.readIfd(off, what);
      off = next;
      const one = async (tag: number, dflt?: number): Promise<number> => {
        const e = entries.get(tag);
        if (!e || e.count < 1) {
          if (dflt === undefined) throw corrupt(file, `${what} lacks required tag ${tag}`);
          return dflt;
        }
        return (await src.ints({ ...e, count: 1 }, what))[0]!;
      };
      if (ifdIndex === 0) {
        const d = entries.get(Tag.ImageDescription);
        if (d) description = await src.text(d, `${what}'s description`);
      }
      const subfile = await one(Tag.NewSubfileType, 0);
      if (ifdIndex > 0 && (subfile & 5) !== 0) continue; // reduced-resolution copies and masks
      const bitsEntry = entries.get(Tag.BitsPerSample);
      const hdr: PageHeader = {
        width: await one(Tag.ImageWidth),
        height: await one(Tag.ImageLength),
        samples: await one(Tag.SamplesPerPixel, 1),
        bits: bitsEntry ? (await src.ints(bitsEntry, what))[0]! : 1,
        sampleFormat: await one(Tag.SampleFormat, 1),
        photometric: await one(Tag.Photometric, 1),
        planar: await one(Tag.PlanarConfiguration, 1),
      };
      if (hdr.samples > 1 || hdr.photometric === 2 || hdr.photometric === 6) {
        throw cannotRead(
          file,
          `it is an RGB/colour image (${hdr.samples} samples per pixel), which is not supported`,
          'Save a single channel as grayscale (Fiji: Image > Color > Split Channels, or Image > Type > 16-bit)',
        );
      }
      if (first === null) {
        first = hdr;
        dtype = dtypeFromTiff(hdr.sampleFormat, hdr.bits);
        if (dtype === null) {
          throw cannotRead(
            file,
            `its pixels are ${describePixelType(hdr.sampleFormat, hdr.bits)}, which is not supported (use 8/16-bit unsigned, 16/32-bit signed, 32-bit unsigned or 32-bit float)`,
            'Convert it in Fiji (Image > Type > 16-bit or 32-bit) and save again',
          );
        }
        if (hdr.width < 1 || hdr.height < 1) throw corrupt(file, `page 1 is ${hdr.width}×${hdr.height} pixels`);
      } else if (hdr.width !== first.width || hdr.height !== first.height || hdr.bits !== first.bits || hdr.sampleFormat !== first.sampleFormat) {
        throw cannotRead(
          file,
          `page ${ifdIndex + 1} is ${hdr.width}×${hdr.height} ${describePixelType(hdr.sampleFormat, hdr.bits)} but page 1 is ${first.width}×${first.height} ${describePixelType(first.sampleFormat, first.bits)}; all pages of a stack must have the same size and type`,
          'Save the frames as one stack of equal-size images',
        );
      }
      pages.push(await TiffStackReader.pageLayout(src, entries, hdr, dtype!, what));
    }
    if (!first || !dtype || pages.length === 0) throw cannotRead(file, 'the TIFF file holds no images', 'Export the stack again');
    const frameBytes = first.width * first.height * bytesPerSample(dtype);

    // Which page holds which (t, z, c).
    let layout: PageLayout = plainLayout(pages.length);
    let rawStart = -1;
    let fileImages = pages.length;
    const mismatch = (meta: PageLayout, kind: string): PageLayout => {
      if (meta.sizes.C > 1) {
        throw cannotRead(
          file,
          `its ${kind} metadata describes ${meta.images} images (axes ${meta.axes}) but the file holds ${pages.length} pages`,
          'Open it in Fiji and save it again as TIFF',
        );
      }
      return plainLayout(pages.length);
    };
    const ome = parseOmeDescription(description);
    const ij = ome ? null : parseImageJDescription(description);
    if (ome) {
      const meta = omeLayout(ome);
      if (meta.images === pages.length) layout = meta;
      else if (ome.externalFiles || ome.images > 1) {
        throw cannotRead(
          file,
          `it is part of a multi-file or multi-series OME-TIFF dataset (metadata describes ${ome.images} image series, the first with ${meta.images} planes, but this file holds ${pages.length} pages)`,
          'Open the dataset in Fiji (Bio-Formats) and save the series you want as a single TIFF',
        );
      } else layout = mismatch(meta, 'OME');
    } else if (ij) {
      const meta = imagejLayout(ij);
      const p0 = pages[0]!;
      if (meta.images === pages.length) layout = meta;
      else if (ij.images > pages.length && p0.start >= 0 && pages.every((p, i) => p.start === p0.start + i * frameBytes)) {
        // ImageJ "raw" stacks (> 4 GB): only the first directory(s) exist; images follow back to back.
        // Images must fit between the first image and the end of the file (or the directory after them).
        const limit = firstIfd > p0.start ? firstIfd : size;
        const fit = Math.floor((limit - p0.start) / frameBytes);
        if (fit < ij.images) {
          throw cannotRead(file, `the file is truncated (its ImageJ metadata lists ${ij.images} images but only ${fit} fit in the file)`, RECOPY);
        }
        rawStart = p0.start;
        fileImages = ij.images;
        layout = meta.images === ij.images ? meta : plainLayout(ij.images);
      } else layout = mismatch(meta, 'ImageJ');
    }

    // Channel selection.
    const C = layout.sizes.C;
    let framePages: Int32Array | null = null;
    let channel: number | null = null;
    if (opts.channel !== undefined) {
      const c = opts.channel;
      if (!Number.isInteger(c) || c < 0 || c >= C) {
        throw cannotRead(
          file,
          C > 1 ? `channel ${c} does not exist (the file has ${C} channels, axes ${layout.axes})` : `channel ${c} does not exist (the file has a single channel, axes ${layout.axes})`,
          C > 1 ? `Pass --channel N with N from 0 to ${C - 1}` : 'Leave out --channel',
        );
      }
      channel = c;
      if (C > 1) framePages = Int32Array.from(channelPages(layout, c));
    } else if (C > 1) {
      throw cannotRead(
        file,
        `it has ${C} channels (axes ${layout.axes}) and only one can be denoised at a time`,
        `Pass --channel N with N from 0 to ${C - 1} to pick one`,
      );
    }
    const frames = framePages ? framePages.length : fileImages;

    const info: TiffStackInfo = {
      path: file,
      shape: [frames, first.height, first.width],
      dtype,
      axes: layout.axes,
      sizes: layout.sizes,
      format: layout.format,
      channel,
      pages: fileImages,
      bigTiff: big,
      littleEndian: le,
      compression: compressionName(pages[0]!.compression),
    };
    return new TiffStackReader(file, info, source, opts.inflate, le, pages, rawStart, framePages);
  }

  /** Where a page's pixels are; validates everything against the file size up front. */
  private static async pageLayout(src: MetaSource, entries: Map<number, Entry>, hdr: PageHeader, dtype: StackDType, what: string): Promise<Page> {
    const file = src.file;
    const one = async (tag: number, dflt: number): Promise<number> => {
      const e = entries.get(tag);
      return e && e.count >= 1 ? (await src.ints({ ...e, count: 1 }, what))[0]! : dflt;
    };
    const compression = await one(Tag.Compression, 1);
    if (!SUPPORTED_COMPRESSION.has(compression)) {
      throw cannotRead(
        file,
        `${what} uses ${compressionName(compression)} compression, which is not supported (supported: none, LZW, deflate, PackBits, zstd)`,
        'Save it again uncompressed or with LZW/deflate (Fiji: File > Save As > Tiff...)',
      );
    }
    const predictor = await one(Tag.Predictor, 1);
    if (predictor !== 1 && predictor !== 2 && predictor !== 3) {
      throw cannotRead(file, `${what} uses TIFF predictor ${predictor}, which is not supported`, 'Save it again without a predictor');
    }
    const bps = bytesPerSample(dtype);
    const { width, height } = hdr;
    const rowBytes = width * bps;
    const tiled = entries.has(Tag.TileOffsets);
    const blockW = tiled ? await one(Tag.TileWidth, 0) : width;
    let blockH = tiled ? await one(Tag.TileLength, 0) : await one(Tag.RowsPerStrip, height);
    if (!tiled && (blockH < 1 || blockH > height)) blockH = height;
    if (blockW < 1 || blockH < 1) throw corrupt(file, `${what} has tiles of ${blockW}×${blockH} pixels`);
    const nBlocks = tiled ? Math.ceil(width / blockW) * Math.ceil(height / blockH) : Math.ceil(height / blockH);
    const offEntry = entries.get(tiled ? Tag.TileOffsets : Tag.StripOffsets);
    if (!offEntry) throw corrupt(file, `${what} has no image data offsets`);
    const offsets = await src.ints(offEntry, `${what}'s data offsets`);
    if (offsets.length < nBlocks) throw corrupt(file, `${what} lists ${offsets.length} data blocks but needs ${nBlocks}`);
    const cntEntry = entries.get(tiled ? Tag.TileByteCounts : Tag.StripByteCounts);
    let counts: Float64Array;
    const blockBytes = (i: number): number =>
      tiled ? blockW * blockH * bps : Math.min(blockH, height - i * blockH) * rowBytes;
    if (compression === Compression.None) {
      // Uncompressed: the rows decide the length; byte counts are often padded or wrong.
      counts = new Float64Array(nBlocks);
      for (let i = 0; i < nBlocks; i++) counts[i] = blockBytes(i);
    } else {
      if (!cntEntry) throw corrupt(file, `${what} is compressed but has no byte counts`);
      counts = await src.ints(cntEntry, `${what}'s byte counts`);
      if (counts.length < nBlocks) throw corrupt(file, `${what} lists ${counts.length} byte counts but needs ${nBlocks}`);
    }
    for (let i = 0; i < nBlocks; i++) {
      const end = offsets[i]! + counts[i]!;
      if (end > src.size) {
        throw truncated(file, `${what}'s image data lies at bytes ${offsets[i]}–${end}`, src.size);
      }
    }
    let start = -1;
    if (compression === Compression.None && !tiled) {
      start = offsets[0]!;
      for (let i = 1; i < nBlocks; i++) {
        if (offsets[i] !== start + i * blockH * rowBytes) {
          start = -1;
          break;
        }
      }
    }
    if (start >= 0) {
      return { compression, predictor, tiled, blockW, blockH, offsets: new Float64Array(0), counts: new Float64Array(0), start };
    }
    return {
      compression, predictor, tiled, blockW, blockH,
      offsets: offsets.subarray(0, nBlocks), counts: counts.subarray(0, nBlocks), start,
    };
  }

  /**
   * Reads frames [start, start + count) as one array of count × h × w pixels (into `into` when given;
   * it must be of this stack's dtype and hold at least count × h × w pixels).
   */
  async readFrames(start: number, count: number, into?: StackArray): Promise<StackArray> {
    const [T, H, W] = this.shape;
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > T) {
      throw cannotRead(this.path, `frames ${start}…${start + count - 1} were asked for but the stack has frames 0…${T - 1}`, 'Pick a frame range inside the stack');
    }
    const px = H * W;
    let out: StackArray;
    if (into) {
      if (dtypeOfArray(into) !== this.dtype || into.length < count * px) {
        throw cannotRead(this.path, `the buffer given for ${count} frames is not ${count * px} ${this.dtype} pixels`, 'Pass a buffer of the stack\'s dtype and size');
      }
      out = into;
    } else {
      try {
        out = makeStackArray(this.dtype, count * px);
      } catch (err) {
        const gb = ((count * this.frameBytes) / 2 ** 30).toFixed(1);
        throw cannotRead(this.path, `${count} frames (${gb} GiB) do not fit in memory at once`, 'Read fewer frames at a time', err);
      }
    }
    const dst = bytesOf(out);
    const fb = this.frameBytes;
    try {
      // Back-to-back uncompressed frames are read as one extent.
      let runFile = -1;
      let runDst = 0;
      let runLen = 0;
      const flush = async (): Promise<void> => {
        if (runLen > 0) await this.readExtent(runFile, dst.subarray(runDst, runDst + runLen));
        runLen = 0;
      };
      for (let k = 0; k < count; k++) {
        const f = start + k;
        const p = this.framePages ? this.framePages[f]! : f;
        const fileOff = this.rawStart >= 0 ? this.rawStart + p * fb : this.pages[p]!.start;
        if (fileOff >= 0) {
          if (runLen > 0 && runFile + runLen === fileOff) {
            runLen += fb;
          } else {
            await flush();
            runFile = fileOff;
            runDst = k * fb;
            runLen = fb;
          }
        } else {
          await flush();
          await this.decodePage(p, dst.subarray(k * fb, (k + 1) * fb));
        }
      }
      await flush();
    } catch (err) {
      if (err instanceof StackError) throw err;
      if (errorCode(err)) throw fsError(this.path, err);
      throw cannotRead(this.path, `unexpected failure while reading pixels (${oneLine(err)})`, RECOPY, err);
    }
    return out;
  }

  /** All frames as one Stack. */
  async readAll(): Promise<TiffStack> {
    const data = await this.readFrames(0, this.shape[0]);
    return { data, shape: this.shape, dtype: this.dtype, axes: this.axes, info: this.info };
  }

  async close(): Promise<void> {
    await this.source.close?.().catch(() => undefined);
  }

  private async readExtent(fileOff: number, dst: Uint8Array): Promise<void> {
    let done = 0;
    while (done < dst.length) {
      const n = Math.min(MAX_READ, dst.length - done);
      const bytesRead = await readFully(this.source, fileOff + done, dst.subarray(done, done + n));
      if (bytesRead === 0) {
        throw truncated(this.path, `image data lies at bytes ${fileOff}–${fileOff + dst.length}`, fileOff + done);
      }
      done += bytesRead;
    }
    if (this.le !== HOST_LITTLE_ENDIAN) swapBytes(dst, bytesPerSample(this.dtype));
  }

  /** Reads and decodes one page that is compressed, tiled or split into scattered strips. */
  private async decodePage(p: number, dst: Uint8Array): Promise<void> {
    const page = this.pages[p]!;
    const what = `page ${p + 1}`;
    const [, H, W] = this.shape;
    const bps = bytesPerSample(this.dtype);
    const rowBytes = W * bps;
    const { offsets, counts } = page;
    const n = offsets.length;

    // One read when the blocks are close together, else one read per block.
    let lo = Infinity;
    let hi = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      lo = Math.min(lo, offsets[i]!);
      hi = Math.max(hi, offsets[i]! + counts[i]!);
      total += counts[i]!;
    }
    let span: Uint8Array | null = null;
    if (hi - lo <= total * 2 + 65536) {
      span = new Uint8Array(hi - lo);
      await this.readRaw(lo, span);
    }
    const blockAt = async (i: number): Promise<Uint8Array> => {
      if (span) return span.subarray(offsets[i]! - lo, offsets[i]! - lo + counts[i]!);
      const b = new Uint8Array(counts[i]!);
      await this.readRaw(offsets[i]!, b);
      return b;
    };

    const across = page.tiled ? Math.ceil(W / page.blockW) : 1;
    const tile = page.tiled ? new Uint8Array(page.blockW * page.blockH * bps) : null;
    for (let i = 0; i < n; i++) {
      const raw = await blockAt(i);
      const bw = page.blockW;
      const rows = page.tiled ? page.blockH : Math.min(page.blockH, H - i * page.blockH);
      const target = tile ?? dst.subarray(i * page.blockH * rowBytes, i * page.blockH * rowBytes + rows * rowBytes);
      const got = this.decompress(page.compression, raw, target, what);
      if (got < target.length) {
        throw corrupt(this.path, `${what}'s ${page.tiled ? 'tile' : 'strip'} ${i + 1} decodes to ${got} of ${target.length} bytes`);
      }
      if (this.le !== HOST_LITTLE_ENDIAN && page.predictor !== 3) swapBytes(target, bps);
      if (page.predictor === 2) undoHorizontalPredictor(target, bps, bw, rows);
      else if (page.predictor === 3) undoFloatPredictor(target, bps, bw, rows);
      if (tile) {
        const tx = (i % across) * page.blockW;
        const ty = Math.floor(i / across) * page.blockH;
        const cw = Math.min(page.blockW, W - tx) * bps;
        for (let r = 0; r < page.blockH && ty + r < H; r++) {
          const s = r * page.blockW * bps;
          dst.set(tile.subarray(s, s + cw), (ty + r) * rowBytes + tx * bps);
        }
      }
    }
  }

  private async readRaw(fileOff: number, dst: Uint8Array): Promise<void> {
    let done = 0;
    while (done < dst.length) {
      const n = Math.min(MAX_READ, dst.length - done);
      const bytesRead = await readFully(this.source, fileOff + done, dst.subarray(done, done + n));
      if (bytesRead === 0) throw truncated(this.path, `image data lies at bytes ${fileOff}–${fileOff + dst.length}`, fileOff + done);
      done += bytesRead;
    }
  }

  private decompress(compression: number, raw: Uint8Array, out: Uint8Array, what: string): number {
    try {
      switch (compression) {
        case Compression.None: {
          const n = Math.min(raw.length, out.length);
          out.set(raw.subarray(0, n));
          return n;
        }
        case Compression.LZW: return lzwDecode(raw, out);
        case Compression.Deflate: case Compression.AdobeDeflate: return deflateDecode(raw, out, this.inflate);
        case Compression.PackBits: return packBitsDecode(raw, out);
        case Compression.Zstd: return zstdDecode(raw, out);
        default: throw new DecodeError(`compression ${compression}`);
      }
    } catch (err) {
      if (err instanceof StackError) throw err;
      const why = err instanceof DecodeError ? err.message : `${compressionName(compression)} data could not be decoded`;
      throw corrupt(this.path, `${what}: ${why}`, err);
    }
  }
}

function oneLine(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.split(/\r?\n/)[0]!.slice(0, 200);
}
