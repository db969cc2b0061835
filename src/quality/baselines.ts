import type { Stack } from '../data/stack.js';
import { filterAxis, gaussianKernel } from './filters.js';

/**
 * Classical denoisers to compare the learned ones against. Each returns a float32 stack of
 * the input's shape; edges are reflected.
 */

function asFloat(stack: Stack): Float32Array {
  return Float32Array.from(stack.data);
}

function result(stack: Stack, data: Float32Array): Stack {
  return { data, shape: stack.shape, dtype: 'float32' };
}

/** Gaussian blur of each frame (σ in pixels). */
export function gaussianSpatial(stack: Stack, sigma: number): Stack {
  const data = asFloat(stack);
  const k = gaussianKernel(sigma);
  filterAxis(data, stack.shape, 2, k);
  filterAxis(data, stack.shape, 1, k);
  return result(stack, data);
}

/** Gaussian blur in x, y (σxy pixels) and t (σt frames). */
export function gaussianSpatioTemporal(stack: Stack, sigmaXY: number, sigmaT: number): Stack {
  const data = gaussianSpatial(stack, sigmaXY).data as Float32Array;
  filterAxis(data, stack.shape, 0, gaussianKernel(sigmaT));
  return result(stack, data);
}

/** Centred temporal moving average over `window` frames (odd). */
export function movingAverage(stack: Stack, window: number): Stack {
  if (!(Number.isInteger(window) && window >= 1 && window % 2 === 1)) {
    throw new RangeError(`moving-average window must be an odd positive integer, got ${window}`);
  }
  const data = asFloat(stack);
  filterAxis(data, stack.shape, 0, new Float64Array(window).fill(1 / window));
  return result(stack, data);
}

/**
 * Every frame replaced by the stack's temporal mean: all of a recording's static structure and
 * none of its dynamics. In a comparison it says how much of a method's score needs no
 * dynamics at all (trace r is undefined for it: its traces are flat).
 */
export function meanImage(stack: Stack): Stack {
  const [t, h, w] = stack.shape;
  const n = h * w;
  const sum = new Float64Array(n);
  for (let f = 0; f < t; f++) for (let i = 0; i < n; i++) sum[i]! += stack.data[f * n + i]!;
  const frame = Float32Array.from(sum, (v) => v / t);
  const data = new Float32Array(t * n);
  for (let f = 0; f < t; f++) data.set(frame, f * n);
  return result(stack, data);
}
