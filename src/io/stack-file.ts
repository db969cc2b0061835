/**
 * Stack files in Node, whichever the format: TIFF files and OME-Zarr stores (folders named
 * *.zarr, http(s) URLs) are opened, read and written through one set of functions, chosen by name.
 */
import { stat } from 'node:fs/promises';
import type { Stack, StackArray, StackDType } from '../data/stack.js';
import { ConfigError } from '../errors.js';
import { openStack as openTiff, TiffStackWriter, type TiffStackReader } from './tiff/index.js';
import { isZarrPath, openZarr, ZarrFileWriter } from './zarr/files.js';
import type { ZarrStackReader } from './zarr/reader.js';
import type { ZarrWriteOptions } from './zarr/writer.js';

export type StackFileReader = TiffStackReader | ZarrStackReader;

/** Opens a TIFF file or an OME-Zarr store for reading frames on demand. */
export function openStackFile(path: string, opts: { channel?: number } = {}): Promise<StackFileReader> {
  return isZarrPath(path) ? openZarr(path, opts) : openTiff(path, opts);
}

/** Reads a whole stack from a TIFF file or an OME-Zarr store. */
export async function readStackFile(path: string, opts: { channel?: number } = {}): Promise<Stack> {
  const reader = await openStackFile(path, opts);
  try {
    const [t, h, w] = reader.shape;
    return { data: await reader.readFrames(0, t), shape: [t, h, w], dtype: reader.dtype };
  } finally {
    await reader.close();
  }
}

/** Output frames in order, under a temporary name until close(); abort() removes them. */
export interface StackFileWriter {
  writeFrames(frames: StackArray): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

/** OME-Zarr settings of an output; ignored for TIFF. */
export type StackFileOptions = Pick<ZarrWriteOptions, 'format' | 'scale' | 'chunks'>;

/**
 * Refuses to replace an OME-Zarr store unless asked: a store is a folder that may hold far more
 * than one run's output (a TIFF file is replaced as it always was).
 */
export async function checkZarrOutput(path: string, overwrite: boolean): Promise<void> {
  if (!isZarrPath(path) || overwrite) return;
  const exists = await stat(path).then(() => true, () => false);
  if (exists) throw new ConfigError(`--out ${path}: already exists; pass --overwrite to replace it, or choose another name`);
}

/** Creates a TIFF file or, for a name ending in .zarr, an OME-Zarr store. */
export async function createStackFile(path: string, shape: readonly [number, number, number], dtype: StackDType, opts: StackFileOptions = {}): Promise<StackFileWriter> {
  if (isZarrPath(path)) return ZarrFileWriter.create(path, shape, dtype, opts);
  const tiff = await TiffStackWriter.create(path, shape, dtype);
  return { writeFrames: async (frames) => tiff.writeFrames(frames), close: () => tiff.close(), abort: () => tiff.abort() };
}

/** Writes a whole stack as TIFF or OME-Zarr. */
export async function writeStackFile(path: string, stack: Stack, opts: StackFileOptions = {}): Promise<void> {
  const writer = await createStackFile(path, stack.shape, stack.dtype, opts);
  try {
    await writer.writeFrames(stack.data);
    await writer.close();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}
