/**
 * OME-Zarr in Node: a folder on disk or a URL (read lazily over HTTP range-free chunk requests),
 * and output written into a temporary folder beside the target that close() renames into place,
 * so that an interrupted or failed run never leaves a half-written store under the output name.
 */
import { promises as fsp } from 'node:fs';
import * as nodePath from 'node:path';
import { FileSystemStore } from '@zarrita/storage';
import * as zarr from 'zarrita';
import type { StackArray, StackDType } from '../../data/stack.js';
import { StackError } from '../../errors.js';
import { describeFsError, temporaryPath } from '../atomic.js';
import { ZarrStackReader, type ZarrReadOptions } from './reader.js';
import { ZarrStackWriter, type ZarrWriteOptions } from './writer.js';

/** Whether a path or URL names a Zarr store rather than a TIFF file. */
export function isZarrPath(path: string): boolean {
  return /\.zarr\/?$/i.test(path) || /^https?:\/\//i.test(path);
}

/** Opens an OME-Zarr folder or URL for reading frames on demand. */
export async function openZarr(path: string, opts: ZarrReadOptions = {}): Promise<ZarrStackReader> {
  if (/^https?:\/\//i.test(path)) return ZarrStackReader.open(new zarr.FetchStore(path), path, opts);
  const stat = await fsp.stat(path).catch((err: unknown) => {
    throw new StackError(`Cannot read "${path}": ${describeFsError(err)}. Check the path`);
  });
  if (!stat.isDirectory()) throw new StackError(`Cannot read "${path}": it is a file, not a Zarr folder. Pass the .zarr folder, or name a TIFF file .tif`);
  return ZarrStackReader.open(new FileSystemStore(path), path, opts);
}

/** OME-Zarr output that appears under its name only once complete. */
export class ZarrFileWriter {
  private constructor(
    readonly path: string,
    private readonly tempPath: string,
    private readonly writer: ZarrStackWriter,
  ) {}

  static async create(path: string, shape: readonly [number, number, number], dtype: StackDType, opts: ZarrWriteOptions = {}): Promise<ZarrFileWriter> {
    const tempPath = temporaryPath(path.replace(/\/+$/, ''));
    try {
      await fsp.mkdir(tempPath);
      const writer = await ZarrStackWriter.create(new FileSystemStore(tempPath), shape, dtype, { name: nodePath.basename(path), ...opts });
      return new ZarrFileWriter(path, tempPath, writer);
    } catch (err) {
      await fsp.rm(tempPath, { recursive: true, force: true });
      throw new StackError(`Cannot write "${path}": ${describeFsError(err)}. Choose a writable location`, { cause: err });
    }
  }

  writeFrames(frames: StackArray): Promise<void> {
    return this.writer.writeFrames(frames);
  }

  /** Finishes the store and moves it to its name, replacing what was there. */
  async close(): Promise<void> {
    await this.writer.close();
    await fsp.rm(this.path, { recursive: true, force: true });
    await fsp.rename(this.tempPath, this.path);
  }

  /** Removes the partial store. */
  async abort(): Promise<void> {
    await fsp.rm(this.tempPath, { recursive: true, force: true });
  }
}
