/**
 * Where the worker writes a denoised TIFF: an array in memory, or, for an output too large to
 * hold, a file of the origin-private file system written frame by frame through a sync access
 * handle (only workers have those). Either way the page gets a Blob to download, and the
 * bytes are the same.
 */
import { TiffEncoder, TiffStreamEncoder, UserError, type FrameSink, type StackArray, type StackDType } from '../../src/index.js';

const FOLDER = 'srdtrans-denoised';

export interface DenoisedOutput extends FrameSink {
  readonly stored: 'memory' | 'browser storage';
  /** The finished file, once every frame is written. */
  close(): Promise<Blob>;
  /** Drops what was written (a cancelled or failed job). */
  abort(): Promise<void>;
}

type Shape = readonly [number, number, number];

export function memoryOutput(name: string, shape: Shape, dtype: StackDType): DenoisedOutput {
  const encoder = new TiffEncoder(name, shape, dtype);
  return {
    stored: 'memory',
    writeFrames: (data: StackArray) => encoder.writeFrames(data),
    close: async () => new Blob([encoder.bytes() as Uint8Array<ArrayBuffer>], { type: 'image/tiff' }),
    abort: async () => undefined,
  };
}

export async function storedOutput(name: string, shape: Shape, dtype: StackDType): Promise<DenoisedOutput> {
  let dir: FileSystemDirectoryHandle;
  let file: FileSystemFileHandle;
  let handle: FileSystemSyncAccessHandle;
  try {
    dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(FOLDER, { create: true });
    file = await dir.getFileHandle(name, { create: true });
    handle = await file.createSyncAccessHandle();
    handle.truncate(0);
  } catch (err) {
    throw storageError(name, err);
  }
  const abort = async (): Promise<void> => {
    handle.close();
    await dir.removeEntry(name).catch(() => undefined);
  };
  let encoder: TiffStreamEncoder;
  try {
    encoder = new TiffStreamEncoder(name, shape, dtype, (bytes, at) => {
      let written: number;
      try {
        written = handle.write(bytes, { at });
      } catch (err) {
        throw storageError(name, err);
      }
      if (written !== bytes.length) throw storageError(name, new Error(`${written} of ${bytes.length} bytes written`));
    });
  } catch (err) {
    await abort();
    throw err;
  }
  return {
    stored: 'browser storage',
    writeFrames: (data: StackArray) => encoder.writeFrames(data),
    async close() {
      encoder.finish();
      handle.flush();
      handle.close();
      return file.getFile();
    },
    abort,
  };
}

/** Removes the outputs an earlier page left (nothing refers to them after a reload); files in use stay. */
export async function clearStoredOutputs(): Promise<void> {
  try {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(FOLDER, { create: true });
    for await (const name of dir.keys()) await dir.removeEntry(name).catch(() => undefined);
  } catch {
    // No storage (a private window may have none): streaming reports that when it is needed.
  }
}

function storageError(name: string, err: unknown): UserError {
  const full = (err as DOMException).name === 'QuotaExceededError';
  const why = full ? "the browser's storage is full" : `the browser's storage refused it (${(err as Error).message})`;
  return new UserError(`${name}: cannot write the denoised stack: ${why}; delete saved models or other sites' data, or denoise fewer frames`, { cause: err });
}
