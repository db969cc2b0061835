/**
 * Stock TF.js wasm BatchMatMul against ours (src/engine/kernels/batch-matmul.wasm.ts) at the
 * attention products' shapes and at the single products of training (column sums, weight
 * gradients, linear layers). Run: npx tsx bench/batch-matmul.ts. Both kernels are called
 * directly (the same inputs, no tape); GFLOP/s counts 2·MACs; wall clock, best of the runs.
 * "fresh B" cases give every run a new copy of B, as training does: XNNPACK packs B anew for
 * each new tensor (and caches the packing for one it has seen).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmBatchMatMul } from '../src/engine/kernels/batch-matmul.wasm.js';
import { seeded } from '../test/support/arrays.js';

interface Case {
  label: string;
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
  freshB: boolean;
}

const product = (label: string, a: number[], b: number[], transposeA = false, transposeB = false, freshB = false): Case => ({ label, a, b, transposeA, transposeB, freshB });
const CASES: Case[] = [
  // Swin window attention, E 128 / 8 heads (or E 64 / 4 heads): windows·heads = 3200, N 49, d 16.
  product('q·kᵀ (k transposed by a copy); dOut·vᵀ', [3200, 49, 16], [3200, 16, 49]),
  product('q·kᵀ as transposeB', [3200, 49, 16], [3200, 49, 16], false, true),
  product('p·v; ds·k', [3200, 49, 49], [3200, 49, 16]),
  product('pᵀ·dOut; dsᵀ·q', [3200, 49, 49], [3200, 49, 16], true),
  // Temporal attention: pixels·heads sequences of T frames, d 16.
  product('temporal q·kᵀ, T 4', [32768, 4, 16], [32768, 16, 4]),
  product('temporal p·v, T 4', [32768, 4, 4], [32768, 4, 16]),
  product('temporal pᵀ·dOut, T 4', [32768, 4, 4], [32768, 4, 16], true),
  product('temporal q·kᵀ, T 16', [8192, 16, 16], [8192, 16, 16]),
  // Single products of a training step (batch 1).
  product('column sum ones·dy, fresh B', [1, 1, 32768], [1, 32768, 128], false, false, true),
  product('weight gradient xᵀ·dy, fresh B', [1, 4900, 128], [1, 4900, 384], true, false, true),
  product('weight gradient (x transposed by a copy), fresh B', [1, 128, 4900], [1, 4900, 384], false, false, true),
  product('linear x·W, fresh B', [1, 4900, 128], [1, 128, 384], false, false, true),
  product('linear x·W, B seen before', [1, 4900, 128], [1, 128, 384]),
];

const STOCK_RUNS = 2;
const OURS_RUNS = 5;

function timeKernel(kernel: tf.KernelConfig, c: Case, a: tf.Tensor, b: tf.Tensor, runs: number): number {
  const backend = tf.backend();
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const bRun = c.freshB ? tf.clone(b) : b;
    const t0 = performance.now();
    const out = kernel.kernelFunc({ inputs: { a, b: bRun }, backend, attrs: { transposeA: c.transposeA, transposeB: c.transposeB } }) as tf.TensorInfo;
    best = Math.min(best, performance.now() - t0);
    backend.disposeData(out.dataId);
    if (bRun !== b) bRun.dispose();
  }
  return best;
}

await tf.setBackend('wasm');
await tf.ready();
const stock = tf.getKernel('BatchMatMul', 'wasm')!;
registerWasmBatchMatMul();
const ours = tf.getKernel('BatchMatMul', 'wasm')!;

const lines = ['| product | A × B | GFLOP | stock ms | GF/s | ours ms | GF/s | × |', '|---|---|---|---|---|---|---|---|'];
for (const c of CASES) {
  const a = tf.tensor(seeded(c.a, 1), c.a);
  const b = tf.tensor(seeded(c.b, 2), c.b);
  const [batch, m, k] = c.transposeA ? [c.a[0]!, c.a[2]!, c.a[1]!] : c.a;
  const n = c.transposeB ? c.b[1]! : c.b[2]!;
  const gflop = (2 * batch! * m! * n * k!) / 1e9;
  timeKernel(ours, c, a, b, 1); // warm-up: compilation, heap growth
  const s = timeKernel(stock, c, a, b, STOCK_RUNS);
  const o = timeKernel(ours, c, a, b, OURS_RUNS);
  tf.dispose([a, b]);
  const flags = `${c.transposeA ? 'ᵀ' : ''}×${c.transposeB ? 'ᵀ' : ''}`;
  lines.push(
    `| ${c.label} | [${c.a}]${flags}[${c.b}] | ${gflop.toFixed(3)} | ${s.toFixed(1)} | ${(gflop / (s / 1e3)).toFixed(2)} ` +
      `| ${o.toFixed(1)} | ${(gflop / (o / 1e3)).toFixed(2)} | ${(s / o).toFixed(1)} |`,
  );
}
console.log(`wasm backend, ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'SIMD' : 'no SIMD'}, best of ${STOCK_RUNS} runs stock, ${OURS_RUNS} ours (wall clock)`);
console.log(lines.join('\n'));
