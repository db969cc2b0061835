/**
 * The attention core on webgpu with stock ops (compositeAttention) against the fused kernels of
 * src/engine/kernels/attention.webgpu.ts (fusedAttention), at the default network's shapes.
 *
 *   npx tsx bench/attention-webgpu.ts [--quick]
 *
 * Each figure is the best wall time over 2–5 interleaved rounds of the op + `await data()` of
 * every result (forward: out; forward+backward: out, dqkv and dbias of Σ out·r), after one
 * warm-up of each (which also compiles the pipelines). Peak: tf.profile's peakBytes of one run,
 * which counts the inputs (qkv, r and bias: 38 MiB in the Swin cases) too. On a software adapter
 * (lavapipe) the times only indicate relative speed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fmt, startWebGpuBench } from './webgpu-bench.js';
import { compositeAttention, drawKeep, fusedAttention } from '../src/model/layers.js';
import type { AttentionOptions } from '../src/model/layers.js';
import { Rng } from '../src/util/rng.js';

interface Case {
  label: string;
  m: number;
  n: number;
  e: number;
  heads: number;
  /** Swin: relative-position bias, shift mask over `windows` windows, q scaled first. */
  windows?: number;
  rate: number;
}

const FULL: Case[] = [
  // A shifted Swin block of the default network: 16 windows × 25 images, 7×7 windows.
  { label: 'swin shifted', m: 400, n: 49, e: 128, heads: 8, windows: 16, rate: 0 },
  { label: 'swin shifted, dropout', m: 400, n: 49, e: 128, heads: 8, windows: 16, rate: 0.1 },
  // The temporal transformer: one checkpoint piece (4096 tokens) of length-8 sequences.
  { label: 'temporal, dropout', m: 512, n: 8, e: 128, heads: 8, rate: 0.1 },
];
const QUICK: Case[] = [{ label: 'swin shifted (small)', m: 64, n: 49, e: 128, heads: 8, windows: 16, rate: 0 }];

type Attention = (qkv: tf.Tensor3D, o: AttentionOptions) => tf.Tensor3D;

interface Setup {
  qkv: tf.Tensor3D;
  bias?: tf.Tensor;
  r: tf.Tensor;
  o: Omit<AttentionOptions, 'bias'>;
}

function setup(c: Case): Setup {
  const d = c.e / c.heads;
  const rng = new Rng(7);
  const mask =
    c.windows === undefined
      ? undefined
      : { values: Float32Array.from({ length: c.windows * c.n * c.n }, () => (rng.nextUint32() % 4 === 0 ? -100 : 0)), windows: c.windows };
  return {
    qkv: tf.randomNormal([c.m, c.n, 3 * c.e]),
    bias: c.windows === undefined ? undefined : tf.randomNormal([c.heads, c.n, c.n], 0, 0.1),
    r: tf.randomNormal([c.m, c.n, c.e]),
    o: {
      heads: c.heads,
      scale: d ** -0.5,
      scaleQuery: c.windows !== undefined,
      mask,
      rate: c.rate,
      keep: c.rate > 0 ? drawKeep(c.m * c.heads * c.n * c.n, c.rate, rng) : undefined,
    },
  };
}

function forward(s: Setup, f: Attention): tf.Tensor[] {
  return [f(s.qkv, { ...s.o, bias: s.bias })];
}

function forwardBackward(s: Setup, f: Attention): tf.Tensor[] {
  return tf.tidy(() => {
    const loss = (...xs: tf.Tensor[]): tf.Scalar => tf.sum(tf.mul(f(xs[0] as tf.Tensor3D, { ...s.o, bias: xs[1] }), s.r));
    const xs = s.bias ? [s.qkv, s.bias] : [s.qkv];
    return [f(s.qkv, { ...s.o, bias: s.bias }), ...tf.grads(loss)(xs)];
  });
}

async function once(op: () => tf.Tensor[]): Promise<number> {
  const t0 = performance.now();
  const ys = op();
  await Promise.all(ys.map((y) => y.data()));
  const dt = performance.now() - t0;
  tf.dispose(ys);
  return dt;
}

/** Best-of wall times of [composite, fused], interleaved round by round (this machine is shared). */
async function compare(op: (f: Attention) => tf.Tensor[]): Promise<[number, number]> {
  const impls = [compositeAttention, fusedAttention];
  for (const f of impls) await once(() => op(f));
  const best: [number, number] = [Infinity, Infinity];
  let total = 0;
  for (let round = 0; round < 5 && (round < 2 || total < 6000); round++) {
    for (const [i, f] of impls.entries()) {
      const dt = await once(() => op(f));
      best[i] = Math.min(best[i]!, dt);
      total += dt;
    }
  }
  return best;
}

async function peakMiB(op: () => tf.Tensor[]): Promise<number> {
  const info = await tf.profile(async () => {
    const ys = op();
    await Promise.all(ys.map((y) => y.data()));
    tf.dispose(ys);
  });
  return info.peakBytes / 2 ** 20;
}

async function main(): Promise<void> {
  if (!(await startWebGpuBench())) return;
  const cases = process.argv.includes('--quick') ? QUICK : FULL;
  console.log(
    `${'case [M, N, E, heads]'.padEnd(40)} ${'op'.padEnd(8)} ${'stock ms'.padStart(9)} ${'fused ms'.padStart(9)} ${'speedup'.padStart(8)}` +
      ` ${'peak MiB stock'.padStart(15)} ${'fused'.padStart(6)}`,
  );
  for (const c of cases) {
    const s = setup(c);
    const label = `${c.label} [${c.m}, ${c.n}, ${c.e}, ${c.heads}]`.padEnd(40);
    for (const [name, op] of [['fwd', forward], ['fwd+bwd', forwardBackward]] as const) {
      const [stock, fused] = await compare((f) => op(s, f));
      const peaks = [await peakMiB(() => op(s, compositeAttention)), await peakMiB(() => op(s, fusedAttention))];
      console.log(
        `${label} ${name.padEnd(8)} ${fmt(stock, 9)} ${fmt(fused, 9)} ${fmt(stock / fused, 7)}× ${fmt(peaks[0]!, 15)} ${fmt(peaks[1]!, 6)}`,
      );
    }
    tf.dispose([s.qkv, s.r, ...(s.bias ? [s.bias] : [])]);
  }
}

await main();
