import * as tf from '@tensorflow/tfjs-core';
import { type ModelConfig } from '../../src/node.js';
import { Rng } from '../../src/util/rng.js';

/** A tiny network for fast tests: 2 levels, E=8, 2 heads, window 3, T=4 (so S=1). */
export const TINY: ModelConfig = {
  fMaps: [2, 4],
  embedDim: 8,
  heads: 2,
  mlpDim: 16,
  window: 3,
  blocks: 1,
  patchT: 4,
  attnDropout: 0.1,
};

export function randomArray(n: number, seed: number, scale = 1): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * scale;
  return out;
}

export function randomInput(shape: [number, number, number, number], seed: number): tf.Tensor4D {
  return tf.tensor4d(randomArray(shape.reduce((a, b) => a * b, 1), seed), shape);
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
