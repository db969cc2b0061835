/**
 * SrdGelu: GELU, and with attrs.slope its derivative too, as one wasm kernel on our SIMD module
 * (gelu.simd.ts), for the transformers' MLPs (model/layers.ts mlpResidual).
 *
 * Why: with stock kernels GELU is five element-wise passes (Mul, Erf, Add, Mul, Mul) and its
 * slope seven more with an Exp; Erf and Exp run scalar in TF.js's wasm build at ~6–8 ns a
 * value, and on a [1, 128, 64, 64] training patch they took ~1.3 s of a ~17 s two-thread step
 * (the temporal transformer's [32768, 512] hidden activations, forward and recomputed in the
 * backward pass). The kernel is registered for wasm only (with wasmGeluTakes as its condition);
 * other backends run the stock ops.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { instantiateSimdGelu, MIN_VALUES, simdGeluModule, type SimdGelu } from './gelu.simd.js';
import { heapMemory, type KernelArgs, type WasmBackend } from './wasm-backend.js';
import { GELU_KERNEL, setKernelCondition, type GeluAttrs } from '../custom-kernels.js';

/** Registers SrdGelu for wasm where the engine has wasm SIMD. Idempotent. */
export function registerWasmGelu(): void {
  if (tf.getKernel(GELU_KERNEL, 'wasm') || !WebAssembly.validate(simdGeluModule(false))) return;
  // One instance per heap (in practice one per process).
  const modules = new WeakMap<WebAssembly.Memory, SimdGelu>();
  const simdFor = (memory: WebAssembly.Memory): SimdGelu | undefined => {
    if (!modules.has(memory)) {
      const simd = instantiateSimdGelu(memory);
      if (simd) modules.set(memory, simd);
    }
    return modules.get(memory);
  };
  tf.registerKernel({ kernelName: GELU_KERNEL, backendName: 'wasm', kernelFunc: ((args: KernelArgs) => gelu(args, simdFor)) as KernelFunc });
  setKernelCondition(GELU_KERNEL, 'wasm', wasmGeluTakes);
}

/** Whether SrdGelu takes x: on wasm (with SIMD), float32, at least MIN_VALUES values. */
export function wasmGeluTakes(x: tf.Tensor): boolean {
  return tf.getBackend() === 'wasm' && x.dtype === 'float32' && x.size >= MIN_VALUES && tf.getKernel(GELU_KERNEL, 'wasm') !== undefined;
}

function gelu(args: KernelArgs, simdFor: (memory: WebAssembly.Memory) => SimdGelu | undefined): TensorInfo | TensorInfo[] {
  const x = args.inputs.x as TensorInfo;
  const { slope } = args.attrs as unknown as GeluAttrs;
  const backend = args.backend as unknown as WasmBackend;
  const n = x.shape.reduce((a, b) => a * b, 1);
  const memory = heapMemory(backend);
  const simd = memory && simdFor(memory);
  if (!simd || x.dtype !== 'float32' || n < MIN_VALUES) throw new Error(`${GELU_KERNEL}: needs wasm SIMD and at least ${MIN_VALUES} float32 values`);
  const g = backend.makeOutput(x.shape, 'float32');
  const at = (t: TensorInfo): number => backend.getMemoryOffset(t.dataId);
  if (!slope) {
    simd.gelu(at(x), at(g), n);
    return g;
  }
  const s = backend.makeOutput(x.shape, 'float32');
  simd.geluSlope(at(x), at(g), at(s), n);
  return [g, s];
}
