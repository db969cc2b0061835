/**
 * Stock TF.js webgpu Conv3D / Conv3DBackpropFilterV2 against the implicit-GEMM kernels of
 * src/engine/kernels/conv3d.webgpu.ts, at the network's real shapes.
 *
 *   npx tsx bench/conv3d-webgpu.ts [--quick]
 *
 * Each figure is the best wall time of `op` + `await result.data()` over 2–5 rounds (see
 * compare). GFLOP/s counts 2 flops per MAC (B·T·H·W·Cout·kt·kh·kw·Cin MACs for both ops). The
 * read-back is inside the timing for both kernels alike. On a software adapter (lavapipe) the
 * numbers only indicate relative speed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fmt, startWebGpuBench } from './webgpu-bench.js';
import { registerWebGpuConvKernels, unregisterWebGpuConvKernels } from '../src/engine/kernels/conv3d.webgpu.js';

interface Case {
  x: [number, number, number, number, number];
  k: [number, number, number];
  cout: number;
}

const FULL: Case[] = [
  { x: [1, 32, 64, 64, 1], k: [3, 3, 3], cout: 4 },
  { x: [1, 32, 64, 64, 4], k: [3, 3, 3], cout: 8 },
  { x: [1, 16, 64, 64, 8], k: [3, 3, 3], cout: 16 },
  { x: [1, 4, 64, 64, 32], k: [3, 3, 3], cout: 64 },
  { x: [1, 2, 64, 64, 64], k: [3, 3, 3], cout: 128 },
  { x: [1, 32, 128, 128, 4], k: [3, 3, 3], cout: 8 },
  { x: [1, 8, 64, 64, 16], k: [2, 3, 3], cout: 16 },
];
const QUICK: Case[] = [
  { x: [1, 8, 32, 32, 4], k: [3, 3, 3], cout: 8 },
  { x: [1, 4, 32, 32, 16], k: [3, 3, 3], cout: 32 },
];

async function once(f: () => tf.Tensor): Promise<number> {
  const t0 = performance.now();
  const y = f();
  await y.data();
  const dt = performance.now() - t0;
  y.dispose();
  return dt;
}

/**
 * Best-of-N wall times of `op` with the stock kernels and with ours, interleaved round by round
 * so that both see the same background load (this machine is shared), after one warm-up call of
 * each (which also compiles the pipelines). At least 2 rounds, at most 5 or ~4 s.
 */
async function compare(op: () => tf.Tensor): Promise<[number, number]> {
  const best: [number, number] = [Infinity, Infinity];
  const use = (ours: boolean): void => (ours ? registerWebGpuConvKernels() : unregisterWebGpuConvKernels());
  for (const ours of [false, true]) {
    use(ours);
    await once(op);
  }
  let total = 0;
  for (let round = 0; round < 5 && (round < 2 || total < 4000); round++) {
    for (const [i, ours] of [false, true].entries()) {
      use(ours);
      const dt = await once(op);
      best[i] = Math.min(best[i]!, dt);
      total += dt;
    }
  }
  registerWebGpuConvKernels();
  return best;
}

async function main(): Promise<void> {
  if (!(await startWebGpuBench())) return;
  const cases = process.argv.includes('--quick') ? QUICK : FULL;
  console.log(
    `${'shape [B,T,H,W,Cin→Cout] k'.padEnd(36)} ${'op'.padEnd(4)} ${'stock ms'.padStart(9)} ${'GFLOP/s'.padStart(8)} ${'ours ms'.padStart(9)} ${'GFLOP/s'.padStart(8)} ${'speedup'.padStart(8)}`,
  );
  for (const c of cases) {
    const [b, t, h, w, cin] = c.x;
    const [kt, kh, kw] = c.k;
    const pad = kt % 2 === 1 ? 'same' : 'valid';
    const x = tf.randomNormal(c.x) as tf.Tensor5D;
    const f = tf.randomNormal([kt, kh, kw, cin, c.cout]) as tf.Tensor5D;
    const y0 = tf.conv3d(x, f, 1, pad);
    const [, to, ho, wo] = y0.shape;
    const gflop = (2 * b * to * ho * wo * c.cout * kt * kh * kw * cin) / 1e9;
    const fwd = (): tf.Tensor => tf.conv3d(x, f, 1, pad);
    const dw = (): tf.Tensor =>
      tf.engine().runKernel('Conv3DBackpropFilterV2', { x, dy: y0 }, { strides: [1, 1, 1], pad, filterShape: f.shape }) as tf.Tensor;
    const label = `[${b},${t},${h},${w},${cin}→${c.cout}] ${kt}×${kh}×${kw} ${pad}`.padEnd(36);
    for (const [name, op] of [['fwd', fwd], ['dW', dw]] as const) {
      const [stock, ours] = await compare(op);
      console.log(
        `${label} ${name.padEnd(4)} ${fmt(stock, 9)} ${fmt(gflop / (stock / 1000), 8, 2)} ${fmt(ours, 9)} ${fmt(gflop / (ours / 1000), 8, 2)} ${fmt(stock / ours, 7)}×`,
      );
    }
    tf.dispose([x, f, y0]);
  }
}

await main();
