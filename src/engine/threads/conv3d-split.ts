/**
 * Conv3D and Conv3DBackpropFilterV2 (NDHWC, strides 1, dilations 1) split along the output
 * rows H: every share covers all frames and columns of its rows. Each share gets the input
 * window its rows read, zero padding included, and runs as a 'valid' convolution: the same
 * products, summed in the same order, as in the unsplit call, so Conv3D's output is
 * bit-identical; the filter gradient's per-share sums are added in share order (rounding
 * differs from the unsplit sum, and is the same on every run).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { KernelArgs, WasmBackend } from '../kernels/wasm-backend.js';
import { copyRun, heapOffset, plannedShare, shareBounds, sizeOf, usefulShares, type ShareInput, type SplitPlan } from './split.js';

type Shape5 = [number, number, number, number, number];

interface ConvGeometry {
  x: Shape5;
  /** [kt, kh, kw, cin, cout] */
  filter: Shape5;
  out: Shape5;
  /** Front, top and left padding. */
  pad: [number, number, number];
}

function geometry(x: TensorInfo, filterShape: number[], attrs: Record<string, unknown>): ConvGeometry | undefined {
  if (x.dtype !== 'float32' || x.shape.length !== 5 || filterShape.length !== 5) return undefined;
  if ((attrs['dataFormat'] ?? 'NDHWC') !== 'NDHWC') return undefined;
  const pad = attrs['pad'];
  if (pad !== 'same' && pad !== 'valid') return undefined;
  const ones = (v: unknown): boolean => v === undefined || v === 1 || (Array.isArray(v) && v.every((d) => d === 1));
  if (!ones(attrs['strides']) || !ones(attrs['dilations'])) return undefined;
  const info = tf.backend_util.computeConv3DInfo(x.shape as Shape5, filterShape as Shape5, 1, 1, pad);
  const out: Shape5 = [info.batchSize, info.outDepth, info.outHeight, info.outWidth, info.outChannels];
  if (sizeOf(out) === 0 || sizeOf(filterShape) === 0) return undefined;
  return { x: x.shape as Shape5, filter: filterShape as Shape5, out, pad: [info.padInfo.front, info.padInfo.top, info.padInfo.left] };
}

const flops = (g: ConvGeometry): number => 2 * sizeOf(g.filter.slice(0, 4)) * sizeOf(g.out);

/** Row bounds for `threads` shares, or undefined when the call is too small to split. */
function rowBounds(g: ConvGeometry, threads: number, minFlops: number): number[] | undefined {
  const parts = Math.min(usefulShares(threads, flops(g), minFlops), g.out[2]);
  return parts >= 2 && flops(g) >= minFlops ? shareBounds(g.out[2], parts) : undefined;
}

/** The window of x that output rows [r0, r1) read, padding included, as a share input. */
function inputWindow(backend: WasmBackend, x: TensorInfo, g: ConvGeometry, r0: number, r1: number): ShareInput {
  const [kt, kh, kw] = g.filter;
  const [, outT, , outW] = g.out;
  const [padT, padH, padW] = g.pad;
  const from: Window = { t: -padT, h: r0 - padH, w: -padW, nt: outT + kt - 1, nh: r1 - r0 + kh - 1, nw: outW + kw - 1 };
  return {
    shape: [g.x[0], from.nt, from.nh, from.nw, g.x[4]],
    fill: (heap, dst, at) => copyWindow(heap, heapOffset(backend, x), g.x, from, dst, at),
  };
}

/** Conv3D split along output rows; undefined when it should run unsplit. */
export function planConv3D(args: KernelArgs, threads: number, minFlops: number): SplitPlan | undefined {
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const g = filter.dtype === 'float32' ? geometry(x, filter.shape, args.attrs as Record<string, unknown>) : undefined;
  const bounds = g && rowBounds(g, threads, minFlops);
  if (!g || !bounds) return undefined;
  const backend = args.backend as unknown as WasmBackend;
  const [b, outT, outH, outW, cout] = g.out;
  const weights: ShareInput = {
    shape: filter.shape,
    fill: (heap, dst, at) => copyRun(heap, heapOffset(backend, filter), dst, at, sizeOf(filter.shape)),
    view: filter,
  };
  const shares = bounds.slice(1).map((r1, p) =>
    plannedShare('Conv3D', [inputWindow(backend, x, g, bounds[p]!, r1), weights], [b, outT, r1 - bounds[p]!, outW, cout]));
  return {
    shares,
    outShape: g.out,
    // Share p's output [b, outT, rows, outW, cout] goes frame by frame into its rows.
    place: (p, src, from, dst, at) => {
      const [r0, r1] = [bounds[p]!, bounds[p + 1]!];
      const run = (r1 - r0) * outW * cout;
      for (let f = 0; f < b * outT; f++) copyRun(src, from + f * run, dst, at + (f * outH + r0) * outW * cout, run);
    },
  };
}

/** Conv3DBackpropFilterV2 split along the rows of dy; undefined when it should run unsplit. */
export function planConv3DFilterGrad(args: KernelArgs, threads: number, minFlops: number): SplitPlan | undefined {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as Record<string, unknown>;
  const filterShape = attrs['filterShape'] as number[] | undefined;
  const g = filterShape && dy.dtype === 'float32' ? geometry(x, filterShape, { ...attrs, dilations: 1 }) : undefined;
  const bounds = g && dy.shape.join() === g.out.join() ? rowBounds(g, threads, minFlops) : undefined;
  if (!g || !bounds) return undefined;
  const backend = args.backend as unknown as WasmBackend;
  const [b, outT, , outW, cout] = g.out;
  const shares = bounds.slice(1).map((r1, p) => {
    const r0 = bounds[p]!;
    const rows: Window = { t: 0, h: r0, w: 0, nt: outT, nh: r1 - r0, nw: outW };
    const dyRows: ShareInput = {
      shape: [b, outT, r1 - r0, outW, cout],
      fill: (heap, dst, at) => copyWindow(heap, heapOffset(backend, dy), g.out, rows, dst, at),
    };
    return plannedShare('Conv3DBackpropFilterV2', [inputWindow(backend, x, g, r0, r1), dyRows], g.filter, { filterShape: g.filter });
  });
  return {
    shares,
    outShape: g.filter,
    place: (p, src, from, dst, at) => {
      const size = sizeOf(g.filter);
      if (p === 0) copyRun(src, from, dst, at, size);
      else for (let i = 0; i < size; i++) dst[at + i]! += src[from + i]!;
    },
  };
}

/** A box of [B, T, H, W, C] positions: all batches and channels, frames/rows/columns from t/h/w (negative: padding). */
interface Window {
  t: number;
  h: number;
  w: number;
  nt: number;
  nh: number;
  nw: number;
}

/** Copies the window of x (at src[xAt…], shape `dims`) to dst[at…] as [B, nt, nh, nw, C], zeros outside x. */
export function copyWindow(src: Float32Array, xAt: number, dims: Shape5, win: Window, dst: Float32Array, at: number): void {
  const [batch, inT, inH, inW, c] = dims;
  const line = win.nw * c;
  // Columns [lo, hi) of the window lie inside x.
  const lo = Math.min(win.nw, Math.max(0, -win.w));
  const hi = Math.max(lo, Math.min(win.nw, inW - win.w));
  let d = at;
  for (let b = 0; b < batch; b++) {
    for (let t = win.t; t < win.t + win.nt; t++) {
      for (let h = win.h; h < win.h + win.nh; h++, d += line) {
        if (t < 0 || t >= inT || h < 0 || h >= inH) {
          dst.fill(0, d, d + line);
          continue;
        }
        const s = xAt + (((b * inT + t) * inH + h) * inW + win.w) * c;
        dst.fill(0, d, d + lo * c);
        copyRun(src, s + lo * c, dst, d + lo * c, (hi - lo) * c);
        dst.fill(0, d + hi * c, d + line);
      }
    }
  }
}
