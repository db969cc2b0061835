/**
 * Random-access bytes, so that readers work the same on a File or Blob in a browser, a file
 * handle in Node (node/files.ts) or a reader of HTTP ranges: anything with a size and a read.
 */
export interface ByteSource {
  /** Length in bytes. */
  readonly size: number;
  /** `length` bytes from `offset`; fewer only where the source ends first. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Fills `target` from `offset` and returns how many bytes that took (fewer at the end): where a
   * source can write into the caller's array (a file handle) this saves a copy of each frame.
   */
  readInto?(offset: number, target: Uint8Array): Promise<number>;
  /** Releases what the source holds (a file handle). */
  close?(): Promise<void>;
}

/** Bytes already in memory. */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + length)),
  };
}

/** A File or Blob (a browser's file input or drop; Node has Blob too). */
export function blobSource(blob: Blob): ByteSource {
  return {
    size: blob.size,
    read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
  };
}

/** Fills `target` from `offset` through whichever read the source has; returns the bytes read. */
export async function readFully(source: ByteSource, offset: number, target: Uint8Array): Promise<number> {
  if (source.readInto) return source.readInto(offset, target);
  const bytes = await source.read(offset, target.length);
  target.set(bytes);
  return bytes.length;
}
