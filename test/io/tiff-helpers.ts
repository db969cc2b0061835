/**
 * Test helpers: a hand-rolled TIFF builder (any byte order, classic or BigTIFF, strips or tiles,
 * arbitrary tags) and the encoders tests need (PackBits, LZW, deflate, zstd raw frames, predictors).
 * Independent of src/io/tiff/writer.ts so reader tests do not rely on our own writer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { deflateSync } from 'node:zlib';
import { makeStackArray, type StackArray, type StackDType } from '../../src/node.js';

export const T_BYTE = 1, T_ASCII = 2, T_SHORT = 3, T_LONG = 4, T_DOUBLE = 12, T_LONG8 = 16;
const TYPE_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 12: 8, 16: 8 };

export interface ExtraTag {
  tag: number;
  type: number;
  values: number[];
}

export interface PageSpec {
  width: number;
  height: number;
  bits?: number;
  sampleFormat?: number;
  samples?: number;
  photometric?: number;
  compression?: number;
  predictor?: number;
  /** Strip or tile payloads, already encoded (file byte order, compressed if compression is set). */
  blocks: Uint8Array[];
  rowsPerStrip?: number;
  tile?: [w: number, h: number];
  description?: string;
  extra?: ExtraTag[];
  /** Write blocks in reverse file order (offsets stay correct) to test scattered strips. */
  reverseBlocks?: boolean;
}

export interface BuildOptions {
  le?: boolean;
  big?: boolean;
}

/** Builds a TIFF file: for each page, its blocks then its IFD (values out of line after it). */
export function buildTiff(pages: PageSpec[], opts: BuildOptions = {}): Uint8Array {
  const le = opts.le ?? true;
  const big = opts.big ?? false;
  const parts: Buffer[] = [];
  let pos = 0;
  const push = (b: Buffer | Uint8Array): number => {
    const at = pos;
    parts.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    pos += b.byteLength;
    return at;
  };
  const pad = (a: number): void => {
    if (pos % a) push(Buffer.alloc(a - (pos % a)));
  };
  const w16 = (b: Buffer, v: number, o: number): void => { if (le) b.writeUInt16LE(v, o); else b.writeUInt16BE(v, o); };
  const w32 = (b: Buffer, v: number, o: number): void => { if (le) b.writeUInt32LE(v, o); else b.writeUInt32BE(v, o); };
  const w64 = (b: Buffer, v: number, o: number): void => { if (le) b.writeBigUInt64LE(BigInt(v), o); else b.writeBigUInt64BE(BigInt(v), o); };
  const wOff = (b: Buffer, v: number, o: number): void => (big ? w64(b, v, o) : w32(b, v, o));

  const header = Buffer.alloc(big ? 16 : 8);
  header.write(le ? 'II' : 'MM', 0, 'latin1');
  w16(header, big ? 43 : 42, 2);
  if (big) { w16(header, 8, 4); w16(header, 0, 6); }
  push(header);
  const patches: Array<{ part: Buffer; at: number; value: number }> = [];
  let nextPtr = { part: header, at: big ? 8 : 4 };

  for (const page of pages) {
    const order = page.blocks.map((_, i) => i);
    if (page.reverseBlocks) order.reverse();
    const offsets = new Array<number>(page.blocks.length);
    for (const i of order) {
      pad(2);
      offsets[i] = push(page.blocks[i]!);
    }
    const offType = big ? T_LONG8 : T_LONG;
    const tags: ExtraTag[] = [
      { tag: 256, type: T_LONG, values: [page.width] },
      { tag: 257, type: T_LONG, values: [page.height] },
      { tag: 258, type: T_SHORT, values: new Array(page.samples ?? 1).fill(page.bits ?? 16) },
      { tag: 259, type: T_SHORT, values: [page.compression ?? 1] },
      { tag: 262, type: T_SHORT, values: [page.photometric ?? 1] },
      { tag: 277, type: T_SHORT, values: [page.samples ?? 1] },
      { tag: 339, type: T_SHORT, values: new Array(page.samples ?? 1).fill(page.sampleFormat ?? 1) },
    ];
    if (page.predictor) tags.push({ tag: 317, type: T_SHORT, values: [page.predictor] });
    if (page.tile) {
      tags.push({ tag: 322, type: T_LONG, values: [page.tile[0]] }, { tag: 323, type: T_LONG, values: [page.tile[1]] });
      tags.push({ tag: 324, type: offType, values: offsets }, { tag: 325, type: offType, values: page.blocks.map((b) => b.length) });
    } else {
      tags.push({ tag: 273, type: offType, values: offsets }, { tag: 279, type: offType, values: page.blocks.map((b) => b.length) });
      tags.push({ tag: 278, type: T_LONG, values: [page.rowsPerStrip ?? page.height] });
    }
    if (page.description !== undefined) {
      tags.push({ tag: 270, type: T_ASCII, values: [...Buffer.from(page.description + '\0', 'utf8')] });
    }
    for (const e of page.extra ?? []) {
      const i = tags.findIndex((t) => t.tag === e.tag);
      if (i >= 0) tags.splice(i, 1);
      tags.push(e);
    }
    tags.sort((a, b) => a.tag - b.tag);

    pad(2);
    const entrySize = big ? 20 : 12;
    const head = big ? 8 : 2;
    const ifdLen = head + tags.length * entrySize + (big ? 8 : 4);
    const inlineMax = big ? 8 : 4;
    let extraLen = 0;
    for (const t of tags) {
      const n = TYPE_SIZE[t.type]! * t.values.length;
      if (n > inlineMax) extraLen += n + (n % 2);
    }
    const ifdAt = pos;
    const ifd = Buffer.alloc(ifdLen + extraLen);
    if (big) w64(ifd, tags.length, 0); else w16(ifd, tags.length, 0);
    let extraAt = ifdLen;
    tags.forEach((t, k) => {
      const e = head + k * entrySize;
      w16(ifd, t.tag, e);
      w16(ifd, t.type, e + 2);
      if (big) w64(ifd, t.values.length, e + 4); else w32(ifd, t.values.length, e + 4);
      const size = TYPE_SIZE[t.type]!;
      const n = size * t.values.length;
      let at = e + (big ? 12 : 8);
      if (n > inlineMax) {
        wOff(ifd, ifdAt + extraAt, at);
        at = extraAt;
        extraAt += n + (n % 2);
      }
      t.values.forEach((v, i) => {
        const o = at + i * size;
        switch (t.type) {
          case T_BYTE: case T_ASCII: ifd[o] = v; break;
          case T_SHORT: w16(ifd, v, o); break;
          case T_LONG: w32(ifd, v, o); break;
          case T_LONG8: w64(ifd, v, o); break;
          case T_DOUBLE: if (le) ifd.writeDoubleLE(v, o); else ifd.writeDoubleBE(v, o); break;
        }
      });
    });
    push(ifd);
    patches.push({ ...nextPtr, value: ifdAt });
    nextPtr = { part: ifd, at: head + tags.length * entrySize };
  }
  for (const p of patches) wOff(p.part, p.value, p.at);
  return new Uint8Array(Buffer.concat(parts));
}

/** Copies an array's samples into file byte order. */
export function toFileOrder(a: StackArray, le: boolean): Uint8Array {
  const b = Buffer.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  if (!le) {
    if (a.BYTES_PER_ELEMENT === 2) b.swap16();
    else if (a.BYTES_PER_ELEMENT === 4) b.swap32();
  }
  return new Uint8Array(b);
}

export function bytesEqual(a: StackArray, b: StackArray): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Deterministic test pixels spanning the dtype's range (negatives, large values, fractions). */
export function pattern(dtype: StackDType, n: number, seed = 1): StackArray {
  const a = makeStackArray(dtype, n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    switch (dtype) {
      case 'uint8': a[i] = s & 0xff; break;
      case 'uint16': a[i] = s & 0xffff; break;
      case 'int16': a[i] = (s & 0xffff) - 32768; break;
      case 'uint32': a[i] = s; break;
      case 'int32': a[i] = s | 0; break;
      case 'float32': a[i] = ((s / 2 ** 32) - 0.3) * 1e4; break;
    }
  }
  // Smooth runs so compressors and predictors have something to work with.
  for (let i = 0; i < Math.min(n, 64); i++) a[(i * 7) % n] = a[0]!;
  return a;
}

export function tiffType(dtype: StackDType): { bits: number; sampleFormat: number } {
  return {
    uint8: { bits: 8, sampleFormat: 1 }, uint16: { bits: 16, sampleFormat: 1 }, int16: { bits: 16, sampleFormat: 2 },
    uint32: { bits: 32, sampleFormat: 1 }, int32: { bits: 32, sampleFormat: 2 }, float32: { bits: 32, sampleFormat: 3 },
  }[dtype];
}

/** One uncompressed single-strip page per frame. */
export function simpleStack(data: StackArray, dtype: StackDType, t: number, h: number, w: number, opts: BuildOptions & { description?: string } = {}): Uint8Array {
  const px = h * w;
  const pages: PageSpec[] = [];
  for (let k = 0; k < t; k++) {
    pages.push({
      width: w, height: h, ...tiffType(dtype),
      blocks: [toFileOrder(data.subarray(k * px, (k + 1) * px), opts.le ?? true)],
      ...(k === 0 && opts.description !== undefined ? { description: opts.description } : {}),
    });
  }
  return buildTiff(pages, opts);
}

// ---------------------------------------------------------------------------------------------
// Encoders

export function packBitsEncode(src: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < src.length) {
    let run = 1;
    while (i + run < src.length && run < 128 && src[i + run] === src[i]) run++;
    if (run >= 3) {
      out.push(257 - run, src[i]!);
      i += run;
      continue;
    }
    let lit = 0;
    while (i + lit < src.length && lit < 128) {
      if (i + lit + 2 < src.length && src[i + lit] === src[i + lit + 1] && src[i + lit] === src[i + lit + 2]) break;
      lit++;
    }
    out.push(lit - 1, ...src.subarray(i, i + lit));
    i += lit;
  }
  out.push(128); // a no-op header, which decoders must skip
  return new Uint8Array(out);
}

/** TIFF LZW encoder (MSB-first, early change, clear at 4094) following libtiff. */
export function lzwEncode(src: Uint8Array): Uint8Array {
  const out: number[] = [];
  let acc = 0;
  let nacc = 0;
  let width = 9;
  const put = (code: number): void => {
    acc = (acc << width) | code;
    nacc += width;
    while (nacc >= 8) {
      out.push((acc >>> (nacc - 8)) & 0xff);
      nacc -= 8;
    }
    acc &= (1 << nacc) - 1;
  };
  let dict = new Map<number, number>();
  let next = 258;
  put(256);
  let w = -1;
  for (const b of src) {
    if (w < 0) { w = b; continue; }
    const key = w * 256 + b;
    const c = dict.get(key);
    if (c !== undefined) { w = c; continue; }
    put(w);
    dict.set(key, next++);
    if (next === 4094) {
      put(256);
      dict = new Map();
      next = 258;
      width = 9;
    } else if (next === 1 << width) {
      width++;
    }
    w = b;
  }
  if (w >= 0) {
    put(w);
    next++;
    if (next === 1 << width && width < 12) width++;
  }
  put(257);
  if (nacc > 0) out.push((acc << (8 - nacc)) & 0xff);
  return new Uint8Array(out);
}

export function deflateEncode(src: Uint8Array): Uint8Array {
  return new Uint8Array(deflateSync(src));
}

/** A zstd frame holding the data in raw (stored) blocks — valid zstd without a zstd encoder. */
export function zstdRawFrame(src: Uint8Array): Uint8Array {
  const parts: number[] = [0x28, 0xb5, 0x2f, 0xfd, 0x00]; // magic, descriptor: no checksum, no content size
  // Window descriptor: exponent so that window ≥ block sizes (128 KiB).
  parts.push((17 - 10) << 3);
  const max = 128 * 1024;
  for (let o = 0; o < src.length || o === 0; o += max) {
    const n = Math.min(max, src.length - o);
    const last = o + max >= src.length ? 1 : 0;
    const h = last | (0 << 1) | (n << 3);
    parts.push(h & 0xff, (h >>> 8) & 0xff, (h >>> 16) & 0xff, ...src.subarray(o, o + n));
    if (src.length === 0) break;
  }
  return new Uint8Array(parts);
}

/** Horizontal differencing (Predictor 2) of host-order samples, per row. */
export function horizontalDiff(a: StackArray, width: number): StackArray {
  const out = a.slice();
  for (let r = 0; r < a.length / width; r++) {
    for (let x = width - 1; x >= 1; x--) out[r * width + x] = a[r * width + x]! - a[r * width + x - 1]!;
  }
  return out;
}

/** Floating-point predictor (Predictor 3) of float32 rows: MSB-first byte planes, then byte differences. */
export function floatPredictorEncode(a: Float32Array, width: number): Uint8Array {
  const rows = a.length / width;
  const out = new Uint8Array(a.length * 4);
  const dv = new DataView(a.buffer, a.byteOffset, a.byteLength);
  for (let r = 0; r < rows; r++) {
    const row = out.subarray(r * width * 4, (r + 1) * width * 4);
    for (let x = 0; x < width; x++) {
      const bits = dv.getUint32((r * width + x) * 4, true);
      for (let b = 0; b < 4; b++) row[b * width + x] = (bits >>> (24 - 8 * b)) & 0xff;
    }
    for (let i = row.length - 1; i >= 1; i--) row[i] = (row[i]! - row[i - 1]!) & 0xff;
  }
  return out;
}

/** Splits a page's file-order bytes into strips of `rows` rows. */
export function strips(bytes: Uint8Array, rowBytes: number, rows: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; o += rowBytes * rows) out.push(bytes.subarray(o, Math.min(bytes.length, o + rowBytes * rows)));
  return out;
}

/** Cuts a page (host-order array of h×w) into tw×th tiles, zero-padded at the edges, in file order. */
export function tiles(a: StackArray, h: number, w: number, tw: number, th: number, le: boolean): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let ty = 0; ty < h; ty += th) {
    for (let tx = 0; tx < w; tx += tw) {
      const t = a.constructor === Float32Array ? new Float32Array(tw * th) : (new (a.constructor as new (n: number) => StackArray)(tw * th));
      for (let y = 0; y < th && ty + y < h; y++) {
        for (let x = 0; x < tw && tx + x < w; x++) t[y * tw + x] = a[(ty + y) * w + tx + x]!;
      }
      out.push(toFileOrder(t, le));
    }
  }
  return out;
}

/** A fresh temporary folder, removed by the returned cleanup. */
export function tempDir(prefix = 'srdtrans-tiff-'): { dir: string; file: (name: string) => string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, file: (name) => path.join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
