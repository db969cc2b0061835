/**
 * A kernel call split into shares: share 0 runs on the calling thread with the wrapped kernel,
 * the others on kernel threads at the same time; their outputs are then placed into one output.
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import { heapF32, type WasmBackend } from '../kernels/wasm-backend.js';
import { MAX_DATA_BYTES, shareAttrs, SHARE_INPUTS, type JobChannel, type Share, type SplitKernel } from './channel.js';

/** One input of a share. */
export interface ShareInput {
  shape: number[];
  /** Writes the input's values at dst[at…], reading the caller's tensors from the wasm heap. */
  fill(heap: Float32Array, dst: Float32Array, at: number): void;
  /** For share 0: the values as they already are in the heap (a tensor or a prefix of one). */
  view?: TensorInfo;
}

/** A share and how to fill its inputs. */
export type PlannedShare = Share & { inputs: [ShareInput, ShareInput]; outSize: number };

export interface SplitPlan {
  /** Share 0 runs on the calling thread. */
  shares: PlannedShare[];
  outShape: number[];
  /** Puts share p's output, at src[from…], into the call's output at dst[at…]. */
  place(p: number, src: Float32Array, from: number, dst: Float32Array, at: number): void;
}

export function plannedShare(
  kernel: SplitKernel, inputs: [ShareInput, ShareInput], outShape: number[],
  options: { transposeA?: boolean; transposeB?: boolean; filterShape?: number[] } = {},
): PlannedShare {
  return {
    kernel, inputs, outSize: sizeOf(outShape), inputShapes: [inputs[0].shape, inputs[1].shape],
    transposeA: options.transposeA ?? false, transposeB: options.transposeB ?? false, filterShape: options.filterShape ?? [],
  };
}

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * Boundaries that cut `total` items into `parts` shares as equal as whole items allow:
 * share p is [bounds[p], bounds[p + 1]).
 */
export function shareBounds(total: number, parts: number): number[] {
  return Array.from({ length: parts + 1 }, (_, p) => Math.round((total * p) / parts));
}

/**
 * How many threads a call of `flops` is worth: at most `threads`, and none with a share below
 * minFlops / 2 (the smallest share that paid off when measured, kernel-threads.ts), so that
 * many threads split only calls large enough for each of them. minFlops 0 (tests): all.
 */
export function usefulShares(threads: number, flops: number, minFlops: number): number {
  return minFlops > 0 ? Math.min(threads, Math.floor(flops / (minFlops / 2))) : threads;
}

/** Float offset of a tensor in the wasm heap. */
export function heapOffset(backend: WasmBackend, info: TensorInfo): number {
  return backend.getMemoryOffset(info.dataId) / 4;
}

/**
 * Runs the plan: shares 1… are posted to `channels` (one each), share 0 runs here with
 * `inner`, then the outputs are gathered in share order (so partial sums always add up in the
 * same order). Returns undefined, having started nothing, when a share's data would not fit a
 * channel's buffer.
 */
export function runSplit(plan: SplitPlan, inner: KernelConfig, backend: WasmBackend, channels: JobChannel[]): TensorInfo | undefined {
  const remote = plan.shares.slice(1);
  if (remote.length > channels.length) throw new Error(`split: ${plan.shares.length} shares for ${channels.length + 1} threads`);
  const layouts = remote.map((s) => {
    const sizes = s.inputs.map((input) => sizeOf(input.shape));
    return { inputOffsets: [0, sizes[0]!] as [number, number], outOffset: sizes[0]! + sizes[1]!, total: sizes[0]! + sizes[1]! + s.outSize };
  });
  if (layouts.some((l) => l.total * 4 > MAX_DATA_BYTES)) return undefined;

  let out: TensorInfo | undefined;
  try {
    let heap = heapF32(backend);
    remote.forEach((share, i) => {
      const { inputOffsets, outOffset, total } = layouts[i]!;
      const data = channels[i]!.floats(total);
      share.inputs.forEach((input, k) => input.fill(heap, data, inputOffsets[k]!));
      channels[i]!.post({ ...share, inputOffsets, outOffset });
    });
    const own = runShare(plan.shares[0]!, inner, backend);
    try {
      out = backend.makeOutput(plan.outShape, 'float32');
      heap = heapF32(backend);
      plan.place(0, heap, heapOffset(backend, own), heap, heapOffset(backend, out));
    } finally {
      backend.disposeData(own.dataId);
    }
    remote.forEach((_, i) => {
      channels[i]!.wait();
      plan.place(i + 1, channels[i]!.floats(0), layouts[i]!.outOffset, heapF32(backend), heapOffset(backend, out!));
    });
    return out;
  } catch (err) {
    if (out) backend.disposeData(out.dataId);
    throw err;
  } finally {
    // Whatever happened here, no share may still be running when the buffers are next used.
    for (const channel of channels.slice(0, remote.length)) {
      try {
        channel.wait();
      } catch {
        // Already failing: the first error is the one reported.
      }
    }
  }
}

/** Share 0, on this thread: inputs copied into fresh heap tensors unless given as views. */
function runShare(share: PlannedShare, inner: KernelConfig, backend: WasmBackend): TensorInfo {
  const made: TensorInfo[] = [];
  try {
    const infos = share.inputs.map((input) => {
      if (input.view) return input.view;
      const info = backend.makeOutput(input.shape, 'float32');
      made.push(info);
      const heap = heapF32(backend);
      input.fill(heap, heap, heapOffset(backend, info));
      return info;
    });
    const [first, second] = SHARE_INPUTS[share.kernel];
    const inputs = { [first]: infos[0]!, [second]: infos[1]! };
    return inner.kernelFunc({ inputs, backend: backend as unknown as Parameters<KernelConfig['kernelFunc']>[0]['backend'], attrs: shareAttrs(share) }) as TensorInfo;
  } finally {
    for (const info of made) backend.disposeData(info.dataId);
  }
}

/** Copies n floats from src[from…] to dst[at…]; src and dst may be the same view (ranges not overlapping). */
export function copyRun(src: Float32Array, from: number, dst: Float32Array, at: number, n: number): void {
  if (n <= 0) return;
  if (src === dst) dst.copyWithin(at, from, from + n);
  else dst.set(src.subarray(from, from + n), at);
}
