import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/node.js';
import { registerWasmConvKernels } from '../../src/engine/kernels/conv3d.wasm.js';
import { conv3dS1 } from '../../src/model/conv.js';
import { relErr, seeded } from '../support/arrays.js';

/**
 * The im2col Conv3D / Conv3DBackpropFilterV2 on wasm against TF.js's stock kernels on cpu
 * (the reference), at odd shapes, both paddings and the network's three kernel sizes.
 */
type Shape5 = [number, number, number, number, number];
interface Case {
  x: Shape5;
  /** [kt, kh, kw, cin, cout] */
  w: Shape5;
  pad: 'same' | 'valid';
}

const TOL = 1e-5; // max abs error relative to max |reference|

const FORWARD_CASES: Case[] = [
  { x: [1, 1, 5, 7, 1], w: [3, 3, 3, 1, 1], pad: 'same' },
  { x: [2, 3, 7, 5, 3], w: [3, 3, 3, 3, 4], pad: 'same' },
  { x: [1, 9, 13, 7, 8], w: [3, 3, 3, 8, 16], pad: 'same' },
  { x: [2, 5, 5, 13, 8], w: [3, 3, 3, 8, 4], pad: 'valid' },
  { x: [1, 4, 7, 7, 3], w: [1, 3, 3, 3, 16], pad: 'same' },
  { x: [2, 2, 13, 5, 1], w: [1, 3, 3, 1, 4], pad: 'valid' },
  { x: [1, 6, 5, 7, 8], w: [2, 3, 3, 8, 16], pad: 'valid' },
  { x: [2, 1, 7, 13, 3], w: [2, 3, 3, 3, 1], pad: 'same' }, // even kernel: asymmetric T padding
  { x: [1, 3, 2, 1, 3], w: [3, 3, 3, 3, 4], pad: 'same' }, // kernel wider than the image
  { x: [2, 3, 5, 1, 1], w: [1, 1, 1, 1, 4], pad: 'valid' }, // K = 1
  // kw·cin > 48: the im2col rows are built directly rather than transposed.
  { x: [1, 3, 7, 5, 24], w: [3, 3, 3, 24, 4], pad: 'same' },
  { x: [2, 4, 5, 13, 20], w: [2, 3, 3, 20, 16], pad: 'valid' },
  { x: [1, 2, 9, 7, 17], w: [1, 3, 3, 17, 1], pad: 'same' },
  // Large enough for several im2col chunks, the last one partial (both paths).
  { x: [1, 12, 41, 40, 16], w: [3, 3, 3, 16, 8], pad: 'same' },
  { x: [1, 6, 33, 40, 32], w: [3, 3, 3, 32, 8], pad: 'same' },
];

/** The gradient path the network uses: conv3dS1 (dx as a forward conv, dW through Conv3DBackpropFilterV2). */
const GRAD_CASES: Case[] = [
  { x: [1, 3, 5, 7, 1], w: [3, 3, 3, 1, 4], pad: 'same' },
  { x: [2, 5, 7, 5, 3], w: [3, 3, 3, 3, 16], pad: 'same' },
  { x: [1, 9, 13, 7, 8], w: [3, 3, 3, 8, 1], pad: 'valid' },
  { x: [2, 4, 5, 13, 8], w: [1, 3, 3, 8, 4], pad: 'same' },
  { x: [1, 7, 7, 7, 3], w: [2, 3, 3, 3, 16], pad: 'valid' },
  { x: [1, 2, 13, 13, 8], w: [2, 3, 3, 8, 4], pad: 'valid' },
  { x: [1, 4, 7, 5, 3], w: [3, 3, 3, 3, 24], pad: 'same' }, // dx convolves 24 channels
  { x: [1, 12, 41, 40, 16], w: [3, 3, 3, 16, 8], pad: 'same' },
];

const label = (c: Case): string => `x [${c.x}] w [${c.w}] ${c.pad}`;

interface Outputs {
  y: Float32Array;
  dw: Float32Array;
}

/** Forward and a direct Conv3DBackpropFilterV2 (dy is a fixed random tensor) on the active backend. */
async function forwardAndFilterGrad(c: Case): Promise<Outputs> {
  const x = tf.tensor5d(seeded(c.x, 1), c.x);
  const w = tf.tensor5d(seeded(c.w, 2), c.w);
  const y = tf.conv3d(x, w, 1, c.pad);
  const dy = tf.tensor(seeded(y.shape, 3), y.shape);
  const dw = tf.engine().runKernel('Conv3DBackpropFilterV2', { x, dy }, { strides: [1, 1, 1], pad: c.pad, filterShape: c.w }) as tf.Tensor;
  const out = { y: (await y.data()) as Float32Array, dw: (await dw.data()) as Float32Array };
  tf.dispose([x, w, y, dy, dw]);
  return out;
}

interface Grads {
  dx: Float32Array;
  dw: Float32Array;
}

async function gradients(c: Case): Promise<Grads> {
  const x = tf.tensor5d(seeded(c.x, 4), c.x);
  const w = tf.tensor5d(seeded(c.w, 5), c.w);
  const y0 = conv3dS1(x, w, c.pad);
  const r = tf.tensor(seeded(y0.shape, 6), y0.shape);
  y0.dispose();
  const loss = (a: tf.Tensor, b: tf.Tensor): tf.Scalar => tf.sum(tf.mul(conv3dS1(a as tf.Tensor5D, b as tf.Tensor5D, c.pad), r));
  const [dx, dw] = tf.grads(loss)([x, w]);
  const out = { dx: (await dx!.data()) as Float32Array, dw: (await dw!.data()) as Float32Array };
  tf.dispose([x, w, r, dx!, dw!]);
  return out;
}

let stockConv3D: tf.KernelConfig | undefined;

before(async () => {
  stockConv3D = tf.getKernel('Conv3D', 'wasm');
  registerWasmConvKernels();
  await initEngine('wasm');
});

test('the wasm Conv3D and Conv3DBackpropFilterV2 are ours; registering again changes nothing', () => {
  const conv = tf.getKernel('Conv3D', 'wasm');
  const filt = tf.getKernel('Conv3DBackpropFilterV2', 'wasm');
  assert.ok(stockConv3D && conv && conv !== stockConv3D, 'Conv3D was replaced');
  registerWasmConvKernels();
  assert.equal(tf.getKernel('Conv3D', 'wasm'), conv);
  assert.equal(tf.getKernel('Conv3DBackpropFilterV2', 'wasm'), filt);
});

test('the fast path is taken: several times faster than the stock kernel', async () => {
  const x = tf.tensor5d(seeded([1, 8, 32, 32, 16], 9), [1, 8, 32, 32, 16]);
  const w = tf.tensor5d(seeded([3, 3, 3, 16, 32], 10), [3, 3, 3, 16, 32]);
  const attrs = { strides: [1, 1, 1], pad: 'same', dataFormat: 'NDHWC', dilations: [1, 1, 1] };
  const backend = tf.backend();
  let t0 = performance.now();
  const info = stockConv3D!.kernelFunc({ inputs: { x, filter: w }, backend, attrs }) as tf.TensorInfo;
  const stockMs = performance.now() - t0;
  backend.disposeData(info.dataId);
  tf.conv3d(x, w, 1, 'same').dispose(); // warm-up
  t0 = performance.now();
  const y = tf.conv3d(x, w, 1, 'same');
  await y.data();
  const ms = performance.now() - t0;
  tf.dispose([x, w, y]);
  assert.ok(ms * 3 < stockMs, `ours ${ms.toFixed(0)} ms, stock ${stockMs.toFixed(0)} ms`);
});

test('forward and filter gradient match the cpu backend', async () => {
  await initEngine('cpu');
  const refs: Outputs[] = [];
  for (const c of FORWARD_CASES) refs.push(await forwardAndFilterGrad(c));
  await initEngine('wasm');
  for (let i = 0; i < FORWARD_CASES.length; i++) {
    const c = FORWARD_CASES[i]!;
    const got = await forwardAndFilterGrad(c);
    const ey = relErr(got.y, refs[i]!.y);
    const ew = relErr(got.dw, refs[i]!.dw);
    assert.ok(ey <= TOL, `${label(c)}: forward error ${ey}`);
    assert.ok(ew <= TOL, `${label(c)}: filter gradient error ${ew}`);
  }
});

test('input and filter gradients of a conv3d loss (tf.grads through conv3dS1) match the cpu backend', async () => {
  await initEngine('cpu');
  const refs: Grads[] = [];
  for (const c of GRAD_CASES) refs.push(await gradients(c));
  await initEngine('wasm');
  for (let i = 0; i < GRAD_CASES.length; i++) {
    const c = GRAD_CASES[i]!;
    const got = await gradients(c);
    const ex = relErr(got.dx, refs[i]!.dx);
    const ew = relErr(got.dw, refs[i]!.dw);
    assert.ok(ex <= TOL, `${label(c)}: input gradient error ${ex}`);
    assert.ok(ew <= TOL, `${label(c)}: filter gradient error ${ew}`);
  }
});

test('strided and dilated convolutions fall back to the stock kernel', async () => {
  const x5: Shape5 = [1, 6, 9, 8, 3];
  const w5: Shape5 = [3, 3, 3, 3, 4];
  const run = async (): Promise<Float32Array[]> => {
    const x = tf.tensor5d(seeded(x5, 7), x5);
    const w = tf.tensor5d(seeded(w5, 8), w5);
    const ys = [tf.conv3d(x, w, [2, 1, 2], 'same'), tf.conv3d(x, w, 1, 'valid', 'NDHWC', [1, 2, 2])];
    const out = await Promise.all(ys.map(async (y) => (await y.data()) as Float32Array));
    tf.dispose([x, w, ...ys]);
    return out;
  };
  await initEngine('cpu');
  const refs = await run();
  await initEngine('wasm');
  const got = await run();
  for (let i = 0; i < refs.length; i++) assert.ok(relErr(got[i]!, refs[i]!) <= TOL, `case ${i}: error ${relErr(got[i]!, refs[i]!)}`);
});

test('no tensor or wasm buffer is left behind', async () => {
  assert.equal(tf.getBackend(), 'wasm');
  const backend = tf.backend() as unknown as { numDataIds(): number };
  // Single- and multi-chunk, with im2col built transposed (few channels) and directly (many).
  for (const c of [GRAD_CASES[1]!, GRAD_CASES[GRAD_CASES.length - 1]!, FORWARD_CASES[FORWARD_CASES.length - 1]!, FORWARD_CASES.find((c) => c.x[4] === 24)!]) {
    await forwardAndFilterGrad(c); // warm-up
    const before = tf.memory();
    const ids = backend.numDataIds();
    await forwardAndFilterGrad(c);
    await gradients(c);
    const after = tf.memory();
    assert.equal(after.numTensors, before.numTensors, `${label(c)}: tensors`);
    assert.equal(after.numBytes, before.numBytes, `${label(c)}: bytes`);
    assert.equal(backend.numDataIds(), ids, `${label(c)}: wasm data ids`);
  }
});
