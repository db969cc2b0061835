/**
 * Streaming, atomic TIFF stack writer.
 *
 * Layout (the one ImageJ itself writes, so Fiji opens the stack fast and as one block):
 *   header | IFD 0 + its description | pixel data of all frames, back to back | IFDs 1…T-1
 * Every offset follows from the shape, so IFD 0 is written at creation, frames are written as
 * they arrive, and the remaining directories at close(). The file is written under a temporary
 * name in the same folder and renamed into place by close(); abort() deletes it.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import * as nodePath from 'node:path';
import type { Stack, StackArray, StackDType } from '../../data/stack.js';
import { StackError } from '../../errors.js';
import { temporaryPath } from '../atomic.js';
import { bytesOf, bytesPerSample, dtypeOfArray, FieldType, Tag, tiffFromDtype } from './tags.js';

const HOST_LE = endianness() === 'LE';
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

function q(file: string): string {
  return `"${file.replace(/[\u0000-\u001f]/g, '?')}"`;
}

function cannotWrite(file: string, what: string, todo: string): StackError {
  return new StackError(`Cannot write ${q(file)}: ${what}. ${todo}.`);
}

function fsWriteError(file: string, err: unknown): StackError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const dir = nodePath.dirname(nodePath.resolve(file));
  switch (code) {
    case 'ENOENT': return cannotWrite(file, `the folder ${q(dir)} does not exist`, 'Create it first or choose another output path');
    case 'ENOTDIR': return cannotWrite(file, 'a part of the path is not a folder', 'Choose another output path');
    case 'EACCES': case 'EPERM': return cannotWrite(file, `permission denied in folder ${q(dir)}`, 'Choose a folder you can write to');
    case 'EROFS': return cannotWrite(file, 'the file system is read-only', 'Choose a writable output folder');
    case 'EISDIR': return cannotWrite(file, 'it is a folder', 'Give a file name ending in .tif');
    case 'ENOSPC': return cannotWrite(file, 'the disk is full', 'Free some space or write to another disk');
    case 'EDQUOT': return cannotWrite(file, 'the disk quota is exceeded', 'Free some space or write to another disk');
    case 'EFBIG': return cannotWrite(file, 'the file is too large for this file system', 'Write to a file system that allows large files (not FAT32)');
    case 'ENAMETOOLONG': return cannotWrite(file, 'the file name is too long', 'Choose a shorter name');
    default: return cannotWrite(file, `the file system reported ${code ?? 'an I/O error'}`, 'Check that the disk or network share is available');
  }
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

/** Encodes an IFD at `offset` (little-endian), out-of-line values after it, pointing to `next`. */
function encodeIfd(entries: readonly IfdEntry[], big: boolean, offset: number, next: number): Buffer {
  const buf = Buffer.alloc(ifdBytes(entries, big));
  const inlineMax = big ? 8 : 4;
  let p = 0;
  if (big) {
    buf.writeBigUInt64LE(BigInt(entries.length), 0);
    p = 8;
  } else {
    buf.writeUInt16LE(entries.length, 0);
    p = 2;
  }
  let extra = p + entries.length * (big ? 20 : 12) + (big ? 8 : 4);
  const writeValue = (at: number, type: number, v: number): void => {
    switch (type) {
      case FieldType.ASCII: buf[at] = v; break;
      case FieldType.SHORT: buf.writeUInt16LE(v, at); break;
      case FieldType.LONG: buf.writeUInt32LE(v, at); break;
      case FieldType.LONG8: buf.writeBigUInt64LE(BigInt(v), at); break;
      default: throw new Error(`field type ${type}`);
    }
  };
  for (const e of entries) {
    buf.writeUInt16LE(e.tag, p);
    buf.writeUInt16LE(e.type, p + 2);
    if (big) buf.writeBigUInt64LE(BigInt(e.values.length), p + 4);
    else buf.writeUInt32LE(e.values.length, p + 4);
    const valueField = p + (big ? 12 : 8);
    const size = TYPE_SIZE[e.type]! * e.values.length;
    let at = valueField;
    if (size > inlineMax) {
      at = extra;
      if (big) buf.writeBigUInt64LE(BigInt(offset + extra), valueField);
      else buf.writeUInt32LE(offset + extra, valueField);
      extra += align(size, 2);
    }
    const step = TYPE_SIZE[e.type]!;
    for (let i = 0; i < e.values.length; i++) writeValue(at + i * step, e.type, e.values[i]!);
    p += big ? 20 : 12;
  }
  if (big) buf.writeBigUInt64LE(BigInt(next), p);
  else buf.writeUInt32LE(next, p);
  return buf;
}

function ascii(s: string): Uint8Array {
  return Buffer.from(s.replace(/[^\x20-\x7e\n\r\t]/g, '?') + '\0', 'latin1');
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

type State = 'open' | 'closing' | 'closed' | 'aborted' | 'failed';

export class TiffStackWriter {
  private framesWritten = 0;
  private state: State = 'open';
  /** Operations run one after another, in call order. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly path: string,
    readonly tempPath: string,
    readonly shape: readonly [t: number, h: number, w: number],
    readonly dtype: StackDType,
    readonly plan: TiffPlan,
    private fh: FileHandle | null,
  ) {}

  /** Frames written (or queued) so far. */
  get frames(): number {
    return this.framesWritten;
  }

  /**
   * Creates the temporary file beside `path` and writes the header; throws StackError naming
   * `path` when it cannot be written.
   */
  static async create(path: string, shape: readonly [number, number, number], dtype: StackDType, opts: WriteOptions = {}): Promise<TiffStackWriter> {
    const plan = planTiff(path, shape, dtype, opts);
    let isDir = false;
    try {
      isDir = (await fsp.stat(path)).isDirectory();
    } catch {
      // Not there yet: fine.
    }
    if (isDir) throw cannotWrite(path, 'it is a folder', 'Give a file name ending in .tif');
    const tmp = temporaryPath(path);
    let fh: FileHandle;
    try {
      fh = await fsp.open(tmp, 'w');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        const dir = nodePath.dirname(nodePath.resolve(path));
        const dirExists = await fsp.stat(dir).then((s) => s.isDirectory(), () => false);
        if (dirExists) throw cannotWrite(path, `files cannot be created in folder ${q(dir)}`, 'Choose a writable output folder');
      }
      throw fsWriteError(path, err);
    }
    const w = new TiffStackWriter(path, tmp, [shape[0], shape[1], shape[2]], dtype, plan, fh);
    try {
      await w.writeAt(w.headerAndFirstIfd(), 0);
    } catch (err) {
      await w.cleanup();
      throw fsWriteError(path, err);
    }
    return w;
  }

  private headerAndFirstIfd(): Buffer {
    const { bigTiff: big, dataOffset, tailOffset } = this.plan;
    const [t] = this.shape;
    const header = Buffer.alloc(big ? 16 : 8);
    header.write('II', 0, 'latin1');
    if (big) {
      header.writeUInt16LE(43, 2);
      header.writeUInt16LE(8, 4);
      header.writeUInt16LE(0, 6);
      header.writeBigUInt64LE(BigInt(header.length), 8);
    } else {
      header.writeUInt16LE(42, 2);
      header.writeUInt32LE(header.length, 4);
    }
    const entries = pageEntries(this.plan, this.shape, this.dtype, dataOffset, firstPageExtras(this.plan));
    const ifd = encodeIfd(entries, big, header.length, t > 1 ? tailOffset : 0);
    const out = Buffer.alloc(dataOffset);
    header.copy(out, 0);
    ifd.copy(out, header.length);
    return out;
  }

  /**
   * Appends frames: `data` holds one or more whole frames (h × w pixels each) of the writer's dtype.
   * Calls may overlap; frames land in call order.
   */
  writeFrames(data: StackArray): Promise<void> {
    const [t, h, w] = this.shape;
    const px = h * w;
    const notOpen = this.notOpen('write frames to');
    if (notOpen) return Promise.reject(notOpen);
    if (dtypeOfArray(data) !== this.dtype) {
      return Promise.reject(cannotWrite(this.path, `frames of type ${dtypeOfArray(data) ?? 'unknown'} were given to a ${this.dtype} stack`, 'Convert the frames to the stack\'s dtype'));
    }
    if (data.length === 0 || data.length % px !== 0) {
      return Promise.reject(cannotWrite(this.path, `${data.length} pixels were given, not a whole number of ${h}×${w} frames`, 'Pass whole frames'));
    }
    const n = data.length / px;
    if (this.framesWritten + n > t) {
      return Promise.reject(cannotWrite(this.path, `${this.framesWritten + n} frames were given to a stack of ${t} frames`, 'Create the writer with the right number of frames'));
    }
    const first = this.framesWritten;
    this.framesWritten += n;
    return this.enqueue(async () => {
      let bytes = bytesOf(data);
      if (!HOST_LE && bytesPerSample(this.dtype) > 1) {
        const copy = Buffer.from(bytes);
        if (bytesPerSample(this.dtype) === 2) copy.swap16();
        else copy.swap32();
        bytes = copy;
      }
      await this.writeAt(bytes, this.plan.dataOffset + first * this.plan.frameBytes);
    });
  }

  /** Appends one frame (h × w pixels). */
  writeFrame(frame: StackArray): Promise<void> {
    return this.writeFrames(frame);
  }

  /**
   * Writes the remaining directories, flushes and renames the file into place. All frames must have
   * been written; otherwise the temporary file is deleted and a StackError thrown.
   */
  close(): Promise<void> {
    const notOpen = this.notOpen('close');
    if (notOpen) return Promise.reject(notOpen);
    this.state = 'closing';
    const [t] = this.shape;
    const written = this.framesWritten;
    return this.enqueue(async () => {
      if (written !== t) throw cannotWrite(this.path, `only ${written} of ${t} frames were written`, 'Nothing was saved; run again');
      const { bigTiff: big, tailOffset, tailIfdBytes, dataOffset, frameBytes } = this.plan;
      const chunk = 4096;
      for (let k0 = 1; k0 < t; k0 += chunk) {
        const k1 = Math.min(t, k0 + chunk);
        const buf = Buffer.alloc((k1 - k0) * tailIfdBytes);
        for (let k = k0; k < k1; k++) {
          const at = tailOffset + (k - 1) * tailIfdBytes;
          const entries = pageEntries(this.plan, this.shape, this.dtype, dataOffset + k * frameBytes, []);
          encodeIfd(entries, big, at, k + 1 < t ? at + tailIfdBytes : 0).copy(buf, (k - k0) * tailIfdBytes);
        }
        await this.writeAt(buf, tailOffset + (k0 - 1) * tailIfdBytes);
      }
      const fh = this.fh!;
      this.fh = null;
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.rename(this.tempPath, this.path);
      this.state = 'closed';
    });
  }

  /**
   * Stops writing and deletes the temporary file; the final name is never created. Safe to call more
   * than once and after a failure; does nothing once close() has succeeded.
   */
  async abort(): Promise<void> {
    if (this.state === 'closing') await this.queue;
    if (this.state === 'closed') return;
    this.state = 'aborted';
    await this.queue;
    await this.cleanup();
  }

  private notOpen(action: string): StackError | null {
    if (this.state === 'open') return null;
    const why = this.state === 'failed' ? 'stopped by an earlier error' : this.state === 'aborted' ? 'aborted' : 'closed';
    return cannotWrite(this.path, `cannot ${action} a writer that was ${why}`, 'Create a new writer');
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    const run = this.queue.then(async () => {
      if (this.state === 'failed' || this.state === 'aborted') {
        throw cannotWrite(this.path, `writing stopped (${this.state === 'failed' ? 'after an earlier error' : 'aborted'})`, 'Nothing was saved; run again');
      }
      try {
        await op();
      } catch (err) {
        this.state = 'failed';
        await this.cleanup();
        throw err instanceof StackError ? err : fsWriteError(this.path, err);
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async writeAt(bytes: Uint8Array, position: number): Promise<void> {
    const fh = this.fh;
    if (!fh) throw cannotWrite(this.path, 'the writer is closed', 'Create a new writer');
    let done = 0;
    while (done < bytes.length) {
      const n = Math.min(bytes.length - done, 1 << 30);
      const { bytesWritten } = await fh.write(bytes, done, n, position + done);
      done += bytesWritten;
    }
  }

  private async cleanup(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    if (fh) await fh.close().catch(() => undefined);
    await fsp.rm(this.tempPath, { force: true }).catch(() => undefined);
  }
}

/** Writes a whole stack atomically. */
export async function writeStack(path: string, stack: Stack, opts: WriteOptions = {}): Promise<void> {
  const w = await TiffStackWriter.create(path, stack.shape, stack.dtype, opts);
  try {
    await w.writeFrames(stack.data);
    await w.close();
  } catch (err) {
    await w.abort();
    throw err;
  }
}
