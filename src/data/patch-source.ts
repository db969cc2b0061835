/**
 * Where training patches come from: a stack in memory, or one read on demand (an OME-Zarr store
 * larger than memory: only the chunks under each patch are read). The training loop sees one
 * interface, and both give the same patches to the last bit.
 */
import { checkFinite, extractPatch, StreamingMean, trainingMean, type Point3, type Size3 } from './normalize.js';
import type { Stack, StackArray, StackDType } from './stack.js';

export interface PatchSource {
  readonly shape: readonly [number, number, number];
  /** {@link trainingMean} of the whole stack at `scale`. */
  trainingMean(scale: number): Promise<number>;
  /** {@link extractPatch} of the stack. */
  patch(origin: Point3, size: Size3, scale: number, mean: number): Promise<Float32Array>;
}

export function memoryPatchSource(stack: Stack): PatchSource {
  return {
    shape: stack.shape,
    trainingMean: async (scale) => trainingMean(stack, scale),
    patch: async (origin, size, scale, mean) => extractPatch(stack, origin, size, scale, mean),
  };
}

/** A stack that reads boxes of itself on demand (ZarrStackReader). */
export interface RegionReader {
  readonly shape: readonly [number, number, number];
  readonly dtype: StackDType;
  readRegion(origin: Point3, size: Size3, into?: StackArray): Promise<StackArray>;
}

/** Frames read at a time for the mean: bounded memory on any stack. */
const MEAN_BATCH = 16;

/**
 * Patches read from `reader` when asked for, over its first `frames` frames. The mean takes one
 * pass over those frames, which also refuses non-finite pixels (as a stack loaded whole is checked).
 */
export function lazyPatchSource(reader: RegionReader, name: string, frames = reader.shape[0]): PatchSource {
  const [, h, w] = reader.shape;
  const shape = [Math.min(frames, reader.shape[0]), h, w] as const;
  const means = new Map<number, number>();
  return {
    shape,
    async trainingMean(scale) {
      const known = means.get(scale);
      if (known !== undefined) return known;
      const sum = new StreamingMean(true);
      const fs = Math.fround(scale);
      for (let t = 0; t < shape[0]; t += MEAN_BATCH) {
        const count = Math.min(MEAN_BATCH, shape[0] - t);
        const data = await reader.readRegion({ t, y: 0, x: 0 }, { t: count, h, w });
        checkFinite({ data, shape: [count, h, w], dtype: reader.dtype }, name, t);
        // As trainingMean: each value rounded to float32, divided by the float32 scale, stored as float32.
        const scaled = new Float32Array(data.length);
        for (let i = 0; i < data.length; i++) scaled[i] = Math.fround(data[i]!) / fs;
        sum.push(scaled);
      }
      const mean = sum.mean();
      means.set(scale, mean);
      return mean;
    },
    async patch(origin, size, scale, mean) {
      const data = await reader.readRegion(origin, size);
      return extractPatch({ data, shape: [size.t, size.h, size.w], dtype: reader.dtype }, { t: 0, y: 0, x: 0 }, size, scale, mean);
    },
  };
}
