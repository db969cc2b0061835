/** TF.js's wasm backend with our kernels in place of the stock ones where ours are faster (see each file). */
import { registerWasmBatchMatMul } from './kernels/batch-matmul.wasm.js';
import { registerWasmConvKernels } from './kernels/conv3d.wasm.js';
import { registerWasmGelu } from './kernels/gelu.wasm.js';
import { registerWasmSlice } from './kernels/slice.wasm.js';

/** Idempotent: the kernel registry is process-wide, and each registration checks it. */
export function registerWasmKernels(): void {
  registerWasmConvKernels();
  registerWasmBatchMatMul();
  registerWasmSlice();
  registerWasmGelu();
}
