/**
 * OME-Zarr output written as frames arrive (denoise's frame sink, convert): an image group with
 * one (t, y, x) array "0", chunked and compressed, as OME-NGFF 0.5 (Zarr v3) or 0.4 (Zarr v2).
 * Frames are buffered only up to one chunk's length in time, then written.
 */
import * as zarr from 'zarrita';
import type { Mutable } from '@zarrita/storage';
import { makeStackArray, type StackArray, type StackDType } from '../../data/stack.js';
import { StackError } from '../../errors.js';
import { omeAttributes, type OmeAxis } from './ome.js';

export interface ZarrWriteOptions {
  /** 3: OME-NGFF 0.5 on Zarr v3 (default); 2: OME-NGFF 0.4 on Zarr v2, for tools that read only v2. */
  format?: 2 | 3;
  /** Chunk shape (t, y, x). Default min(32, T) frames of up to 256×256 pixels. */
  chunks?: readonly [number, number, number];
  /** zstd (default) or no compression. */
  compression?: 'zstd' | 'none';
  /** Physical size per frame and pixel, carried over from the input (1 where unknown). */
  scale?: { t: number; y: number; x: number; units?: { t?: string; y?: string; x?: string } };
  /** The image's name in the metadata. */
  name?: string;
  /** More attributes of the image group (e.g. the job that wrote it). */
  attributes?: Record<string, unknown>;
}

const V2_DTYPE: Record<StackDType, string> = { uint8: '|u1', uint16: '<u2', int16: '<i2', uint32: '<u4', int32: '<i4', float32: '<f4' };

export function defaultChunks(shape: readonly [number, number, number]): [number, number, number] {
  return [Math.min(32, shape[0]), Math.min(256, shape[1]), Math.min(256, shape[2])];
}

/** Writes a stack's frames in order into a store: all of them, or a part [start, end) made of whole chunk rows. */
export class ZarrStackWriter {
  private readonly buffer: StackArray;
  private buffered = 0;
  private written = 0;

  private constructor(
    private readonly array: zarr.Array<zarr.DataType, Mutable>,
    readonly shape: readonly [number, number, number],
    readonly dtype: StackDType,
    readonly chunks: readonly [number, number, number],
    readonly start = 0,
    readonly end = shape[0],
  ) {
    this.buffer = makeStackArray(dtype, chunks[0] * shape[1] * shape[2]);
  }

  /**
   * Writes frames [start, end) into the (t, y, x) image of an existing store, touching only the
   * chunks of those frames: `start` and `end` must lie on chunk-row boundaries (or `end` at the
   * last frame), so that writers of other parts never share a chunk.
   */
  static async openPart(store: Mutable, start: number, end: number): Promise<ZarrStackWriter> {
    const array = await zarr.open(zarr.root(store).resolve('0'), { kind: 'array' });
    const [t, h, w] = array.shape as [number, number, number];
    const [ct, ch, cw] = array.chunks as [number, number, number];
    if (start % ct !== 0 || (end % ct !== 0 && end !== t) || !(start < end && end <= t)) {
      throw new RangeError(`frames ${start}..${end} are not whole chunk rows of ${ct} frames in 0..${t}`);
    }
    const dtype = array.dtype as StackDType;
    return new ZarrStackWriter(array, [t, h, w], dtype, [ct, ch, cw], start, end);
  }

  static async create(store: Mutable, shape: readonly [number, number, number], dtype: StackDType, opts: ZarrWriteOptions = {}): Promise<ZarrStackWriter> {
    const chunks = opts.chunks ?? defaultChunks(shape);
    const scale = opts.scale ?? { t: 1, y: 1, x: 1 };
    const axes: OmeAxis[] = [
      { name: 't', type: 'time', ...(scale.units?.t ? { unit: scale.units.t } : {}) },
      { name: 'y', type: 'space', ...(scale.units?.y ? { unit: scale.units.y } : {}) },
      { name: 'x', type: 'space', ...(scale.units?.x ? { unit: scale.units.x } : {}) },
    ];
    const attributes = { ...omeAttributes(opts.format === 2 ? '0.4' : '0.5', axes, [scale.t, scale.y, scale.x], opts.name ?? 'denoised'), ...opts.attributes };
    const compress = (opts.compression ?? 'zstd') === 'zstd';
    const root = zarr.root(store);
    let array: zarr.Array<zarr.DataType, Mutable>;
    if (opts.format === 2) {
      // zarrita creates v3 nodes only; v2's metadata is three small JSON documents.
      const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2));
      await store.set('/.zgroup', json({ zarr_format: 2 }));
      await store.set('/.zattrs', json(attributes));
      await store.set('/0/.zarray', json({
        zarr_format: 2, shape, chunks, dtype: V2_DTYPE[dtype], order: 'C', fill_value: 0, filters: null,
        compressor: compress ? { id: 'zstd', level: 3 } : null, dimension_separator: '/',
      }));
      await store.set('/0/.zattrs', json({ _ARRAY_DIMENSIONS: ['t', 'y', 'x'] }));
      array = await zarr.open.v2(root.resolve('0'), { kind: 'array' });
    } else {
      await zarr.create(root, { attributes });
      array = await zarr.create(root.resolve('0'), {
        shape: [...shape], chunkShape: [...chunks], dtype, fillValue: 0, dimensionNames: ['t', 'y', 'x'],
        codecs: [{ name: 'bytes', configuration: { endian: 'little' } }, ...(compress ? [{ name: 'zstd', configuration: { level: 3, checksum: false } }] : [])],
      });
    }
    return new ZarrStackWriter(array, shape, dtype, chunks);
  }

  /** Appends whole frames; chunks are written as each fills up in time. */
  async writeFrames(frames: StackArray): Promise<void> {
    const frame = this.shape[1] * this.shape[2];
    if (frames.length % frame !== 0) throw new RangeError(`writeFrames: ${frames.length} values are not whole ${this.shape[1]}×${this.shape[2]} frames`);
    if (this.written + this.buffered + frames.length / frame > this.end - this.start) {
      throw new StackError(`more frames than the ${this.end - this.start} the Zarr output was opened for`);
    }
    for (let at = 0; at < frames.length;) {
      const take = Math.min(frames.length - at, (this.chunks[0] - this.buffered) * frame);
      this.buffer.set(frames.subarray(at, at + take), this.buffered * frame);
      this.buffered += take / frame;
      at += take;
      if (this.buffered === this.chunks[0]) await this.flush();
    }
  }

  /** Writes the last, partial chunk row; throws when fewer frames came than the shape says. */
  async close(): Promise<void> {
    if (this.buffered > 0) await this.flush();
    if (this.written !== this.end - this.start) throw new StackError(`the Zarr output got ${this.written} of its ${this.end - this.start} frames`);
  }

  private async flush(): Promise<void> {
    const [, h, w] = this.shape;
    const n = this.buffered;
    const at = this.start + this.written;
    await zarr.set(this.array, [zarr.slice(at, at + n), null, null], {
      data: this.buffer.subarray(0, n * h * w), shape: [n, h, w], stride: [h * w, w, 1],
    } as zarr.Chunk<zarr.DataType>);
    this.written += n;
    this.buffered = 0;
  }
}
