import { inflateSync } from 'fflate';

/**
 * Just enough of the zip format for torch.save archives: torch writes every entry stored (not
 * compressed) with its data 64-byte aligned through padding in the local header's extra field,
 * and switches to zip64 records for large archives. We read entries through the central
 * directory (the only reliable index: local headers may carry padding or data descriptors),
 * inflate deflated entries in case a tool re-zipped the file, and check every CRC so a damaged
 * download is reported rather than loaded as wrong weights.
 */

export class ZipError extends Error {
  override name = 'ZipError';
}

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const MAX_DEFLATE_RATIO = 1032;

let crcTable: Uint32Array | undefined;

export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const table = crcTable;
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

export class ZipReader {
  readonly entries: ZipEntry[];
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.entries = this.readCentralDirectory();
  }

  get(name: string): ZipEntry | undefined {
    return this.entries.find((e) => e.name === name);
  }

  /** The entry's uncompressed bytes (a view into the file when stored), CRC-checked. */
  read(entry: ZipEntry): Uint8Array {
    const { bytes, view } = this;
    const at = entry.localHeaderOffset;
    if (at + 30 > bytes.length || view.getUint32(at, true) !== SIG_LOCAL) {
      throw new ZipError(`zip entry ${entry.name}: local header missing; the file may be truncated or damaged`);
    }
    if (entry.flags & 1) throw new ZipError(`zip entry ${entry.name} is encrypted`);
    const start = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true);
    const end = start + entry.compressedSize;
    if (end > bytes.length) throw new ZipError(`zip entry ${entry.name} runs past the end of the file; the file is truncated`);
    const raw = bytes.subarray(start, end);
    let data: Uint8Array;
    if (entry.method === 0) {
      data = raw;
    } else if (entry.method === 8) {
      // fflate rather than node:zlib so that browsers can read checkpoints: only re-zipped
      // checkpoints are deflated, so this is no hot path. Inflating into a buffer of the declared
      // size bounds memory; output beyond it is dropped and fails the CRC. Deflate cannot expand
      // more than 1032-fold, so a larger declared size is damage, not a reason to allocate it.
      if (entry.size > raw.length * MAX_DEFLATE_RATIO) {
        throw new ZipError(`zip entry ${entry.name} claims ${entry.size} bytes, more than its ${raw.length} deflated bytes can hold; the file is damaged`);
      }
      try {
        data = inflateSync(raw, { out: new Uint8Array(entry.size) });
      } catch (err) {
        throw new ZipError(`zip entry ${entry.name}: cannot inflate (${(err as Error).message})`, { cause: err });
      }
    } else {
      throw new ZipError(`zip entry ${entry.name} uses compression method ${entry.method}; only stored and deflate are supported`);
    }
    if (data.length !== entry.size) throw new ZipError(`zip entry ${entry.name}: ${data.length} bytes, expected ${entry.size}`);
    if (crc32(data) !== entry.crc32) throw new ZipError(`zip entry ${entry.name}: CRC mismatch; the file is damaged`);
    return data;
  }

  private readCentralDirectory(): ZipEntry[] {
    const { bytes, view } = this;
    // The end-of-central-directory record sits in the last 22 + (comment ≤ 65535) bytes.
    let eocd = -1;
    for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
      if (view.getUint32(i, true) === SIG_EOCD) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new ZipError('zip archive has no end-of-central-directory record; the file is truncated or not a zip');
    let count = view.getUint16(eocd + 10, true);
    let cdSize = view.getUint32(eocd + 12, true);
    let cdOffset = view.getUint32(eocd + 16, true);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || view.getUint32(loc, true) !== SIG_ZIP64_LOCATOR) throw new ZipError('zip64 archive without its locator record');
      const z = this.safeNumber(view.getBigUint64(loc + 8, true));
      if (z + 56 > bytes.length || view.getUint32(z, true) !== SIG_ZIP64_EOCD) throw new ZipError('zip64 end-of-central-directory record missing');
      count = this.safeNumber(view.getBigUint64(z + 32, true));
      cdSize = this.safeNumber(view.getBigUint64(z + 40, true));
      cdOffset = this.safeNumber(view.getBigUint64(z + 48, true));
    }
    if (cdOffset + cdSize > bytes.length) throw new ZipError('zip central directory lies past the end of the file; the file is truncated');
    const entries: ZipEntry[] = [];
    let p = cdOffset;
    for (let i = 0; i < count; i++) {
      if (p + 46 > bytes.length || view.getUint32(p, true) !== SIG_CENTRAL) throw new ZipError('zip central directory is damaged');
      const flags = view.getUint16(p + 8, true);
      const method = view.getUint16(p + 10, true);
      const crc = view.getUint32(p + 16, true);
      let compressedSize = view.getUint32(p + 20, true);
      let size = view.getUint32(p + 24, true);
      const nameLen = view.getUint16(p + 28, true);
      const extraLen = view.getUint16(p + 30, true);
      const commentLen = view.getUint16(p + 32, true);
      let localHeaderOffset = view.getUint32(p + 42, true);
      if (p + 46 + nameLen + extraLen > bytes.length) throw new ZipError('zip central directory is damaged');
      const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
      // zip64: the 0xffffffff fields are given, in this order, in extra block 0x0001.
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = view.getUint16(e, true);
        const len = view.getUint16(e + 2, true);
        if (id === 0x0001) {
          let q = e + 4;
          const next = (): number => {
            if (q + 8 > e + 4 + len) throw new ZipError(`zip entry ${name}: zip64 extra field too short`);
            const v = this.safeNumber(view.getBigUint64(q, true));
            q += 8;
            return v;
          };
          if (size === 0xffffffff) size = next();
          if (compressedSize === 0xffffffff) compressedSize = next();
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = next();
        }
        e += 4 + len;
      }
      entries.push({ name, method, flags, crc32: crc, compressedSize, size, localHeaderOffset });
      p = extraEnd + commentLen;
    }
    return entries;
  }

  private safeNumber(v: bigint): number {
    if (v > BigInt(this.bytes.length)) throw new ZipError('zip record points past the end of the file; the file is truncated');
    return Number(v);
  }
}

/**
 * Writes a stored (uncompressed) zip the way torch's writer does: every entry's data starts on a
 * multiple of `align` bytes, padded through an extra field with torch's id 'FB' (torch maps
 * storages straight from the file and relies on the alignment).
 */
export function writeStoredZip(files: { name: string; data: Uint8Array }[], align = 64): Uint8Array {
  if (files.length > 0xffff) throw new ZipError('too many entries for a plain (non-zip64) zip');
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const f of files) {
    const name = enc.encode(f.name);
    const crc = crc32(f.data);
    const base = 30 + name.length;
    // The 'FB' extra block needs 4 header bytes at least; pad up to the next aligned offset.
    const pad = (align - ((offset + base + 4) % align)) % align;
    const extraLen = 4 + pad;
    const local = new Uint8Array(base + extraLen);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, SIG_LOCAL, true);
    lv.setUint16(4, 20, true); // version needed
    lv.setUint16(6, 0, true); // flags
    lv.setUint16(8, 0, true); // stored
    lv.setUint16(10, 0, true); // time
    lv.setUint16(12, 0x21, true); // date 1980-01-01
    lv.setUint32(14, crc, true);
    lv.setUint32(18, f.data.length, true);
    lv.setUint32(22, f.data.length, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, extraLen, true);
    local.set(name, 30);
    lv.setUint16(base, 0x4246, true); // 'FB'
    lv.setUint16(base + 2, pad, true);
    parts.push(local, f.data);

    const c = new Uint8Array(46 + name.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, SIG_CENTRAL, true);
    cv.setUint16(4, 20, true); // version made by
    cv.setUint16(6, 20, true); // version needed
    cv.setUint16(12, 0, true);
    cv.setUint16(14, 0x21, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, f.data.length, true);
    cv.setUint32(24, f.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    c.set(name, 46);
    central.push(c);
    offset += local.length + f.data.length;
    if (offset > 0xfffffff0) throw new ZipError('archive too large for a plain (non-zip64) zip');
  }
  const cdOffset = offset;
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, SIG_EOCD, true);
  ev.setUint16(8, files.length, true);
  ev.setUint16(10, files.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, cdOffset, true);
  const out = new Uint8Array(offset + cdSize + eocd.length);
  let at = 0;
  for (const p of [...parts, ...central, eocd]) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
