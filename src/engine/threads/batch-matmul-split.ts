/**
 * BatchMatMul split into shares whose inputs are block copies (long contiguous runs):
 * - b without a batch (or batch 1) and a not transposed: a is one [batch·M, K] matrix, split
 *   along its rows; every share takes all of b.
 * - one product with a transposed a (a weight gradient xᵀ·dy): a is stored K × M; each share
 *   takes a range of its columns, gathered (K runs), and computes those rows of the output.
 * - otherwise, with a batch of at least two products: split along the batch (an operand
 *   without a batch goes whole to every share).
 * Each output element is the same dot product either way, so the output is bit-identical.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { KernelArgs, WasmBackend } from '../kernels/wasm-backend.js';
import { copyRun, heapOffset, plannedShare, shareBounds, sizeOf, usefulShares, type ShareInput, type SplitPlan } from './split.js';

/** BatchMatMul split over the threads; undefined when it should run unsplit. */
export function planBatchMatMul(args: KernelArgs, threads: number, minFlops: number): SplitPlan | undefined {
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA = false, transposeB = false } = args.attrs as { transposeA?: boolean; transposeB?: boolean };
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return undefined;
  const [aRows, aCols] = a.shape.slice(-2) as [number, number];
  const [bRows, bCols] = b.shape.slice(-2) as [number, number];
  const [m, k] = transposeA ? [aCols, aRows] : [aRows, aCols];
  const n = transposeB ? bRows : bCols;
  if ((transposeB ? bCols : bRows) !== k) return undefined; // the wrapped kernel reports the mismatch
  const batchA = sizeOf(a.shape.slice(0, -2));
  const batchB = sizeOf(b.shape.slice(0, -2));
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return undefined;
  const batch = Math.max(batchA, batchB);
  if (2 * batch * m * n * k < minFlops || m * n * k === 0) return undefined;
  threads = usefulShares(threads, 2 * batch * m * n * k, minFlops);
  let outer: number[];
  try {
    outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    return undefined;
  }
  const outShape = [...outer, m, n];
  const backend = args.backend as unknown as WasmBackend;
  const flags = { transposeA, transposeB };
  /** A contiguous block of x, from float `from` on; share 0's blocks start at 0, where x's own buffer serves. */
  const block = (x: TensorInfo, from: number, shape: number[]): ShareInput => ({
    shape,
    fill: (heap, dst, at) => copyRun(heap, heapOffset(backend, x) + from, dst, at, sizeOf(shape)),
    ...(from === 0 ? { view: { dataId: x.dataId, shape, dtype: x.dtype } } : {}),
  });
  const bItem = transposeB ? [n, k] : [k, n];

  if (batchB === 1 && !transposeA) {
    const rows = batchA * m;
    const parts = Math.min(threads, rows);
    if (parts < 2) return undefined;
    const bounds = shareBounds(rows, parts);
    const shares = bounds.slice(1).map((r1, p) => {
      const r0 = bounds[p]!;
      return plannedShare('BatchMatMul', [block(a, r0 * k, [1, r1 - r0, k]), block(b, 0, [1, ...bItem])], [r1 - r0, n], flags);
    });
    return { shares, outShape, place: placeRows(bounds, n) };
  }

  if (batch === 1 && transposeA) {
    const parts = Math.min(threads, m);
    if (parts < 2) return undefined;
    const bounds = shareBounds(m, parts);
    const shares = bounds.slice(1).map((m1, p) => {
      const m0 = bounds[p]!;
      const columns: ShareInput = {
        shape: [1, k, m1 - m0],
        fill: (heap, dst, at) => {
          const from = heapOffset(backend, a) + m0;
          for (let r = 0; r < k; r++) copyRun(heap, from + r * m, dst, at + r * (m1 - m0), m1 - m0);
        },
      };
      return plannedShare('BatchMatMul', [columns, block(b, 0, [1, ...bItem])], [m1 - m0, n], flags);
    });
    return { shares, outShape, place: placeRows(bounds, n) };
  }

  const parts = Math.min(threads, batch);
  if (parts < 2) return undefined;
  const bounds = shareBounds(batch, parts);
  const aItem = transposeA ? [k, m] : [m, k];
  const shares = bounds.slice(1).map((i1, p) => {
    const i0 = bounds[p]!;
    const aShare = batchA === 1 ? block(a, 0, [1, ...aItem]) : block(a, i0 * m * k, [i1 - i0, ...aItem]);
    const bShare = batchB === 1 ? block(b, 0, [1, ...bItem]) : block(b, i0 * k * n, [i1 - i0, ...bItem]);
    return plannedShare('BatchMatMul', [aShare, bShare], [i1 - i0, m, n], flags);
  });
  return { shares, outShape, place: (p, src, from, dst, at) => copyRun(src, from, dst, at + bounds[p]! * m * n, (bounds[p + 1]! - bounds[p]!) * m * n) };
}

/** Placement of shares that computed the output rows [bounds[p], bounds[p + 1]) of width n. */
function placeRows(bounds: number[], n: number): SplitPlan['place'] {
  return (p, src, from, dst, at) => copyRun(src, from, dst, at + bounds[p]! * n, (bounds[p + 1]! - bounds[p]!) * n);
}
