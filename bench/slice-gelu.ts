/**
 * Stock TF.js wasm against our wasm Slice (src/engine/kernels/slice.wasm.ts) and SrdGelu
 * (src/engine/kernels/gelu.wasm.ts) at the shapes of a 128-frame training step. Run:
 * npx tsx bench/slice-gelu.ts. Wall clock per call, best of the runs.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { GELU_KERNEL } from '../src/engine/custom-kernels.js';
import { registerWasmGelu } from '../src/engine/kernels/gelu.wasm.js';
import { registerWasmSlice } from '../src/engine/kernels/slice.wasm.js';

const RUNS = 5;

function best(f: () => void): number {
  let ms = Infinity;
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    f();
    ms = Math.min(ms, performance.now() - t0);
  }
  return ms;
}

/** Every slice of `pieces` along `axis` of x, disposed. */
function slices(x: tf.Tensor, axis: number, pieces: number): void {
  const size = x.shape.map((d, i) => (i === axis ? d / pieces : d));
  for (let p = 0; p < pieces; p++) tf.slice(x, x.shape.map((_, i) => (i === axis ? p * size[i]! : 0)), size).dispose();
}

/** The stock-op GELU and slope of model/layers.ts. */
function stockGelu(h: tf.Tensor): void {
  tf.tidy(() => {
    const erf1 = tf.add(tf.erf(tf.mul(h, Math.SQRT1_2)), 1);
    const g = tf.mul(tf.mul(h, 0.5), erf1);
    const slope = tf.add(tf.mul(erf1, 0.5), tf.mul(h, tf.mul(tf.exp(tf.mul(tf.square(h), -0.5)), 1 / Math.sqrt(2 * Math.PI))));
    return [g, slope];
  }).forEach((t) => t.dispose());
}

await tf.setBackend('wasm');
await tf.ready();
const rows = ['| work | stock ms | ours ms | × |', '|---|---|---|---|'];
const row = (label: string, stock: number, ours: number): number => rows.push(`| ${label} | ${stock.toFixed(2)} | ${ours.toFixed(2)} | ${(stock / ours).toFixed(1)} |`);

const tokens = tf.randomNormal([32768, 128]);
const qkv = tf.randomNormal([100, 49, 384]);
const sliceCases: Array<[string, () => void]> = [
  ['32 row pieces of [32768, 128] (MLP pieces)', () => slices(tokens, 0, 32)],
  ['q, k, v of [100, 49, 384] (attention)', () => slices(qkv, 2, 3)],
];
const stockSlice = sliceCases.map(([, f]) => best(f));
registerWasmSlice();
sliceCases.forEach(([label, f], i) => row(`Slice: ${label}`, stockSlice[i]!, best(f)));

registerWasmGelu();
const hidden = tf.randomNormal([1024, 512]);
row('GELU and slope of [1024, 512] (12 stock ops; SrdGelu)', best(() => stockGelu(hidden)), best(() => {
  (tf.engine().runKernel(GELU_KERNEL, { x: hidden }, { slope: true }) as tf.Tensor[]).forEach((t) => t.dispose());
}));
tf.dispose([tokens, qkv, hidden]);
console.log(`wasm backend, best of ${RUNS} runs (wall clock)`);
console.log(rows.join('\n'));
