/**
 * Axis metadata from ImageDescription: ImageJ hyperstacks and OME-XML. Pages are always read in
 * file order; these functions only say which page holds which (t, z, c).
 */

export type TiffFormat = 'imagej' | 'ome' | 'plain';

/** Sizes of the non-spatial dimensions and their order in the file (outermost first). */
export interface PageLayout {
  readonly format: TiffFormat;
  /** File axes, outermost first, only dimensions longer than 1, then "YX" (e.g. "TZCYX"). */
  readonly axes: string;
  readonly sizes: { readonly T: number; readonly Z: number; readonly C: number };
  /** Pages between consecutive channels (the C stride in page units). */
  readonly channelStride: number;
  /** Number of pages this metadata describes. */
  readonly images: number;
}

export interface ImageJMeta {
  readonly images: number;
  readonly channels: number;
  readonly slices: number;
  readonly frames: number;
}

/** Parses "ImageJ=1.54f\nimages=20\nchannels=2\n…"; null if the description is not ImageJ's. */
export function parseImageJDescription(desc: string): ImageJMeta | null {
  if (!desc.startsWith('ImageJ=')) return null;
  const kv = new Map<string, string>();
  for (const line of desc.split(/\r?\n/)) {
    const eq = line.indexOf('=');
    if (eq > 0) kv.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const int = (key: string): number | undefined => {
    const v = kv.get(key);
    if (v === undefined || !/^\d+$/.test(v)) return undefined;
    const n = Number(v);
    return n >= 1 ? n : undefined;
  };
  const channels = int('channels') ?? 1;
  const frames = int('frames') ?? 1;
  let slices = int('slices');
  let images = int('images');
  if (images === undefined) images = channels * (slices ?? 1) * frames;
  // ImageJ: a stack with only "images=N" is N slices.
  if (slices === undefined) {
    const q = images / (channels * frames);
    slices = Number.isInteger(q) && q >= 1 ? q : 1;
  }
  return { images, channels, slices, frames };
}

/** ImageJ stores pages with channel fastest, then slice, then frame (file order T, Z, C). */
export function imagejLayout(meta: ImageJMeta): PageLayout {
  const { channels: C, slices: Z, frames: T } = meta;
  let axes = '';
  if (T > 1) axes += 'T';
  if (Z > 1) axes += 'Z';
  if (C > 1) axes += 'C';
  return { format: 'imagej', axes: axes + 'YX', sizes: { T, Z, C }, channelStride: 1, images: C * Z * T };
}

export interface OmeMeta {
  readonly dimensionOrder: string;
  readonly sizeX: number;
  readonly sizeY: number;
  readonly sizeZ: number;
  readonly sizeC: number;
  readonly sizeT: number;
  /** Number of <Image> elements (series) in the XML. */
  readonly images: number;
  /** Largest SamplesPerPixel of any Channel (RGB when > 1). */
  readonly samplesPerPixel: number;
  /** TiffData elements that point into other files. */
  readonly externalFiles: boolean;
}

/** Reads the first Pixels element of an OME-XML description; null if the description is not OME-XML. */
export function parseOmeDescription(desc: string): OmeMeta | null {
  const head = desc.slice(0, 4096);
  if (!/<(\w+:)?OME[\s>]/.test(head) && !head.includes('openmicroscopy.org/Schemas/OME')) return null;
  const pixels = /<(?:\w+:)?Pixels\s([^>]*)>/.exec(desc);
  if (!pixels) return null;
  const attrs = pixels[1]!;
  const attr = (name: string): string | undefined => new RegExp(`(?:^|\\s)${name}\\s*=\\s*["']([^"']*)["']`).exec(attrs)?.[1];
  const size = (name: string): number => {
    const n = Number(attr(name) ?? '1');
    return Number.isInteger(n) && n >= 1 ? n : 1;
  };
  let order = (attr('DimensionOrder') ?? 'XYZCT').toUpperCase();
  if (!/^XY[ZCT]{3}$/.test(order) || new Set(order).size !== 5) order = 'XYZCT';
  let spp = 1;
  for (const m of desc.matchAll(/<(?:\w+:)?Channel\s[^>]*?SamplesPerPixel\s*=\s*["'](\d+)["']/g)) spp = Math.max(spp, Number(m[1]));
  const images = [...desc.matchAll(/<(?:\w+:)?Image[\s>]/g)].length;
  const externalFiles = /<(?:\w+:)?UUID[^>]*FileName\s*=/.test(desc);
  return {
    dimensionOrder: order,
    sizeX: size('SizeX'),
    sizeY: size('SizeY'),
    sizeZ: size('SizeZ'),
    sizeC: size('SizeC'),
    sizeT: size('SizeT'),
    images: Math.max(1, images),
    samplesPerPixel: spp,
    externalFiles,
  };
}

/** DimensionOrder "XYZCT" means Z varies fastest across pages, then C, then T. */
export function omeLayout(meta: OmeMeta): PageLayout {
  const sizes = { T: meta.sizeT, Z: meta.sizeZ, C: meta.sizeC };
  const inner = meta.dimensionOrder.slice(2).split('') as ('Z' | 'C' | 'T')[];
  let stride = 1;
  let channelStride = 1;
  for (const d of inner) {
    if (d === 'C') channelStride = stride;
    stride *= sizes[d];
  }
  const axes = inner.slice().reverse().filter((d) => sizes[d] > 1).join('') + 'YX';
  return { format: 'ome', axes, sizes, channelStride, images: sizes.T * sizes.Z * sizes.C };
}

/** A multi-page file without usable metadata: pages are frames. */
export function plainLayout(pages: number): PageLayout {
  return { format: 'plain', axes: pages > 1 ? 'TYX' : 'YX', sizes: { T: pages, Z: 1, C: 1 }, channelStride: 1, images: pages };
}

/** Page indices (file order) that hold channel `c`. */
export function channelPages(layout: PageLayout, c: number): number[] {
  const C = layout.sizes.C;
  const out: number[] = [];
  for (let i = 0; i < layout.images; i++) {
    if (Math.floor(i / layout.channelStride) % C === c) out.push(i);
  }
  return out;
}
