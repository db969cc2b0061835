/**
 * Stacks from Zarr stores (OME-Zarr images, or a bare 2- to 5-dimensional array) through zarrita,
 * read lazily: only the chunks that hold the frames asked for are fetched, so a store on a
 * disk or behind HTTP can be far larger than memory. Frames are the (t, z) planes in array order,
 * as the TIFF reader takes a hyperstack's pages; a channel axis needs a chosen channel.
 */
import * as zarr from 'zarrita';
import type { Readable } from '@zarrita/storage';
import { makeStackArray, type Stack, type StackArray, type StackDType, type StackFileInfo } from '../../data/stack.js';
import { StackError } from '../../errors.js';
import type { Point3, Size3 } from '../../data/normalize.js';
import { readOmeImage } from './ome.js';

export interface ZarrReadOptions {
  /** For stores with a channel axis: the channel (0-based) whose frames to read. */
  readonly channel?: number;
}

export interface ZarrStackInfo extends StackFileInfo {
  /** "OME-Zarr 0.5", "OME-Zarr 0.4", or "Zarr v3"/"Zarr v2" for a bare array. */
  readonly format: string;
  /** The array's chunk shape, in its own axis order. */
  readonly chunks: readonly number[];
  /** Physical size per frame and pixel from the OME metadata (t, y, x), with units where given. */
  readonly scale: { readonly t: number; readonly y: number; readonly x: number; readonly units: { readonly t?: string; readonly y?: string; readonly x?: string } };
}

const DTYPES: Record<string, StackDType> = { uint8: 'uint8', uint16: 'uint16', int16: 'int16', uint32: 'uint32', int32: 'int32', float32: 'float32' };

function cannotRead(name: string, what: string, todo: string): StackError {
  return new StackError(`Cannot read "${name}": ${what}. ${todo}.`);
}

/** A Zarr stack opened for reading frames on demand. */
export class ZarrStackReader {
  private constructor(
    readonly info: ZarrStackInfo,
    private readonly array: zarr.Array<zarr.DataType, Readable>,
    /** Index of each of t, c, z in the array's axes (-1 where absent). */
    private readonly at: { t: number; c: number; z: number },
  ) {}

  get shape(): readonly [number, number, number] {
    return this.info.shape;
  }

  get dtype(): StackDType {
    return this.info.dtype;
  }

  get axes(): string {
    return this.info.axes;
  }

  static async open(store: Readable, name: string, opts: ZarrReadOptions = {}): Promise<ZarrStackReader> {
    let node: zarr.Array<zarr.DataType, Readable> | zarr.Group<Readable>;
    try {
      node = await zarr.open(store);
    } catch (err) {
      throw cannotRead(name, `it is not a Zarr store (${(err as Error).message})`, 'Pass an OME-Zarr image (a folder or URL with zarr.json, or .zgroup and .zattrs), or a TIFF file');
    }
    let format = node.kind === 'array' ? '' : 'OME-Zarr';
    let names: string[] | undefined;
    let scale: number[] | undefined;
    let units: (string | undefined)[] = [];
    let array: zarr.Array<zarr.DataType, Readable>;
    if (node.kind === 'group') {
      const image = readOmeImage(node.attrs, name);
      if (!image) throw cannotRead(name, 'it is a Zarr group without OME-Zarr image metadata (multiscales)', 'Pass the image group (or the array inside it) of an OME-Zarr file');
      format = `OME-Zarr ${image.version}`;
      try {
        array = await zarr.open(node.resolve(image.path), { kind: 'array' });
      } catch (err) {
        throw cannotRead(name, `its image data "${image.path}" is missing or damaged (${(err as Error).message})`, 'Copy or write the OME-Zarr again');
      }
      names = image.axes.map((a) => a.name);
      units = image.axes.map((a) => a.unit);
      scale = image.scale;
    } else {
      array = node;
      format = `Zarr ${'dimensionNames' in array && array.dimensionNames ? 'v3' : 'v2'}`;
      names = array.dimensionNames ?? (array.attrs['_ARRAY_DIMENSIONS'] as string[] | undefined);
    }
    const rank = array.shape.length;
    if (!names) {
      // A bare array without names: the usual orders, time outermost.
      const guess: Record<number, string[]> = { 2: ['y', 'x'], 3: ['t', 'y', 'x'], 4: ['t', 'z', 'y', 'x'], 5: ['t', 'c', 'z', 'y', 'x'] };
      names = guess[rank];
      if (!names) throw cannotRead(name, `its array has ${rank} dimensions and no axis names`, 'Write it as OME-Zarr with axes t, y, x (c and z optional)');
    }
    const lower = names.map((n) => n.toLowerCase());
    if (lower.length !== rank) throw cannotRead(name, `its metadata names ${lower.length} axes for a ${rank}-dimensional array`, 'Write the OME-Zarr again');
    if (lower[rank - 2] !== 'y' || lower[rank - 1] !== 'x') {
      throw cannotRead(name, `its last two axes are ${names.slice(-2).join(', ')}, not y, x`, 'Write the image with y and x as its last axes');
    }
    const unknown = lower.slice(0, -2).filter((n) => !['t', 'c', 'z'].includes(n));
    if (unknown.length > 0 || new Set(lower).size !== rank) {
      throw cannotRead(name, `its axes (${names.join(', ')}) are not among t, c, z, y, x, each once`, 'Write it with axes t, y, x (c and z optional)');
    }
    const dtype = DTYPES[array.dtype];
    if (!dtype) {
      throw cannotRead(name, `its pixel type ${array.dtype} is not supported`, 'Convert it to 8-, 16- or 32-bit integers or 32-bit float');
    }
    const at = { t: lower.indexOf('t'), c: lower.indexOf('c'), z: lower.indexOf('z') };
    const size = (i: number) => (i < 0 ? 1 : array.shape[i]!);
    const sizes = { T: size(at.t), Z: size(at.z), C: size(at.c) };
    const axes = lower.filter((n, i) => i >= rank - 2 || array.shape[i]! > 1).join('').toUpperCase();
    let channel: number | null = null;
    if (opts.channel !== undefined) {
      if (opts.channel >= sizes.C) {
        throw cannotRead(name, sizes.C > 1 ? `channel ${opts.channel} does not exist (the image has ${sizes.C} channels, axes ${axes})` : `channel ${opts.channel} does not exist (the image has a single channel, axes ${axes})`,
          sizes.C > 1 ? `Pass --channel N with N from 0 to ${sizes.C - 1}` : 'Leave out --channel');
      }
      channel = opts.channel;
    } else if (sizes.C > 1) {
      throw cannotRead(name, `it has ${sizes.C} channels (axes ${axes}) and only one can be denoised at a time`, `Pass --channel N with N from 0 to ${sizes.C - 1} to pick one`);
    }
    const s = (axis: number) => (axis < 0 || !scale ? 1 : scale[axis]!);
    const u = (axis: number) => (axis < 0 ? undefined : units[axis]);
    const info: ZarrStackInfo = {
      path: name, shape: [sizes.T * sizes.Z, array.shape[rank - 2]!, array.shape[rank - 1]!], dtype, axes, sizes, format, channel,
      chunks: array.chunks,
      scale: { t: s(at.t), y: s(rank - 2), x: s(rank - 1), units: { t: u(at.t), y: u(rank - 2), x: u(rank - 1) } },
    };
    return new ZarrStackReader(info, array, at);
  }

  /** Frames [start, start + count) as one array, (t, y, x) order (into `into` when given, as the TIFF reader). */
  readFrames(start: number, count: number, into?: StackArray): Promise<StackArray> {
    const [, h, w] = this.info.shape;
    return this.readRegion({ t: start, y: 0, x: 0 }, { t: count, h, w }, into);
  }

  /**
   * A box of frames [t, t + size.t) × rows [y, y + size.h) × columns [x, x + size.w), (t, y, x)
   * order: only the chunks it touches are read (training patches from a stack larger than memory).
   */
  async readRegion(origin: Point3, size: Size3, into?: StackArray): Promise<StackArray> {
    const [frames, H, W] = this.info.shape;
    const [t0, t1] = [origin.t, origin.t + size.t];
    if (!(t0 >= 0 && t1 <= frames && size.t >= 0)) throw new RangeError(`frames ${t0}..${t1} outside 0..${frames}`);
    if (!(origin.y >= 0 && origin.x >= 0 && origin.y + size.h <= H && origin.x + size.w <= W)) {
      throw new RangeError(`rows ${origin.y}..${origin.y + size.h}, columns ${origin.x}..${origin.x + size.w} outside ${H}×${W}`);
    }
    const plane = size.h * size.w;
    const out = into ?? makeStackArray(this.info.dtype, size.t * plane);
    const Z = this.info.sizes.Z;
    const yx = [zarr.slice(origin.y, origin.y + size.h), zarr.slice(origin.x, origin.x + size.w)];
    // One read per run of frames that shares a z range: all of them when there is no z axis.
    for (let f = t0; f < t1;) {
      const t = Math.floor(f / Z);
      const z0 = f % Z;
      const z1 = Z > 1 ? Math.min(Z, z0 + (t1 - f)) : 1;
      const tEnd = Z > 1 ? t + 1 : t1;
      const selection = [...this.selection(Z > 1 ? t : f, Z > 1 ? t + 1 : tEnd, z0, z1), ...yx];
      let chunk: zarr.Chunk<zarr.DataType>;
      try {
        chunk = await zarr.get(this.array, selection);
      } catch (err) {
        throw cannotRead(this.info.path, `a chunk could not be read (${(err as Error).message})`, 'The store is incomplete or damaged; copy or write it again');
      }
      const n = Z > 1 ? z1 - z0 : tEnd - f;
      out.set(chunk.data as StackArray, (f - t0) * plane);
      f += n;
    }
    return out;
  }

  /** The whole stack. */
  async readAll(): Promise<Stack> {
    return { data: await this.readFrames(0, this.info.shape[0]), shape: this.info.shape, dtype: this.info.dtype };
  }

  async close(): Promise<void> {
    // zarrita's stores hold no handles between reads.
  }

  /** The selection of frames t0..t1 (time axis), z0..z1 and the chosen channel, over the axes before y and x. */
  private selection(t0: number, t1: number, z0: number, z1: number): (zarr.Slice | number | null)[] {
    const sel: (zarr.Slice | number | null)[] = Array.from({ length: this.array.shape.length - 2 }, () => null);
    if (this.at.t >= 0) sel[this.at.t] = zarr.slice(t0, t1);
    if (this.at.z >= 0) sel[this.at.z] = zarr.slice(z0, z1);
    if (this.at.c >= 0) sel[this.at.c] = this.info.channel ?? 0;
    return sel;
  }
}
