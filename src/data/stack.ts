/** Pixel types a stack may hold on disk. */
export type StackDType = 'uint8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32';

export type StackArray = Uint8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array;

/** A single-channel time-lapse: T frames of H×W pixels, row-major (t, y, x). */
export interface Stack {
  readonly data: StackArray;
  readonly shape: readonly [t: number, h: number, w: number];
  readonly dtype: StackDType;
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
