/** Pixel types a stack may hold on disk. */
export type StackDType = 'uint8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32';

export type StackArray = Uint8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array;

/** A single-channel time-lapse: T frames of H×W pixels, row-major (t, y, x). */
export interface Stack {
  readonly data: StackArray;
  readonly shape: readonly [t: number, h: number, w: number];
  readonly dtype: StackDType;
}

/** What a stack file's reader says before reading pixels (TIFF, OME-Zarr). */
export interface StackFileInfo {
  /** The file's path or URL, or the name it was opened under. */
  readonly path: string;
  /** Frames readFrames yields (after channel selection; z planes count as frames), height, width. */
  readonly shape: readonly [t: number, h: number, w: number];
  readonly dtype: StackDType;
  /** The file's axes, outermost first, dimensions longer than 1 only, e.g. "TYX", "TCYX", "TZCYX". */
  readonly axes: string;
  readonly sizes: { readonly T: number; readonly Z: number; readonly C: number };
  /** The selected channel (0-based), or null for a single-channel file read as a whole. */
  readonly channel: number | null;
}

export function makeStackArray(dtype: StackDType, length: number): StackArray {
  switch (dtype) {
    case 'uint8': return new Uint8Array(length);
    case 'uint16': return new Uint16Array(length);
    case 'int16': return new Int16Array(length);
    case 'uint32': return new Uint32Array(length);
    case 'int32': return new Int32Array(length);
    case 'float32': return new Float32Array(length);
  }
}

export function frameSize(stack: Stack): number {
  return stack.shape[1] * stack.shape[2];
}

/** One frame as float32 (for figures and metrics). */
export function frameOf(stack: Stack, t: number): Float32Array {
  const n = frameSize(stack);
  return Float32Array.from(stack.data.subarray(t * n, (t + 1) * n));
}
