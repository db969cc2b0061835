/**
 * Slice for TF.js's wasm backend, reading its input in place on the heap.
 *
 * Why this exists: TF.js 4.22's wasm Slice starts with backend.readSync(x), which copies the
 * whole input out of the heap before taking the slice, so cutting a [32768, 128] tensor into
 * 32 row pieces copied 512 MiB. The MLP sub-layers and the attention's q/k/v split slice large
 * tensors many times a step: on the 2-core development machine, slices took ~2.0 s (~9 %) of
 * one wasm training step on a [1, 128, 64, 64] patch (`npm run bench -- train --profile`). Here
 * each slice copies only what it keeps, in runs as long as the slice is contiguous (32 row
 * pieces of [32768, 128]: 87.5 → 1.1 ms in bench/slice-gelu.ts). Strings go to
 * the stock kernel.
 */
import { slice_util, util, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import { replaceWasmKernel, type KernelArgs, type WasmBackend } from './wasm-backend.js';

/** Replaces the wasm backend's Slice. Idempotent; registered for 'wasm' only. */
export function registerWasmSlice(): void {
  replaceWasmKernel('Slice', slice);
}

function slice(args: KernelArgs, stock: KernelConfig): TensorInfo {
  const x = args.inputs.x as TensorInfo;
  if (x.dtype === 'string' || x.shape.length === 0) return stock.kernelFunc(args) as TensorInfo;
  const { begin, size } = args.attrs as { begin: number | number[]; size?: number | number[] };
  const [start, extent] = slice_util.parseSliceParams(x as Parameters<typeof slice_util.parseSliceParams>[0], begin, size);
  if (!start || !extent) throw new Error('internal: Slice: no begin and size for the input');
  const backend = args.backend as unknown as WasmBackend;
  const out = backend.makeOutput(extent, x.dtype);
  if (util.sizeFromShape(extent) === 0) return out;
  // Views taken after makeOutput, which may have grown the heap.
  copySlice(backend.typedArrayFromHeap(x), x.shape, backend.typedArrayFromHeap(out), start, extent);
  return out;
}

type Values = Float32Array | Int32Array | Uint8Array;

/**
 * Writes the box [start, start + extent) of src (row-major, `shape`) to dst, in runs: the
 * trailing axes the box spans whole, with the innermost one it cuts, are one contiguous run.
 */
export function copySlice(src: Values, shape: number[], dst: Values, start: number[], extent: number[]): void {
  const rank = shape.length;
  const strides = util.computeStrides(shape);
  const stride = (d: number): number => (d === rank - 1 ? 1 : strides[d]!);
  // Axes from `inner` on form the run.
  let inner = rank - 1;
  while (inner > 0 && extent[inner] === shape[inner]) inner--;
  const run = extent.slice(inner).reduce((a, b) => a * b, 1);
  const index = new Array<number>(inner).fill(0);
  const runs = dst.length / run;
  for (let r = 0; r < runs; r++) {
    let from = start[inner]! * stride(inner);
    for (let d = 0; d < inner; d++) from += (start[d]! + index[d]!) * stride(d);
    dst.set(src.subarray(from, from + run), r * run);
    // Odometer over the outer axes, last fastest.
    for (let d = inner - 1; d >= 0; d--) {
      if (++index[d]! < extent[d]!) break;
      index[d] = 0;
    }
  }
}
