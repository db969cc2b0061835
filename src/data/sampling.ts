/**
 * Training pairs from a patch: spatial redundancy sampling (SRDTrans) and temporal interleaving
 * (DeepCAD-style). Patches are (t, h, w) row-major Float32Arrays.
 */
import { ConfigError } from '../errors.js';
import type { Rng } from '../util/rng.js';

/**
 * The 8 ordered (input, target1, target2) triples of a 2×2 cell, pixels numbered
 * 0=(row0,col0) 1=(row0,col1) 2=(row1,col0) 3=(row1,col1); targets are the input pixel's
 * horizontal and vertical neighbours in either order.
 */
export const CELL_TRIPLES: readonly (readonly [number, number, number])[] = [
  [0, 1, 2], [0, 2, 1],
  [1, 0, 3], [1, 3, 0],
  [2, 0, 3], [2, 3, 0],
  [3, 2, 1], [3, 1, 2],
];

export interface SpatialPairs {
  readonly input: Float32Array;
  readonly target1: Float32Array;
  readonly target2: Float32Array;
}

/**
 * Spatial redundancy sampling: for every frame and every 2×2 cell independently, one of the 8
 * triples is drawn uniformly from `rng` (frames in order, cells in row-major order); its first
 * pixel goes to `input`, the second to `target1`, the third to `target2`.
 * Each output is t × h/2 × w/2. h and w must be even.
 */
export function spatialPairs(patch: Float32Array, t: number, h: number, w: number, rng: Rng): SpatialPairs {
  if (h % 2 !== 0 || w % 2 !== 0) {
    throw new ConfigError(`spatial sampling needs an even patch height and width, got ${h}×${w}`);
  }
  if (patch.length !== t * h * w) throw new RangeError(`patch holds ${patch.length} values, expected ${t}×${h}×${w}`);
  const h2 = h / 2;
  const w2 = w / 2;
  const n = t * h2 * w2;
  const input = new Float32Array(n);
  const target1 = new Float32Array(n);
  const target2 = new Float32Array(n);
  // Offsets of the cell pixels 0..3 from the cell's top-left corner.
  const off = [0, 1, w, w + 1];
  const flat = CELL_TRIPLES.flat();
  let o = 0;
  for (let f = 0; f < t; f++) {
    const frame = f * h * w;
    for (let cy = 0; cy < h2; cy++) {
      const row = frame + 2 * cy * w;
      for (let cx = 0; cx < w2; cx++) {
        const base = row + 2 * cx;
        const k = 3 * rng.int(8);
        input[o] = patch[base + off[flat[k]!]!]!;
        target1[o] = patch[base + off[flat[k + 1]!]!]!;
        target2[o] = patch[base + off[flat[k + 2]!]!]!;
        o++;
      }
    }
  }
  return { input, target1, target2 };
}

export interface TemporalPairs {
  readonly input: Float32Array;
  readonly target: Float32Array;
}

/**
 * Temporal (DeepCAD-RT) pairs from a patch of t2 frames: input = frames 0, 2, 4, …,
 * target = frames 1, 3, 5, … (each t2/2 × h × w). DeepCAD-RT swaps input and target with
 * probability 1/2 per patch; pass `swap` (e.g. `rng.next() < 0.5`) to do the same.
 */
export function temporalPairs(patch: Float32Array, t2: number, h: number, w: number, swap = false): TemporalPairs {
  if (t2 % 2 !== 0) throw new ConfigError(`temporal sampling needs an even number of frames, got ${t2}`);
  if (patch.length !== t2 * h * w) throw new RangeError(`patch holds ${patch.length} values, expected ${t2}×${h}×${w}`);
  const frame = h * w;
  const half = t2 / 2;
  const even = new Float32Array(half * frame);
  const odd = new Float32Array(half * frame);
  for (let i = 0; i < half; i++) {
    even.set(patch.subarray(2 * i * frame, (2 * i + 1) * frame), i * frame);
    odd.set(patch.subarray((2 * i + 1) * frame, (2 * i + 2) * frame), i * frame);
  }
  return swap ? { input: odd, target: even } : { input: even, target: odd };
}
