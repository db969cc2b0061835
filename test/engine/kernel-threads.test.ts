/**
 * Kernel threads (src/engine/kernel-threads.ts): Conv3D, Conv3DBackpropFilterV2 and BatchMatMul
 * split over threads give the same outputs as the same kernels unsplit (bit for bit, except the
 * filter gradient's partial sums), leak nothing, and stop() restores the kernels.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine, type KernelThreads, type ModelConfig, SRDTrans, startKernelThreads } from '../../src/node.js';
import { conv3dS1 } from '../../src/model/conv.js';
import { Adam } from '../../src/train/adam.js';
import { trainStep } from '../../src/train/step.js';
import { relErr, seeded } from '../support/arrays.js';
import { MIN_SPLIT_FLOPS } from '../../src/engine/kernel-threads.js';
import { usefulShares } from '../../src/engine/threads/split.js';

type Shape5 = [number, number, number, number, number];
interface ConvCase {
  x: Shape5;
  /** [kt, kh, kw, cin, cout] */
  w: Shape5;
  pad: 'same' | 'valid';
}

const CONV_CASES: ConvCase[] = [
  { x: [1, 5, 9, 7, 1], w: [3, 3, 3, 1, 1], pad: 'same' },
  { x: [1, 7, 11, 6, 3], w: [3, 3, 3, 3, 5], pad: 'same' },
  { x: [2, 3, 8, 9, 5], w: [3, 3, 3, 5, 3], pad: 'valid' },
  { x: [1, 9, 7, 5, 3], w: [3, 1, 1, 3, 5], pad: 'same' },
  { x: [1, 5, 13, 7, 5], w: [1, 3, 3, 5, 1], pad: 'same' },
  { x: [1, 5, 10, 10, 3], w: [1, 3, 3, 3, 3], pad: 'valid' },
  { x: [1, 6, 9, 9, 5], w: [2, 3, 3, 5, 5], pad: 'valid' }, // the network's 2-tap convolutions
  { x: [2, 1, 7, 5, 3], w: [2, 3, 3, 3, 1], pad: 'same' }, // even kernel: asymmetric padding
  { x: [1, 3, 3, 4, 3], w: [3, 3, 3, 3, 5], pad: 'same' }, // three rows: one per share or fewer shares
  { x: [1, 4, 24, 20, 24], w: [3, 3, 3, 24, 8], pad: 'same' }, // kw·cin > 48: im2col rows built directly
];

interface MatMulCase {
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}

const MATMUL_SHAPES: Array<{ m: number; k: number; n: number; outerA: number[]; outerB: number[] }> = [
  { m: 37, k: 21, n: 13, outerA: [], outerB: [] }, // one product: split along rows
  { m: 7, k: 5, n: 9, outerA: [5], outerB: [5] }, // odd batch
  { m: 49, k: 16, n: 49, outerA: [3, 2], outerB: [3, 2] }, // attention-like, rank 4
  { m: 11, k: 6, n: 8, outerA: [3], outerB: [] }, // b broadcast
  { m: 11, k: 6, n: 8, outerA: [], outerB: [4] }, // a broadcast
  { m: 2, k: 3, n: 5, outerA: [1], outerB: [1] }, // two rows
];

const MATMUL_CASES: MatMulCase[] = MATMUL_SHAPES.flatMap(({ m, k, n, outerA, outerB }) =>
  [false, true].flatMap((transposeA) =>
    [false, true].map((transposeB) => ({
      a: [...outerA, ...(transposeA ? [k, m] : [m, k])],
      b: [...outerB, ...(transposeB ? [n, k] : [k, n])],
      transposeA,
      transposeB,
    })),
  ),
);

/**
 * Filter gradients: per-share sums added up differ in rounding from one running sum. Against a
 * float64 reference, on the largest case here, the unsplit kernel is off by 1.4e-6 (relative to
 * the largest value), 2 shares by 0.9e-6, 3 by 0.5e-6; a wrong split is off by far more.
 */
const GRAD_TOL = 1e-5;

const convLabel = (c: ConvCase): string => `x [${c.x}] w [${c.w}] ${c.pad}`;
const matLabel = (c: MatMulCase): string => `a [${c.a}] b [${c.b}] tA ${c.transposeA} tB ${c.transposeB}`;

async function conv(c: ConvCase): Promise<Float32Array> {
  return run(() => tf.conv3d(tf.tensor5d(seeded(c.x, 1), c.x), tf.tensor5d(seeded(c.w, 2), c.w), 1, c.pad));
}

async function filterGrad(c: ConvCase): Promise<Float32Array> {
  return run(() => {
    const x = tf.tensor5d(seeded(c.x, 3), c.x);
    const dyShape = tf.conv3d(x, tf.zeros(c.w) as tf.Tensor5D, 1, c.pad).shape;
    const dy = tf.tensor(seeded(dyShape, 4), dyShape);
    return tf.engine().runKernel('Conv3DBackpropFilterV2', { x, dy }, { strides: [1, 1, 1], pad: c.pad, filterShape: c.w }) as tf.Tensor;
  });
}

async function matMul(c: MatMulCase): Promise<Float32Array> {
  return run(() => tf.matMul(tf.tensor(seeded(c.a, 5), c.a), tf.tensor(seeded(c.b, 6), c.b), c.transposeA, c.transposeB));
}

/**
 * dx and dW of Σ conv3dS1(x, w)·r, the network's convolution with its own gradients (which
 * take 'same' with odd kernels only: empty arrays otherwise).
 */
async function convGrads(c: ConvCase): Promise<[Float32Array, Float32Array]> {
  if (c.pad === 'same' && c.w.slice(0, 3).some((k) => k % 2 === 0)) return [new Float32Array(0), new Float32Array(0)];
  const x = tf.tensor5d(seeded(c.x, 7), c.x);
  const w = tf.tensor5d(seeded(c.w, 8), c.w);
  const rShape = tf.tidy(() => conv3dS1(x, w, c.pad).shape);
  const r = tf.tensor(seeded(rShape, 9), rShape);
  const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv3dS1(a as tf.Tensor5D, b as tf.Tensor5D, c.pad), r)))([x, w]);
  const out: [Float32Array, Float32Array] = [(await dx!.data()) as Float32Array, (await dw!.data()) as Float32Array];
  tf.dispose([x, w, r, dx!, dw!]);
  return out;
}

/** Runs f in a tidy scope and returns its output's values, disposing everything. */
async function run(f: () => tf.Tensor): Promise<Float32Array> {
  const y = tf.tidy(f);
  const values = (await y.data()) as Float32Array;
  y.dispose();
  return values;
}

/** How many elements differ at all. */
function differing(got: Float32Array, ref: Float32Array): number {
  assert.equal(got.length, ref.length);
  let n = 0;
  for (let i = 0; i < ref.length; i++) if (!Object.is(got[i], ref[i])) n++;
  return n;
}

/** Tensors the engine tracks and buffers the backend holds (internal buffers included). */
function live(): [number, number] {
  return [tf.memory().numTensors, tf.backend().numDataIds()];
}

const NAMES = ['Conv3D', 'Conv3DBackpropFilterV2', 'BatchMatMul'] as const;
const kernels = (): Array<tf.KernelConfig | undefined> => NAMES.map((n) => tf.getKernel(n, 'wasm'));

interface Unsplit {
  conv: Float32Array[];
  grad: Float32Array[];
  mat: Float32Array[];
  convGrads: Array<[Float32Array, Float32Array]>;
}

/** Every case with the kernels as they are now (split or not). */
async function everything(): Promise<Unsplit> {
  const out: Unsplit = { conv: [], grad: [], mat: [], convGrads: [] };
  for (const c of CONV_CASES) {
    out.conv.push(await conv(c));
    out.grad.push(await filterGrad(c));
    out.convGrads.push(await convGrads(c));
  }
  for (const c of MATMUL_CASES) out.mat.push(await matMul(c));
  return out;
}

function assertMatches(got: Unsplit, ref: Unsplit): void {
  CONV_CASES.forEach((c, i) => {
    assert.equal(differing(got.conv[i]!, ref.conv[i]!), 0, `Conv3D ${convLabel(c)}: outputs differ`);
    const e = relErr(got.grad[i]!, ref.grad[i]!);
    assert.ok(e <= GRAD_TOL, `Conv3DBackpropFilterV2 ${convLabel(c)}: error ${e}`);
    assert.equal(differing(got.convGrads[i]![0], ref.convGrads[i]![0]), 0, `dx ${convLabel(c)}: differs`);
    const ew = relErr(got.convGrads[i]![1], ref.convGrads[i]![1]);
    assert.ok(ew <= GRAD_TOL, `dW ${convLabel(c)}: error ${ew}`);
  });
  MATMUL_CASES.forEach((c, i) => assert.equal(differing(got.mat[i]!, ref.mat[i]!), 0, `BatchMatMul ${matLabel(c)}: outputs differ`));
}

const SMALL: ModelConfig = { fMaps: [2, 4], embedDim: 8, heads: 2, mlpDim: 16, window: 3, blocks: 1, patchT: 8, attnDropout: 0.1 };

/** Losses and every weight after three training steps from a fixed seed. */
async function training(): Promise<{ losses: number[]; weights: Float32Array[] }> {
  const model = new SRDTrans(SMALL, 3);
  const adam = new Adam(model.variables, { lr: 1e-3, beta1: 0.5, beta2: 0.999 });
  const [t, h, w] = [8, 12, 12];
  const losses: number[] = [];
  for (let i = 0; i < 3; i++) {
    const data = (k: number) => seeded([t, h, w], 10 * i + k);
    losses.push(await trainStep(model, adam, { input: data(1), targets: [data(2), data(3)], t, h, w }, 7 + i));
  }
  const weights = [...(await model.stateDict()).values()].map((v) => v.data as Float32Array);
  adam.dispose();
  model.dispose();
  return { losses, weights };
}

let unsplit: Unsplit;
let unsplitTraining: Awaited<ReturnType<typeof training>>;
let plain: Array<tf.KernelConfig | undefined>;

before(async () => {
  await initEngine('wasm');
  plain = kernels();
  unsplit = await everything();
  unsplitTraining = await training();
});

// 4: more threads than the development machine's two cores, as users with more cores run.
for (const threads of [2, 3, 4]) {
  describe(`${threads} kernel threads`, () => {
    let kt: KernelThreads;
    before(async () => {
      kt = await startKernelThreads(threads, { minFlops: 0 });
    });
    after(() => kt.stop());

    it('wrap the three kernels; starting again with the same settings gives the same threads', async () => {
      const now = kernels();
      NAMES.forEach((n, i) => assert.notEqual(now[i], plain[i], `${n} is wrapped`));
      assert.equal(await startKernelThreads(threads, { minFlops: 0 }), kt);
      await assert.rejects(startKernelThreads(threads + 1), /stop them before/);
    });

    it('give the unsplit outputs (filter gradients to rounding), leaving no tensor or buffer behind', async () => {
      const counts = { ...kt.splitCalls };
      const was = live();
      const got = await everything();
      assert.deepEqual(live(), was);
      assertMatches(got, unsplit);
      for (const n of NAMES) assert.ok(kt.splitCalls[n] > counts[n], `${n} calls were split`);
    });

    it('repeat a training run exactly, close to the unsplit run', async () => {
      const a = await training();
      const b = await training();
      assert.deepEqual(a.losses, b.losses);
      a.weights.forEach((w, i) => assert.equal(differing(w, b.weights[i]!), 0, `weight ${i} differs between runs`));
      a.losses.forEach((loss, i) => assert.ok(Math.abs(loss - unsplitTraining.losses[i]!) <= 1e-5 * Math.abs(loss), `step ${i}: loss ${loss} split, ${unsplitTraining.losses[i]} unsplit`));
    });
  });
}

describe('stopping', () => {
  it('puts the previous kernels back, twice over harmlessly; one thread wraps nothing', async () => {
    const one = await startKernelThreads(1);
    assert.deepEqual(kernels(), plain);
    await one.stop();
    const kt = await startKernelThreads(2);
    await kt.stop();
    await kt.stop();
    assert.deepEqual(kernels(), plain);
    const again = await startKernelThreads(2, { minFlops: 0 });
    const got = await matMul(MATMUL_CASES[0]!);
    assert.equal(again.splitCalls.BatchMatMul, 1);
    await again.stop();
    assert.equal(differing(got, unsplit.mat[0]!), 0);
  });

  it('large calls only, by default: a small product runs unsplit', async () => {
    const kt = await startKernelThreads(2);
    try {
      await matMul(MATMUL_CASES[0]!);
      assert.equal(kt.splitCalls.BatchMatMul, 0);
      await run(() => tf.matMul(tf.ones([512, 256]), tf.ones([256, 128])));
      assert.equal(kt.splitCalls.BatchMatMul, 1);
    } finally {
      await kt.stop();
    }
  });
});

describe('how many threads a call gets', () => {
  it('only as many as give each a share of at least half the split threshold', () => {
    assert.equal(usefulShares(8, MIN_SPLIT_FLOPS, MIN_SPLIT_FLOPS), 2, 'the smallest call split gets two');
    assert.equal(usefulShares(8, 3 * MIN_SPLIT_FLOPS, MIN_SPLIT_FLOPS), 6);
    assert.equal(usefulShares(8, 100 * MIN_SPLIT_FLOPS, MIN_SPLIT_FLOPS), 8, 'never more than there are threads');
    assert.equal(usefulShares(2, 100 * MIN_SPLIT_FLOPS, MIN_SPLIT_FLOPS), 2);
    assert.equal(usefulShares(4, 1, 0), 4, 'tests (threshold 0) split everything over every thread');
  });
});
