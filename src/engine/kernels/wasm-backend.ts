/**
 * The parts of TF.js's wasm backend that our wasm kernels use, and the wrapping of its stock
 * kernels: ours take the cases they are fast at and hand everything else to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { DataId, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
// The stock configs must be registered before we can wrap them.
import '@tensorflow/tfjs-backend-wasm';

/** The part of BackendWasm used here; the package's own typing leans on Emscripten types it does not ship. */
export interface WasmBackend {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  disposeData(dataId: DataId): boolean;
  /** Byte offset of the tensor's data in the backend's heap. */
  getMemoryOffset(dataId: DataId): number;
  /** A view of the tensor's values in the heap (not a copy); invalid once the heap grows. */
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
  wasm: {
    HEAPU8: Uint8Array;
    /** Exported by the threaded build only (a shared memory). */
    wasmMemory?: WebAssembly.Memory;
    /** The Emscripten module's instance exports; `memory` is the heap of the non-threaded build. */
    asm?: { memory?: WebAssembly.Memory };
  };
}

export type KernelArgs = Parameters<KernelFunc>[0];

const MARK = Symbol.for('srdtrans.wasm.kernel');
type Marked = KernelConfig & { [MARK]?: true };

/**
 * Registers `kernelFunc` for 'wasm' in place of the stock kernel, which stays reachable from it
 * for the cases it does not handle. Idempotent (also across module copies: the kernel registry
 * is process-wide).
 */
export function replaceWasmKernel(kernelName: string, kernelFunc: (args: KernelArgs, stock: KernelConfig) => TensorInfo): void {
  const current = tf.getKernel(kernelName, 'wasm') as Marked | undefined;
  if (!current || current[MARK]) return;
  const stock = current;
  const ours: Marked = {
    kernelName,
    backendName: 'wasm',
    // The stock kernel's setup binds its wasm export; the fallback path needs it.
    ...(stock.setupFunc ? { setupFunc: stock.setupFunc } : {}),
    ...(stock.disposeFunc ? { disposeFunc: stock.disposeFunc } : {}),
    kernelFunc: ((args: KernelArgs) => kernelFunc(args, stock)) as KernelFunc,
    [MARK]: true,
  };
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel(ours);
}

/** Runs whatever kernel is registered for `name` on wasm (ours or the stock one). */
export function runWasmKernel(name: string, backend: WasmBackend, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap): TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`wasm kernels: no ${name} kernel is registered for wasm`);
  return kernel.kernelFunc({ inputs, backend: backend as unknown as tf.KernelBackend, attrs }) as TensorInfo;
}

/**
 * A view of the whole wasm heap; take it again after anything that may allocate (the heap can
 * grow). The threaded build's HEAPU8 is refreshed lazily after growth, its Memory is not.
 */
export function heapF32(backend: WasmBackend): Float32Array {
  return new Float32Array((backend.wasm.wasmMemory ?? backend.wasm.HEAPU8).buffer);
}

/** The WebAssembly.Memory holding the backend's heap, for modules of our own to import. */
export function heapMemory(backend: WasmBackend): WebAssembly.Memory | undefined {
  const memory = backend.wasm.wasmMemory ?? backend.wasm.asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : undefined;
}
