/**
 * Parameter bookkeeping: published (PyTorch) names and layouts versus the internal TF.js
 * layouts, and the conversion between them at the state-dict boundary.
 */

export interface StateTensor {
  shape: number[];
  dtype: 'float32' | 'int64';
  data: Float32Array | BigInt64Array;
}

/** Published names, PyTorch layouts. */
export type StateDict = Map<string, StateTensor>;

/**
 * How a parameter is stored internally, relative to its published PyTorch layout:
 * - plain:   same layout (biases, LayerNorm, positional embedding, bias tables)
 * - linear:  PyTorch (out, in)               -> internal [in, out]
 * - conv3d:  PyTorch (out, in, kt, kh, kw)   -> internal [kt, kh, kw, in, out]
 * - convT3d: PyTorch (in, out, kt, kh, kw)   -> internal [kt, kh, kw, in, out]
 *            (in = the transposed convolution's input channels)
 */
export type Layout = 'plain' | 'linear' | 'conv3d' | 'convT3d';

export type InitSpec =
  | { kind: 'uniform'; bound: number }
  | { kind: 'truncNormal'; std: number; a: number; b: number }
  | { kind: 'zeros' }
  | { kind: 'ones' };

export interface ParamSpec {
  /** Published state-dict name. */
  name: string;
  /** Published (PyTorch) shape. */
  shape: number[];
  layout: Layout;
  init: InitSpec;
}

/** A non-trainable int64 buffer of the published state dict (Swin relative_position_index). */
export interface BufferSpec {
  name: string;
  shape: number[];
  values: () => BigInt64Array;
}

export type Entry = { kind: 'param'; spec: ParamSpec } | { kind: 'buffer'; spec: BufferSpec };

/** Permutation p such that internal = transpose(published, p). */
export function toInternalPerm(layout: Layout, rank: number): number[] {
  switch (layout) {
    case 'plain':
      return [...Array(rank).keys()];
    case 'linear':
      return [1, 0];
    case 'conv3d':
      return [2, 3, 4, 1, 0];
    case 'convT3d':
      return [2, 3, 4, 0, 1];
  }
}

/** Permutation p such that published = transpose(internal, p). */
export function toPublishedPerm(layout: Layout, rank: number): number[] {
  const p = toInternalPerm(layout, rank);
  const inv = new Array<number>(rank);
  p.forEach((src, dst) => (inv[src] = dst));
  return inv;
}

export function permuteShape(shape: readonly number[], perm: readonly number[]): number[] {
  return perm.map((p) => shape[p]!);
}

export function internalShape(spec: ParamSpec): number[] {
  return permuteShape(spec.shape, toInternalPerm(spec.layout, spec.shape.length));
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Plain-JS transpose of a row-major array: out = transpose(data of `shape`, perm). */
export function transposeData(data: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array {
  const rank = shape.length;
  const identity = perm.every((p, i) => p === i);
  if (identity) return data.slice();
  const outShape = permuteShape(shape, perm);
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i]!;
  }
  // Stride in the input for each output axis.
  const strideForOut = perm.map((p) => inStrides[p]!);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[src]!;
    for (let ax = rank - 1; ax >= 0; ax--) {
      idx[ax]!++;
      src += strideForOut[ax]!;
      if (idx[ax]! < outShape[ax]!) break;
      src -= strideForOut[ax]! * outShape[ax]!;
      idx[ax] = 0;
    }
  }
  return out;
}

export function formatShape(shape: readonly number[]): string {
  return `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
}
