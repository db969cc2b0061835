import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/node.js';
import { kBlock, planBatchMatMul, registerWasmBatchMatMul } from '../../src/engine/kernels/batch-matmul.wasm.js';
import { relErr, seeded } from '../support/arrays.js';

/**
 * Our batched BatchMatMul on wasm against TF.js's stock kernel on cpu (the reference): odd
 * shapes, every transpose combination, broadcast batches, gradients.
 */

const TOL = 1e-5; // max abs error relative to max |reference|
const SIZES = [1, 3, 5, 16, 17, 49];
const BATCHES = [1, 2, 7, 33];
const TRANSPOSES: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

interface Case {
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}

const label = (c: Case): string => `[${c.a}]${c.transposeA ? 'ᵀ' : ''} × [${c.b}]${c.transposeB ? 'ᵀ' : ''}`;

/** Operand shapes for C [batch, m, n] = A·B with the given transposes. */
function operands(batch: number[], m: number, n: number, k: number, transposeA: boolean, transposeB: boolean): Case {
  return { a: [...batch, ...(transposeA ? [k, m] : [m, k])], b: [...batch, ...(transposeB ? [n, k] : [k, n])], transposeA, transposeB };
}

/** Every (M, N, K) in SIZES³ with every transpose combination; the batch cycles through BATCHES. */
function oddCases(): Case[] {
  const cases: Case[] = [];
  let i = 0;
  for (const m of SIZES) {
    for (const n of SIZES) {
      for (const k of SIZES) {
        i++;
        TRANSPOSES.forEach(([ta, tb], t) => cases.push(operands([BATCHES[(i + t) % BATCHES.length]!], m, n, k, ta, tb)));
      }
    }
  }
  return cases;
}

/** One product against many, and batches of rank 2. */
const BROADCAST_CASES: Case[] = [
  { a: [1, 5, 17], b: [7, 17, 16], transposeA: false, transposeB: false },
  { a: [7, 17, 5], b: [1, 17, 16], transposeA: true, transposeB: false },
  { a: [17, 49], b: [33, 16, 49], transposeA: false, transposeB: true },
  { a: [2, 3, 49, 16], b: [16, 5], transposeA: false, transposeB: false },
  { a: [2, 3, 16, 5], b: [2, 3, 49, 16], transposeA: true, transposeB: true },
  { a: [2, 3, 5, 16], b: [1, 1, 16, 17], transposeA: false, transposeB: false },
  // Not ours (neither batch is 1 nor both equal): the stock kernel's answer must come through.
  { a: [2, 3, 5, 16], b: [3, 16, 17], transposeA: false, transposeB: false },
];

function product(c: Case, seed: number): tf.Tensor {
  return tf.tidy(() => tf.matMul(tf.tensor(seeded(c.a, seed), c.a), tf.tensor(seeded(c.b, seed + 1), c.b), c.transposeA, c.transposeB));
}

async function products(cases: Case[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < cases.length; i++) {
    const y = product(cases[i]!, 3 * i + 1);
    out.push((await y.data()) as Float32Array);
    y.dispose();
  }
  return out;
}

/** Gradients of Σ r ⊙ matMul(a, b) with respect to a and b. */
async function gradients(c: Case): Promise<Float32Array[]> {
  const a = tf.tensor(seeded(c.a, 7), c.a);
  const b = tf.tensor(seeded(c.b, 8), c.b);
  const y0 = tf.matMul(a, b, c.transposeA, c.transposeB);
  const r = tf.tensor(seeded(y0.shape, 9), y0.shape);
  y0.dispose();
  const loss = (x: tf.Tensor, w: tf.Tensor): tf.Scalar => tf.sum(tf.mul(tf.matMul(x, w, c.transposeA, c.transposeB), r));
  const [da, db] = tf.grads(loss)([a, b]);
  const out = [(await da!.data()) as Float32Array, (await db!.data()) as Float32Array];
  tf.dispose([a, b, r, da!, db!]);
  return out;
}

async function compareWithCpu(cases: Case[]): Promise<void> {
  await initEngine('cpu');
  const refs = await products(cases);
  await initEngine('wasm');
  const got = await products(cases);
  cases.forEach((c, i) => {
    const e = relErr(got[i]!, refs[i]!);
    assert.ok(e <= TOL, `${label(c)}: error ${e}`);
  });
}

let stockKernel: tf.KernelConfig | undefined;

before(async () => {
  stockKernel = tf.getKernel('BatchMatMul', 'wasm');
  registerWasmBatchMatMul();
  await initEngine('wasm');
});

test('the wasm BatchMatMul is ours; registering again changes nothing', () => {
  const ours = tf.getKernel('BatchMatMul', 'wasm');
  assert.ok(stockKernel && ours && ours !== stockKernel, 'BatchMatMul was replaced');
  registerWasmBatchMatMul();
  assert.equal(tf.getKernel('BatchMatMul', 'wasm'), ours);
});

test('the network’s products take the fast path, single ones included; N < 4 and other broadcasts do not', () => {
  const swin = planBatchMatMul([3200, 49, 49], [3200, 49, 16], true, false);
  assert.deepEqual(swin && [swin.batch, swin.m, swin.n, swin.k, swin.aRow, swin.aCol], [3200, 49, 16, 49, 1, 49]);
  assert.ok(planBatchMatMul([400, 8, 49, 16], [400, 8, 49, 16], false, true)?.transposeB);
  assert.deepEqual(planBatchMatMul([1, 5, 3], [7, 3, 4], false, false)?.aBatch, 0);
  assert.deepEqual(planBatchMatMul([2, 3, 5, 3], [3, 4], false, false)?.outShape, [2, 3, 5, 4]);
  assert.deepEqual(planBatchMatMul([1, 4096], [4096, 128], false, false)?.batch, 1);
  assert.deepEqual(planBatchMatMul([4096, 128], [4096, 384], true, false)?.outShape, [128, 384]);
  assert.equal(planBatchMatMul([7, 49, 16], [7, 16, 3], false, false), undefined);
  assert.equal(planBatchMatMul([2, 3, 5, 16], [3, 16, 17], false, false), undefined);
  assert.equal(planBatchMatMul([7, 5, 16], [7, 15, 17], false, false), undefined);
});

test('the fast path is taken: several times faster than the stock kernel', () => {
  const a = tf.tensor3d(seeded([400, 49, 16], 1), [400, 49, 16]);
  const b = tf.tensor3d(seeded([400, 16, 49], 2), [400, 16, 49]);
  const backend = tf.backend();
  const time = (kernel: tf.KernelConfig): number => {
    const t0 = performance.now();
    const out = kernel.kernelFunc({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo;
    const ms = performance.now() - t0;
    backend.disposeData(out.dataId);
    return ms;
  };
  const ours = tf.getKernel('BatchMatMul', 'wasm')!;
  time(ours); // compiles the module
  const stockMs = Math.min(time(stockKernel!), time(stockKernel!));
  const ms = Math.min(time(ours), time(ours), time(ours));
  tf.dispose([a, b]);
  assert.ok(ms * 3 < stockMs, `ours ${ms.toFixed(1)} ms, stock ${stockMs.toFixed(1)} ms`);
});

test('products match the cpu backend: odd shapes, every transpose combination', async () => {
  await compareWithCpu(oddCases());
});

test('K cut into blocks (long K, N a multiple of 4), and not (N odd)', () => {
  assert.equal(kBlock(4900, 384), 42);
  assert.equal(kBlock(100, 384), 42);
  assert.equal(kBlock(30, 384), 30);
  assert.equal(kBlock(4900, 385), 4900);
});

test('products match the cpu backend: long K in blocks, column sums, weight-gradient shapes', async () => {
  await compareWithCpu([
    operands([], 1, 128, 4096, false, false),
    operands([], 5, 96, 1000, false, false),
    operands([], 17, 384, 300, true, false),
    operands([3], 7, 64, 700, true, true),
    operands([], 9, 387, 500, false, false),
  ]);
});

test('products match the cpu backend: broadcast batches', async () => {
  await compareWithCpu(BROADCAST_CASES);
});

// Without broadcast batches: TF.js's BatchMatMul gradient does not reduce them (on any backend).
test('gradients through tf.grads match the cpu backend', async () => {
  const cases = [...TRANSPOSES.map(([ta, tb]) => operands([7], 17, 16, 5, ta, tb)), ...TRANSPOSES.map(([ta, tb]) => operands([3, 2], 49, 49, 16, ta, tb))];
  await initEngine('cpu');
  const refs: Float32Array[][] = [];
  for (const c of cases) refs.push(await gradients(c));
  await initEngine('wasm');
  for (let i = 0; i < cases.length; i++) {
    const got = await gradients(cases[i]!);
    ['dA', 'dB'].forEach((name, j) => {
      const e = relErr(got[j]!, refs[i]![j]!);
      assert.ok(e <= TOL, `${label(cases[i]!)}: ${name} error ${e}`);
    });
  }
});

test('no tensors or backend buffers leak', async () => {
  const cases = [...TRANSPOSES.map(([ta, tb]) => operands([5], 17, 16, 5, ta, tb)), BROADCAST_CASES[2]!];
  await products(cases); // first use: the module is compiled, the heap may grow
  const tensors = tf.memory().numTensors;
  const buffers = tf.engine().backend.numDataIds();
  await products(cases);
  for (const c of cases.slice(0, 2)) await gradients(c);
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(tf.engine().backend.numDataIds(), buffers);
});
