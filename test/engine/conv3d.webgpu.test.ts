import { test, before } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/node.js';
import { registerWebGpuConvKernels } from '../../src/engine/kernels/conv3d.webgpu.js';
import { conv3dS1 } from '../../src/model/conv.js';
import { relErr, seeded } from '../support/arrays.js';

/**
 * The webgpu Conv3D / Conv3DBackpropFilterV2 programs against TF.js's stock kernels on cpu (the
 * reference), at odd shapes, both paddings and the network's three kernel sizes. References are
 * computed on cpu first; then the engine switches to webgpu with our kernels registered.
 * Without a WebGPU adapter every test skips, unless SRDTRANS_REQUIRE_WEBGPU=1.
 */
type Shape5 = [number, number, number, number, number];
interface Case {
  x: Shape5;
  /** [kt, kh, kw, cin, cout] */
  w: Shape5;
  pad: 'same' | 'valid';
}

const TOL = 1e-4; // max abs error relative to max |reference|

const FORWARD_CASES: Case[] = [
  { x: [1, 1, 5, 7, 1], w: [3, 3, 3, 1, 1], pad: 'same' },
  { x: [2, 3, 7, 5, 3], w: [3, 3, 3, 3, 4], pad: 'same' },
  { x: [1, 9, 13, 13, 8], w: [3, 3, 3, 8, 16], pad: 'same' },
  { x: [1, 4, 33, 7, 17], w: [3, 3, 3, 17, 33], pad: 'same' }, // 3 channel tiles, scalar paths
  { x: [1, 3, 7, 7, 8], w: [3, 3, 3, 8, 4], pad: 'valid' },
  { x: [2, 5, 7, 13, 8], w: [1, 3, 3, 8, 33], pad: 'same' },
  { x: [1, 2, 33, 5, 1], w: [1, 3, 3, 1, 4], pad: 'valid' },
  { x: [1, 6, 13, 7, 3], w: [2, 3, 3, 3, 16], pad: 'valid' },
  { x: [2, 9, 5, 5, 17], w: [2, 3, 3, 17, 1], pad: 'valid' },
  { x: [2, 4, 5, 5, 3], w: [2, 3, 3, 3, 4], pad: 'same' }, // even kernel: asymmetric T padding
  { x: [1, 2, 3, 1, 4], w: [3, 3, 3, 4, 8], pad: 'same' }, // kernel wider than the volume
  // Many workgroups, 4 positions a thread, the last tile partial.
  { x: [1, 8, 33, 33, 4], w: [3, 3, 3, 4, 8], pad: 'same' },
];

/** The gradient path the network uses: conv3dS1 (dx as another Conv3D, dW via Conv3DBackpropFilterV2). */
const GRAD_CASES: Case[] = [
  { x: [1, 3, 5, 7, 1], w: [3, 3, 3, 1, 4], pad: 'same' },
  { x: [2, 4, 7, 5, 3], w: [3, 3, 3, 3, 16], pad: 'same' },
  { x: [1, 5, 13, 13, 8], w: [1, 3, 3, 8, 33], pad: 'same' },
  { x: [1, 3, 7, 7, 17], w: [2, 3, 3, 17, 33], pad: 'valid' }, // K = 306: two filter-row tiles
  { x: [2, 9, 5, 5, 4], w: [2, 3, 3, 4, 8], pad: 'valid' },
  { x: [1, 4, 13, 7, 8], w: [3, 3, 3, 8, 1], pad: 'valid' },
  // Enough positions for the reduction to be split over many workgroups.
  { x: [1, 8, 33, 33, 4], w: [3, 3, 3, 4, 8], pad: 'same' },
];

const label = (c: Case): string => `x [${c.x}] w [${c.w}] ${c.pad}`;

interface Inputs {
  x: Float32Array;
  w: Float32Array;
  /** Cotangent of the output (the loss is Σ y·r). */
  r: Float32Array;
  yShape: number[];
}

function inputsFor(c: Case, seed: number): Inputs {
  const yShape = tf.tidy(() => tf.conv3d(tf.zeros(c.x) as tf.Tensor5D, tf.zeros(c.w) as tf.Tensor5D, 1, c.pad).shape);
  return { x: seeded(c.x, seed), w: seeded(c.w, seed + 1), r: seeded(yShape, seed + 2), yShape };
}

/** Σ y·r on flat views: TF.js's webgpu elementwise programs are unreliable at rank 5. */
function dot(y: tf.Tensor, r: tf.Tensor): tf.Scalar {
  return tf.sum(tf.mul(tf.reshape(y, [-1]), tf.reshape(r, [-1])));
}

async function forward(c: Case, d: Inputs): Promise<Float32Array> {
  const y = tf.tidy(() => tf.conv3d(tf.tensor(d.x, c.x) as tf.Tensor5D, tf.tensor(d.w, c.w) as tf.Tensor5D, 1, c.pad));
  const out = (await y.data()) as Float32Array;
  y.dispose();
  return out;
}

/** dx and dW of Σ conv(x, w)·r through `conv`. */
async function grads(
  c: Case,
  d: Inputs,
  conv: (x: tf.Tensor5D, w: tf.Tensor5D) => tf.Tensor5D,
): Promise<{ dx: Float32Array; dw: Float32Array }> {
  const [gx, gw] = tf.tidy(() => {
    const r = tf.tensor(d.r, d.yShape);
    const f = (x: tf.Tensor, w: tf.Tensor): tf.Scalar => dot(conv(x as tf.Tensor5D, w as tf.Tensor5D), r);
    return tf.grads(f)([tf.tensor(d.x, c.x), tf.tensor(d.w, c.w)]);
  }) as [tf.Tensor, tf.Tensor];
  const dx = (await gx.data()) as Float32Array;
  const dw = (await gw.data()) as Float32Array;
  tf.dispose([gx, gw]);
  return { dx, dw };
}

interface FwdEntry {
  c: Case;
  d?: Inputs;
  ref?: Float32Array;
}
interface GradEntry {
  c: Case;
  d?: Inputs;
  dx?: Float32Array;
  dw?: Float32Array;
}
const fwdInputs: FwdEntry[] = FORWARD_CASES.map((c) => ({ c }));
const gradInputs: GradEntry[] = GRAD_CASES.map((c) => ({ c }));
let gpuError: string | undefined;

before(async () => {
  await initEngine('cpu');
  for (const [i, f] of fwdInputs.entries()) {
    f.d = inputsFor(f.c, 100 + 7 * i);
    f.ref = await forward(f.c, f.d);
  }
  for (const [i, g] of gradInputs.entries()) {
    g.d = inputsFor(g.c, 500 + 7 * i);
    // Stock cpu kernels throughout: Conv3DBackpropInputV2 for dx, Conv3DBackpropFilterV2 for dW.
    const r = await grads(g.c, g.d, (x, w) => tf.conv3d(x, w, 1, g.c.pad));
    g.dx = r.dx;
    g.dw = r.dw;
  }
  try {
    await initEngine('webgpu');
  } catch (e) {
    gpuError = (e as Error).message;
    return;
  }
  registerWebGpuConvKernels();
});

/** False (after skipping or failing the test) when there is no WebGPU to test. */
function haveGpu(t: TestContext): boolean {
  if (gpuError === undefined) return true;
  if (process.env['SRDTRANS_REQUIRE_WEBGPU'] === '1') assert.fail(`WebGPU required but unavailable: ${gpuError}`);
  t.skip(`WebGPU unavailable: ${gpuError}`);
  return false;
}

test('registers over the stock webgpu kernels, idempotently', (t) => {
  if (!haveGpu(t)) return;
  const conv = tf.getKernel('Conv3D', 'webgpu');
  const dw = tf.getKernel('Conv3DBackpropFilterV2', 'webgpu');
  assert.ok(conv && dw);
  assert.equal(conv.kernelFunc.name, 'conv3DGemm');
  assert.equal(dw.kernelFunc.name, 'conv3DFilterGradGemm');
  registerWebGpuConvKernels();
  assert.equal(tf.getKernel('Conv3D', 'webgpu')!.kernelFunc, conv.kernelFunc);
});

test('Conv3D forward matches the cpu reference', async (t) => {
  if (!haveGpu(t)) return;
  for (const f of fwdInputs) {
    const got = await forward(f.c, f.d!);
    const err = relErr(got, f.ref!);
    assert.ok(err <= TOL, `${label(f.c)}: relative error ${err}`);
  }
});

test('dx and dW through conv3dS1 (Conv3D + Conv3DBackpropFilterV2) match the cpu reference', async (t) => {
  if (!haveGpu(t)) return;
  for (const g of gradInputs) {
    const got = await grads(g.c, g.d!, (x, w) => conv3dS1(x, w, g.c.pad));
    const ex = relErr(got.dx, g.dx!);
    const ew = relErr(got.dw, g.dw!);
    assert.ok(ex <= TOL, `${label(g.c)}: dx relative error ${ex}`);
    assert.ok(ew <= TOL, `${label(g.c)}: dW relative error ${ew}`);
  }
});

test('other launch shapes (a tuning) give the same results', async (t) => {
  if (!haveGpu(t)) return;
  // The smallest register tiles, and a filter gradient split into as many partial sums as it allows.
  registerWebGpuConvKernels({ convRows: 1, convQuads: 1, minThreads: 1, targetWorkgroups: 100_000 });
  const programs = () => Object.keys((tf.backend() as unknown as { pipelineCache: Record<string, unknown> }).pipelineCache);
  const before = new Set(programs());
  try {
    for (const f of fwdInputs) {
      const err = relErr(await forward(f.c, f.d!), f.ref!);
      assert.ok(err <= TOL, `${label(f.c)}: relative error ${err}`);
    }
    for (const g of gradInputs) {
      const got = await grads(g.c, g.d!, (x, w) => conv3dS1(x, w, g.c.pad));
      assert.ok(relErr(got.dw, g.dw!) <= TOL, `${label(g.c)}: dW`);
    }
    // Shader keys end in the register tile (rows, quads): these ran with one row and one quad.
    const built = programs().filter((k) => !before.has(k) && k.startsWith('conv3dGemm_'));
    assert.ok(built.length > 0 && built.every((k) => /^conv3dGemm_(\d+_){5}1_1_/.test(k)), `programs built: ${built.join(' ')}`);
  } finally {
    registerWebGpuConvKernels();
  }
});

test('dW through tf.conv3d’s own gradient matches the cpu reference', async (t) => {
  if (!haveGpu(t)) return;
  // Only dW is ours here (dx is the stock Conv3DBackpropInputV2); a second route into the kernel.
  for (const g of gradInputs.slice(0, 3)) {
    const got = await grads(g.c, g.d!, (x, w) => tf.conv3d(x, w, 1, g.c.pad));
    const ew = relErr(got.dw, g.dw!);
    assert.ok(ew <= TOL, `${label(g.c)}: dW relative error ${ew}`);
  }
});

test('strided and dilated convolutions fall back to the stock kernels', async (t) => {
  if (!haveGpu(t)) return;
  const xs: Shape5 = [1, 5, 9, 7, 3];
  const ws: Shape5 = [3, 3, 3, 3, 4];
  const run = (): tf.Tensor[] => {
    const x = tf.tensor(seeded(xs, 1), xs) as tf.Tensor5D;
    const w = tf.tensor(seeded(ws, 2), ws) as tf.Tensor5D;
    return [tf.conv3d(x, w, [2, 1, 2], 'same'), tf.conv3d(x, w, 1, 'valid', 'NDHWC', [1, 2, 2])];
  };
  const gpu = await Promise.all(tf.tidy(run).map(async (y) => [y.shape, await y.data(), y.dispose()] as const));
  await initEngine('cpu');
  try {
    const cpu = await Promise.all(tf.tidy(run).map(async (y) => [y.shape, await y.data(), y.dispose()] as const));
    for (let i = 0; i < cpu.length; i++) {
      assert.deepEqual(gpu[i]![0], cpu[i]![0]);
      const err = relErr(gpu[i]![1], cpu[i]![1]);
      assert.ok(err <= TOL, `case ${i}: relative error ${err}`);
    }
  } finally {
    await initEngine('webgpu');
  }
});

test('no tensors or GPU buffers leak', async (t) => {
  if (!haveGpu(t)) return;
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const g = gradInputs[gradInputs.length - 1]!; // split reduction: a temporary partials buffer
  await forward(g.c, g.d!);
  await grads(g.c, g.d!, (x, w) => conv3dS1(x, w, g.c.pad));
  const tensors = tf.memory().numTensors;
  const ids = backend.numDataIds();
  for (let i = 0; i < 2; i++) {
    await forward(g.c, g.d!);
    await grads(g.c, g.d!, (x, w) => conv3dS1(x, w, g.c.pad));
    const y = tf.tidy(() =>
      tf.engine().runKernel('Conv3DBackpropFilterV2', { x: tf.tensor(g.d!.x, g.c.x), dy: tf.tensor(g.d!.r, g.d!.yShape) }, {
        strides: [1, 1, 1],
        pad: g.c.pad,
        filterShape: g.c.w,
      }) as tf.Tensor,
    );
    await y.data();
    y.dispose();
  }
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(backend.numDataIds(), ids);
});
