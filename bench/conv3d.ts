/**
 * Stock TF.js wasm Conv3D / Conv3DBackpropFilterV2 against the im2col kernels of
 * src/engine/kernels/conv3d.wasm.ts, at the network's shapes. Run: npx tsx bench/conv3d.ts
 * (--quick: fewer shapes, one stock run). GFLOP/s counts 2·MACs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../src/engine/backend.js';
import { registerWasmConvKernels } from '../src/engine/kernels/conv3d.wasm.js';
import { seeded } from '../test/support/arrays.js';

interface Case {
  x: [number, number, number, number, number];
  k: [number, number, number];
  pad: 'same' | 'valid';
}

const CASES: Case[] = [
  { x: [1, 32, 64, 64, 1], k: [3, 3, 3], pad: 'same' },
  { x: [1, 32, 64, 64, 4], k: [3, 3, 3], pad: 'same' },
  { x: [1, 16, 64, 64, 8], k: [3, 3, 3], pad: 'same' },
  { x: [1, 4, 64, 64, 32], k: [3, 3, 3], pad: 'same' },
  { x: [1, 2, 64, 64, 64], k: [3, 3, 3], pad: 'same' },
  // The down/up-sampling paths: a 1×3×3 'same' and a 2×3×3 'valid' per strided conv.
  { x: [1, 16, 64, 64, 8], k: [1, 3, 3], pad: 'same' },
  { x: [1, 17, 66, 66, 8], k: [2, 3, 3], pad: 'valid' },
];
const COUT: Record<number, number> = { 1: 4, 4: 8, 8: 16, 32: 64, 64: 128 };

const quick = process.argv.includes('--quick');
const OURS_RUNS = quick ? 3 : 5;

async function timeIt(f: () => tf.Tensor, runs: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const y = f();
    await y.data();
    times.push(performance.now() - t0);
    y.dispose();
  }
  times.sort((a, b) => a - b);
  return times[0]!;
}

interface Row {
  label: string;
  gflop: number;
  fwd: number;
  dw: number;
}

async function measure(c: Case, runs: number): Promise<Row> {
  const [b, t, h, w, cin] = c.x;
  const cout = COUT[cin] ?? cin * 2;
  const fShape: [number, number, number, number, number] = [...c.k, cin, cout];
  const x = tf.tensor5d(seeded(c.x, 1), c.x);
  const f = tf.tensor5d(seeded(fShape, 2), fShape);
  const y = tf.conv3d(x, f, 1, c.pad);
  const dy = tf.onesLike(y);
  const outSize = y.size / cout;
  const gflop = (2 * outSize * c.k[0] * c.k[1] * c.k[2] * cin * cout) / 1e9;
  y.dispose();
  const fwd = await timeIt(() => tf.conv3d(x, f, 1, c.pad), runs);
  const dw = await timeIt(
    () => tf.engine().runKernel('Conv3DBackpropFilterV2', { x, dy }, { strides: [1, 1, 1], pad: c.pad, filterShape: fShape }) as tf.Tensor,
    runs,
  );
  tf.dispose([x, f, dy]);
  const label = `[${c.x.join(',')}] ${c.k.join('×')}→${cout} ${c.pad}`;
  return { label, gflop, fwd, dw };
}

await initEngine('wasm');
const cases = quick ? CASES.filter((_, i) => i === 1 || i === 4) : CASES;
const stock: Row[] = [];
for (const c of cases) {
  // The stock kernel needs seconds per call; its first call is representative.
  stock.push(await measure(c, 1));
}
registerWasmConvKernels();
const ours: Row[] = [];
for (const c of cases) {
  await measure(c, 1); // warm-up: XNNPACK operator creation, heap growth
  ours.push(await measure(c, OURS_RUNS));
}

const gfs = (gflop: number, ms: number): string => (gflop / (ms / 1e3)).toFixed(2);
const lines = [
  '| shape (x, kernel→Cout, pad) | GFLOP | stock fwd ms | GF/s | ours fwd ms | GF/s | × | stock dW ms | GF/s | ours dW ms | GF/s | × |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|',
];
for (let i = 0; i < cases.length; i++) {
  const s = stock[i]!;
  const o = ours[i]!;
  lines.push(
    `| ${s.label} | ${s.gflop.toFixed(3)} | ${s.fwd.toFixed(0)} | ${gfs(s.gflop, s.fwd)} | ${o.fwd.toFixed(1)} | ${gfs(o.gflop, o.fwd)} | ${(s.fwd / o.fwd).toFixed(1)} ` +
      `| ${s.dw.toFixed(0)} | ${gfs(s.gflop, s.dw)} | ${o.dw.toFixed(1)} | ${gfs(o.gflop, o.dw)} | ${(s.dw / o.dw).toFixed(1)} |`,
  );
}
console.log(`wasm backend, ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'SIMD' : 'no SIMD'}, best of ${OURS_RUNS} runs for ours, 1 for stock (wall clock)`);
console.log(lines.join('\n'));
