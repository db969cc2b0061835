/**
 * Conv3D and Conv3DBackpropFilterV2 for TF.js's wasm backend, as im2col + the backend's own
 * XNNPACK matmul.
 *
 * Why this exists: TF.js 4.22's wasm Conv3D (and its filter gradient) is a scalar loop nest that
 * runs at 0.3–0.7 GFLOP/s (filter gradient 0.5–1.8) on the 2-core development machine, while
 * the same backend's BatchMatMul (XNNPACK) reaches 15–30. Measured with bench/conv3d.ts at the
 * network's shapes: x [1,2,64,64,64] ⊛ [3,3,3,64,128] 'same' takes 5660 ms stock vs 117 ms here
 * (31 GFLOP/s), [1,32,64,64,4] ⊛ [3,3,3,4,8] 571 vs 28 ms; forward 7–55× faster, filter
 * gradient 7–20×.
 *
 * Only what the network uses takes the fast path (float32, NDHWC, strides 1, dilations 1, any
 * padding); everything else goes to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { heapF32, type KernelArgs, replaceWasmKernel, runWasmKernel, type WasmBackend } from './wasm-backend.js';

type Shape5 = [number, number, number, number, number];

/**
 * Floats in one im2col chunk: small enough to still be in cache when XNNPACK reads it back (on
 * the 64→128 layer one 56 MB matmul takes ~210 ms, 1M-float chunks ~120 ms including the
 * im2col; 256K–4M floats perform alike), large enough that per-chunk costs (a matmul call; for
 * dW, packing dy and accumulating K×Cout) stay small.
 */
const CHUNK_FLOATS = 1 << 20;
/**
 * Runs of at most this many floats are copied by a JS loop (copyWithin's call overhead costs
 * more), and im2col rows made of such runs (kw·cin of them) are built transposed instead.
 */
const SHORT_RUN = 48;

/**
 * Replaces the wasm backend's Conv3D and Conv3DBackpropFilterV2 with the im2col versions.
 * Idempotent (also across module copies: the kernel registry is process-wide) and harmless
 * when wasm is not the active backend: the kernels are registered for 'wasm' only.
 */
export function registerWasmConvKernels(): void {
  replaceWasmKernel('Conv3D', conv3d);
  replaceWasmKernel('Conv3DBackpropFilterV2', conv3dFilterGrad);
}

/** The convolution's geometry, for the cases the fast path handles. */
interface Geometry {
  batch: number;
  inT: number;
  inH: number;
  inW: number;
  cin: number;
  kt: number;
  kh: number;
  kw: number;
  cout: number;
  outT: number;
  outH: number;
  outW: number;
  padT: number;
  padH: number;
  padW: number;
  /** kt·kh·kw·cin: the im2col row length. */
  k: number;
}

function geometry(xShape: number[], filterShape: number[], strides: unknown, dilations: unknown, pad: unknown): Geometry | undefined {
  if (xShape.length !== 5 || filterShape.length !== 5) return undefined;
  if (pad !== 'same' && pad !== 'valid') return undefined;
  const s = strides as number | [number, number, number];
  const d = (dilations ?? 1) as number | [number, number, number];
  const info = tf.backend_util.computeConv3DInfo(xShape as Shape5, filterShape as Shape5, s, d, pad);
  if (info.strideDepth !== 1 || info.strideHeight !== 1 || info.strideWidth !== 1) return undefined;
  if (info.dilationDepth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1) return undefined;
  const g: Geometry = {
    batch: info.batchSize,
    inT: info.inDepth,
    inH: info.inHeight,
    inW: info.inWidth,
    cin: info.inChannels,
    kt: info.filterDepth,
    kh: info.filterHeight,
    kw: info.filterWidth,
    cout: info.outChannels,
    outT: info.outDepth,
    outH: info.outHeight,
    outW: info.outWidth,
    padT: info.padInfo.front,
    padH: info.padInfo.top,
    padW: info.padInfo.left,
    k: info.filterDepth * info.filterHeight * info.filterWidth * info.inChannels,
  };
  // Degenerate sizes: not worth a path of their own.
  if (g.batch * g.outT * g.outH * g.outW === 0 || g.k === 0 || g.cout === 0 || g.inT * g.inH * g.inW === 0) return undefined;
  return g;
}

function floatOffset(backend: WasmBackend, info: TensorInfo): number {
  return backend.getMemoryOffset(info.dataId) / 4;
}

function matMul(backend: WasmBackend, a: TensorInfo, b: TensorInfo): TensorInfo {
  return runWasmKernel('BatchMatMul', backend, { a, b }, { transposeA: false, transposeB: false });
}

/**
 * Output rows are handled in chunks of whole (b, t, h) lines, which are contiguous in NDHWC, so
 * each chunk's rows are a contiguous block of the output (and of dy).
 */
function linesPerChunk(g: Geometry): number {
  return Math.max(1, Math.floor(CHUNK_FLOATS / (g.outW * g.k)));
}

function conv3d(args: KernelArgs, stock: KernelConfig): TensorInfo {
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as NamedAttrMap & Partial<tf.Conv3DAttrs>;
  const g =
    x.dtype === 'float32' && filter.dtype === 'float32' && (attrs.dataFormat ?? 'NDHWC') === 'NDHWC'
      ? geometry(x.shape, filter.shape, attrs.strides ?? 1, attrs.dilations, attrs.pad)
      : undefined;
  if (!g) return stock.kernelFunc(args) as TensorInfo;

  const backend = args.backend as unknown as WasmBackend;
  const outShape = [g.batch, g.outT, g.outH, g.outW, g.cout];
  const lines = g.batch * g.outT * g.outH;
  const perChunk = Math.min(lines, linesPerChunk(g));
  // The filter [kt, kh, kw, cin, cout] is already the K × Cout matrix, in im2col column order.
  // Used as is, XNNPACK caches its packed form on the filter's id across chunks and calls.
  const weights: TensorInfo = { dataId: filter.dataId, shape: [1, g.k, g.cout], dtype: 'float32' };
  // Few channels make short runs per im2col row, which JS copies slowly; then the im2col matrix
  // is built transposed (long runs along w) and transposed back by the wasm Transpose kernel.
  const viaColumns = g.kw * g.cin <= SHORT_RUN;
  const xT = viaColumns ? channelsFirst(backend, x, g) : x;
  const buf = backend.makeOutput(viaColumns ? [1, g.k, perChunk * g.outW] : [1, perChunk * g.outW, g.k], 'float32');
  /** The [1, rows, K] im2col matrix of lines [l0, l1); dispose it unless it is `buf` itself. */
  const im2col = (l0: number, l1: number): TensorInfo => {
    const rows = (l1 - l0) * g.outW;
    if (!viaColumns) {
      fillRows(heapF32(backend), floatOffset(backend, x), floatOffset(backend, buf), g, l0, l1);
      // For the last chunk, a shorter view of the same buffer.
      return { dataId: buf.dataId, shape: [1, rows, g.k], dtype: 'float32' };
    }
    fillColumns(heapF32(backend), floatOffset(backend, xT), floatOffset(backend, buf), g, l0, l1);
    const col = runWasmKernel('Transpose', backend, { x: { dataId: buf.dataId, shape: [g.k, rows], dtype: 'float32' } }, { perm: [1, 0] });
    return { ...col, shape: [1, rows, g.k] };
  };
  const product = (l0: number, l1: number): TensorInfo => {
    const col = im2col(l0, l1);
    try {
      return matMul(backend, col, weights);
    } finally {
      if (viaColumns) backend.disposeData(col.dataId);
    }
  };
  try {
    if (perChunk === lines) return { ...product(0, lines), shape: outShape };
    const out = backend.makeOutput(outShape, 'float32');
    try {
      for (let l0 = 0; l0 < lines; l0 += perChunk) {
        const l1 = Math.min(lines, l0 + perChunk);
        const prod = product(l0, l1);
        const src = floatOffset(backend, prod);
        heapF32(backend).copyWithin(floatOffset(backend, out) + l0 * g.outW * g.cout, src, src + (l1 - l0) * g.outW * g.cout);
        backend.disposeData(prod.dataId);
      }
    } catch (e) {
      backend.disposeData(out.dataId);
      throw e;
    }
    return out;
  } finally {
    backend.disposeData(buf.dataId);
    if (xT !== x) backend.disposeData(xT.dataId);
  }
}

/** x [b, t, h, w, c] as [b, t, h, c, w], by the wasm Transpose kernel; x itself when cin = 1. */
function channelsFirst(backend: WasmBackend, x: TensorInfo, g: Geometry): TensorInfo {
  if (g.cin === 1) return x;
  return runWasmKernel('Transpose', backend, { x: { ...x, shape: [g.batch * g.inT * g.inH, g.inW, g.cin] } }, { perm: [0, 2, 1] });
}

function conv3dFilterGrad(args: KernelArgs, stock: KernelConfig): TensorInfo {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as NamedAttrMap & Partial<tf.Conv3DBackpropFilterV2Attrs>;
  const filterShape = attrs.filterShape;
  const g =
    x.dtype === 'float32' && dy.dtype === 'float32' && filterShape
      ? geometry(x.shape, filterShape, attrs.strides ?? 1, 1, attrs.pad)
      : undefined;
  if (!g || dy.shape.join() !== [g.batch, g.outT, g.outH, g.outW, g.cout].join()) {
    return stock.kernelFunc(args) as TensorInfo;
  }

  const backend = args.backend as unknown as WasmBackend;
  const lines = g.batch * g.outT * g.outH;
  const perChunk = Math.min(lines, linesPerChunk(g));
  const kc = g.k * g.cout;
  // dW [K, Cout] = Σ_chunks colᵀ · dy_chunk. XNNPACK's fast path takes no transposes, so each
  // chunk's im2col matrix is built transposed ([K, rows]), from a channels-first x.
  const xT = channelsFirst(backend, x, g);
  const colT = backend.makeOutput([1, g.k, perChunk * g.outW], 'float32');
  const dw = backend.makeOutput(filterShape!.slice(), 'float32');
  try {
    for (let l0 = 0; l0 < lines; l0 += perChunk) {
      const l1 = Math.min(lines, l0 + perChunk);
      const rows = (l1 - l0) * g.outW;
      // A fresh copy of the dy rows each time: XNNPACK caches the packed right-hand side by tensor
      // id, so a reused buffer would be read stale; disposing the copy drops the cached packing.
      const dyChunk = backend.makeOutput([1, rows, g.cout], 'float32');
      let heap = heapF32(backend);
      const dySrc = floatOffset(backend, dy) + l0 * g.outW * g.cout;
      heap.copyWithin(floatOffset(backend, dyChunk), dySrc, dySrc + rows * g.cout);
      fillColumns(heap, floatOffset(backend, xT), floatOffset(backend, colT), g, l0, l1);
      const prod = matMul(backend, { dataId: colT.dataId, shape: [1, g.k, rows], dtype: 'float32' }, dyChunk);
      backend.disposeData(dyChunk.dataId);
      heap = heapF32(backend);
      const p = floatOffset(backend, prod);
      const d = floatOffset(backend, dw);
      if (l0 === 0) heap.copyWithin(d, p, p + kc);
      else for (let i = 0; i < kc; i++) heap[d + i]! += heap[p + i]!;
      backend.disposeData(prod.dataId);
    }
  } catch (e) {
    backend.disposeData(dw.dataId);
    throw e;
  } finally {
    backend.disposeData(colT.dataId);
    if (xT !== x) backend.disposeData(xT.dataId);
  }
  return dw;
}

/**
 * im2col rows for output lines [l0, l1): row (line, w) holds the receptive field in (kt, kh, kw,
 * cin) order, zeros where it hangs over the edge. Rows are contiguous per (kt, kh) tap in both
 * x and the row, so interior positions copy kw·cin floats at once.
 */
function fillRows(heap: Float32Array, xOff: number, colOff: number, g: Geometry, l0: number, l1: number): void {
  const { inT, inH, inW, cin, kt, kh, kw, outT, outH, outW, padT, padH, padW, k } = g;
  const run = kw * cin;
  const xLineStride = inW * cin;
  for (let line = l0; line < l1; line++) {
    const oh = line % outH;
    const rest = (line - oh) / outH;
    const ot = rest % outT;
    const b = (rest - ot) / outT;
    const rowBase = colOff + (line - l0) * outW * k;
    for (let dt = 0; dt < kt; dt++) {
      const it = ot + dt - padT;
      for (let dh = 0; dh < kh; dh++) {
        const ih = oh + dh - padH;
        const tap = rowBase + (dt * kh + dh) * run;
        if (it < 0 || it >= inT || ih < 0 || ih >= inH) {
          for (let ow = 0; ow < outW; ow++) heap.fill(0, tap + ow * k, tap + ow * k + run);
          continue;
        }
        const xLine = xOff + ((b * inT + it) * inH + ih) * xLineStride;
        for (let ow = 0; ow < outW; ow++) {
          const dst = tap + ow * k;
          const iw0 = ow - padW;
          if (iw0 >= 0 && iw0 + kw <= inW) {
            const src = xLine + iw0 * cin;
            if (run > SHORT_RUN) heap.copyWithin(dst, src, src + run);
            else for (let j = 0; j < run; j++) heap[dst + j] = heap[src + j]!;
            continue;
          }
          for (let dw = 0; dw < kw; dw++) {
            const iw = iw0 + dw;
            const d = dst + dw * cin;
            if (iw < 0 || iw >= inW) {
              for (let c = 0; c < cin; c++) heap[d + c] = 0;
            } else {
              const s = xLine + iw * cin;
              for (let c = 0; c < cin; c++) heap[d + c] = heap[s + c]!;
            }
          }
        }
      }
    }
  }
}

/**
 * The transposed im2col matrix for output lines [l0, l1): [K, rows] with rows = (l1 − l0)·outW.
 * `xT` is x channels-first within each line ([b, t, h, c, w]), so every (tap, cin) row is one
 * contiguous run of x per line, plus zeros where the kernel hangs over the edge.
 */
function fillColumns(heap: Float32Array, xTOff: number, colOff: number, g: Geometry, l0: number, l1: number): void {
  const { inT, inH, inW, cin, kt, kh, kw, outT, outH, outW, padT, padH, padW } = g;
  const rows = (l1 - l0) * outW;
  const xLineStride = inW * cin;
  for (let line = l0; line < l1; line++) {
    const oh = line % outH;
    const rest = (line - oh) / outH;
    const ot = rest % outT;
    const b = (rest - ot) / outT;
    const colBase = colOff + (line - l0) * outW;
    for (let dt = 0; dt < kt; dt++) {
      const it = ot + dt - padT;
      for (let dh = 0; dh < kh; dh++) {
        const ih = oh + dh - padH;
        const firstRow = (dt * kh + dh) * kw * cin;
        if (it < 0 || it >= inT || ih < 0 || ih >= inH) {
          for (let r = firstRow; r < firstRow + kw * cin; r++) {
            const d = colBase + r * rows;
            for (let ow = 0; ow < outW; ow++) heap[d + ow] = 0;
          }
          continue;
        }
        const xLine = xTOff + ((b * inT + it) * inH + ih) * xLineStride;
        for (let dw = 0; dw < kw; dw++) {
          // Output columns whose input column iw = ow + dw − padW lies inside [0, inW).
          const lo = Math.min(outW, Math.max(0, padW - dw));
          const hi = Math.max(lo, Math.min(outW, inW + padW - dw));
          for (let c = 0; c < cin; c++) {
            const dst = colBase + (firstRow + dw * cin + c) * rows;
            const src = xLine + c * inW + dw - padW;
            for (let ow = 0; ow < lo; ow++) heap[dst + ow] = 0;
            if (hi - lo > SHORT_RUN) heap.copyWithin(dst + lo, src + lo, src + hi);
            else for (let ow = lo; ow < hi; ow++) heap[dst + ow] = heap[src + ow]!;
            for (let ow = hi; ow < outW; ow++) heap[dst + ow] = 0;
          }
        }
      }
    }
  }
}
