/**
 * BatchMatMul for TF.js's wasm backend on our own SIMD kernel (batch-matmul.simd.ts), working
 * in place on the backend's heap.
 *
 * Why this exists: TF.js 4.22's wasm BatchMatMul runs XNNPACK for a single product only; for a
 * batch it falls back to a scalar loop at ~1.2 GFLOP/s. Attention has exactly that case —
 * batch = windows·heads (thousands), 49 × 16 matrices — and spent ~13% of a training step
 * there for ~1% of the FLOPs. Measured with bench/batch-matmul.ts on the 2-core development
 * machine (other work running): [3200, 49, 49]·[3200, 49, 16] and the other Swin products take
 * 6.5–10.6 ms instead of 115–240 (23–37 GFLOP/s), the temporal ones ~1 ms instead of 9–25; in
 * one training step of the default network on 32×64×64 patches these calls took ~0.2 s instead
 * of ~2.0 s.
 *
 * Single products too: XNNPACK packs B into its own layout first, cached per B tensor, and in
 * training most B operands are fresh tensors (gradients, transposed weights, and every column
 * sum ones·X of layers.ts colSum). With K cut into blocks whose B part stays in L2
 * (K_BLOCK_BYTES), bench/batch-matmul.ts on the development machine (one core, quiet): a column
 * sum [1, 32768]·[32768, 128] 48 → 1.3 ms, a weight gradient [128, 4900]·[4900, 384] 28.6 →
 * 14.1 ms (34 GFLOP/s; stock with transposeA 219 ms), linear layers 1.0–1.1× (29–32 GFLOP/s),
 * with the same bits as XNNPACK on every shape compared.
 *
 * Taken here: float32, N ≥ 4, any M and K ≥ 1, any transposes, and a batch shared by both
 * operands or broadcast from one product (batch 1 on one side). A transposed B is first made
 * K × N by the backend's Transpose kernel. Everything else goes to the stock kernel.
 */
import { broadcast_util, util, type KernelConfig, type TensorInfo } from '@tensorflow/tfjs-core';
import { instantiateSimdMatMul, MIN_COLUMNS, type SimdMatMul } from './batch-matmul.simd.js';
import { heapMemory, type KernelArgs, replaceWasmKernel, runWasmKernel, type WasmBackend } from './wasm-backend.js';

/** How one BatchMatMul call maps onto the SIMD kernel; strides in floats. */
export interface BatchMatMulPlan {
  batch: number;
  m: number;
  n: number;
  k: number;
  /** Floats from one A (or B) matrix to the next: 0 where that operand is broadcast. */
  aBatch: number;
  bBatch: number;
  /** A[i][k] is at i·aRow + k·aCol within its matrix. */
  aRow: number;
  aCol: number;
  /** B as stored is [batchB, N, K] and must be transposed first. */
  transposeB: boolean;
  /** Matrices in B as stored. */
  bMatrices: number;
  outShape: number[];
}

/** The plan for these operand shapes, or undefined where the stock kernel should run. */
export function planBatchMatMul(aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean): BatchMatMulPlan | undefined {
  if (aShape.length < 2 || bShape.length < 2) return undefined;
  const [aRows, aCols] = aShape.slice(-2) as [number, number];
  const [bRows, bCols] = bShape.slice(-2) as [number, number];
  const m = transposeA ? aCols : aRows;
  const k = transposeA ? aRows : aCols;
  const n = transposeB ? bRows : bCols;
  if ((transposeB ? bCols : bRows) !== k) return undefined;
  const aMatrices = util.sizeFromShape(aShape.slice(0, -2));
  const bMatrices = util.sizeFromShape(bShape.slice(0, -2));
  const batch = Math.max(aMatrices, bMatrices);
  if (m < 1 || k < 1 || n < MIN_COLUMNS) return undefined;
  // Only a batch shared by both, or one product against all (TF.js's wasm and cpu kernels cycle
  // the smaller batch, which is the broadcast only in these cases).
  if (aMatrices !== bMatrices && Math.min(aMatrices, bMatrices) !== 1) return undefined;
  let outer: number[];
  try {
    outer = broadcast_util.assertAndGetBroadcastShape(aShape.slice(0, -2), bShape.slice(0, -2));
  } catch {
    return undefined;
  }
  if (util.sizeFromShape(outer) !== batch) return undefined;
  return {
    batch,
    m,
    n,
    k,
    aBatch: aMatrices === 1 ? 0 : m * k,
    bBatch: bMatrices === 1 ? 0 : k * n,
    aRow: transposeA ? 1 : k,
    aCol: transposeA ? m : 1,
    transposeB,
    bMatrices,
    outShape: [...outer, m, n],
  };
}

/**
 * Bytes of B one kernel call walks: the tiles of C each run down the whole block, so it should
 * stay in the core's L2 cache; a longer K is done in blocks (the kernel's accumulate mode).
 */
const K_BLOCK_BYTES = 64 * 1024;

/** Rows of B (K values) per kernel call for N columns; all of K where N is not a multiple of 4 (see the kernel's accumulate). */
export function kBlock(k: number, n: number): number {
  if (n % 4 !== 0) return k;
  return Math.max(1, Math.min(k, Math.floor(K_BLOCK_BYTES / (4 * n))));
}

/**
 * Replaces the wasm backend's BatchMatMul with ours (the cases above). Idempotent and
 * harmless when wasm is not the active backend: the kernel is registered for 'wasm' only.
 */
export function registerWasmBatchMatMul(): void {
  // One instance per heap (in practice one per process); null where SIMD is missing.
  const kernels = new WeakMap<WebAssembly.Memory, SimdMatMul | null>();
  const kernelFor = (memory: WebAssembly.Memory): SimdMatMul | undefined => {
    if (!kernels.has(memory)) kernels.set(memory, instantiateSimdMatMul(memory) ?? null);
    return kernels.get(memory) ?? undefined;
  };
  replaceWasmKernel('BatchMatMul', (args, stock) => batchMatMul(args, stock, kernelFor));
}

function batchMatMul(args: KernelArgs, stock: KernelConfig, kernelFor: (memory: WebAssembly.Memory) => SimdMatMul | undefined): TensorInfo {
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = args.attrs as { transposeA?: boolean; transposeB?: boolean };
  const backend = args.backend as unknown as WasmBackend;
  const plan = a.dtype === 'float32' && b.dtype === 'float32' ? planBatchMatMul(a.shape, b.shape, !!transposeA, !!transposeB) : undefined;
  const memory = plan && heapMemory(backend);
  const kernel = memory && kernelFor(memory);
  if (!plan || !kernel) return stock.kernelFunc(args) as TensorInfo;

  const { batch, m, n, k } = plan;
  const bKN = plan.transposeB
    ? runWasmKernel('Transpose', backend, { x: { dataId: b.dataId, shape: [plan.bMatrices, n, k], dtype: 'float32' } }, { perm: [0, 2, 1] })
    : b;
  try {
    const out = backend.makeOutput(plan.outShape, 'float32');
    const at = (t: TensorInfo): number => backend.getMemoryOffset(t.dataId);
    try {
      const block = kBlock(k, n);
      for (let k0 = 0; k0 < k; k0 += block) {
        const a0 = at(a) + 4 * k0 * plan.aCol;
        const b0 = at(bKN) + 4 * k0 * n;
        kernel(a0, b0, at(out), batch, m, n, Math.min(block, k - k0), 4 * plan.aBatch, 4 * plan.bBatch, 4 * plan.aRow, 4 * plan.aCol, k0 > 0 ? 1 : 0);
      }
    } catch (e) {
      backend.disposeData(out.dataId);
      throw e;
    }
    return out;
  } finally {
    if (bKN !== b) backend.disposeData(bKN.dataId);
  }
}
