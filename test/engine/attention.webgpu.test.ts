import { test, before } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/node.js';
import { ATTENTION_GRAD_KERNEL, ATTENTION_KERNEL, packKeep } from '../../src/engine/custom-kernels.js';
import { attention, drawKeep } from '../../src/model/layers.js';
import { Rng } from '../../src/util/rng.js';
import { relErr, seeded } from '../support/arrays.js';

/**
 * The fused webgpu attention (SrdAttention / SrdAttentionGrad through layers.attention) against
 * the composite path of stock kernels on cpu: out, dqkv and dbias of Σ out·r, at odd shapes
 * (Swin's N = 49 and N = 9, temporal lengths 1, 5 and 33; heads 1 to 4; d 3, 4, 8, 16), with and
 * without bias, shift mask and dropout keep flags, q scaled before or after the product.
 * References are computed on cpu first; then the engine switches to webgpu.
 * Without a WebGPU adapter every test skips, unless SRDTRANS_REQUIRE_WEBGPU=1.
 */
interface Case {
  m: number;
  n: number;
  heads: number;
  d: number;
  bias: boolean;
  /** Mask windows (dividing m), or 0 for no mask. */
  windows: number;
  /** Dropout rate, or 0 for no keep flags. */
  rate: number;
  scaleQuery: boolean;
}

const TOL = 1e-4; // max abs error relative to max |reference|

const CASES: Case[] = [
  { m: 4, n: 49, heads: 3, d: 8, bias: true, windows: 2, rate: 0.1, scaleQuery: true }, // a shifted Swin block
  { m: 3, n: 49, heads: 4, d: 16, bias: true, windows: 0, rate: 0, scaleQuery: true },
  { m: 6, n: 49, heads: 1, d: 3, bias: true, windows: 3, rate: 0, scaleQuery: true },
  { m: 10, n: 9, heads: 3, d: 3, bias: true, windows: 5, rate: 0.3, scaleQuery: true },
  { m: 7, n: 9, heads: 4, d: 8, bias: false, windows: 7, rate: 0, scaleQuery: true },
  { m: 33, n: 5, heads: 1, d: 16, bias: false, windows: 0, rate: 0.1, scaleQuery: false }, // temporal
  { m: 7, n: 33, heads: 4, d: 3, bias: false, windows: 0, rate: 0, scaleQuery: false },
  { m: 65, n: 5, heads: 3, d: 8, bias: false, windows: 0, rate: 0.5, scaleQuery: false },
  { m: 5, n: 9, heads: 3, d: 8, bias: true, windows: 0, rate: 0.2, scaleQuery: false },
  { m: 6, n: 1, heads: 2, d: 4, bias: false, windows: 0, rate: 0.2, scaleQuery: false }, // one frame: p = 1
  // Many workgroups, and a longer sum over sequences for dbias.
  { m: 40, n: 49, heads: 4, d: 8, bias: true, windows: 4, rate: 0.1, scaleQuery: true },
];

const label = (c: Case): string =>
  `M ${c.m} N ${c.n} heads ${c.heads} d ${c.d}${c.bias ? ' bias' : ''}${c.windows ? ` mask/${c.windows}` : ''}` +
  `${c.rate ? ` dropout ${c.rate}` : ''}${c.scaleQuery ? ' q-scaled' : ''}`;

interface Inputs {
  qkv: Float32Array;
  bias?: Float32Array;
  /** Swin-style: 0 or −100. */
  mask?: Float32Array;
  keep?: Uint8Array;
  /** Cotangent of the output (the loss is Σ out·r). */
  r: Float32Array;
}

function inputsFor(c: Case, seed: number): Inputs {
  const e = c.heads * c.d;
  // Spread-out scores, so that the softmax is far from uniform.
  const qkv = seeded([c.m, c.n, 3 * e], seed).map((v) => 4 * v);
  const mask = c.windows ? seeded([c.windows, c.n * c.n], seed + 1).map((v) => (v > 0.1 ? -100 : 0)) : undefined;
  if (mask) for (let w = 0; w < c.windows; w++) for (let i = 0; i < c.n; i++) mask[(w * c.n + i) * c.n + i] = 0;
  return {
    qkv,
    bias: c.bias ? seeded([c.heads, c.n, c.n], seed + 2) : undefined,
    mask,
    keep: c.rate ? drawKeep(c.m * c.heads * c.n * c.n, c.rate, new Rng(seed + 3)) : undefined,
    r: seeded([c.m, c.n, e], seed + 4),
  };
}

interface Result {
  out: Float32Array;
  dqkv: Float32Array;
  dbias?: Float32Array;
}

function attend(c: Case, d: Inputs, qkv: tf.Tensor, bias: tf.Tensor | undefined): tf.Tensor3D {
  return attention(qkv as tf.Tensor3D, {
    heads: c.heads,
    scale: c.d ** -0.5,
    scaleQuery: c.scaleQuery,
    bias,
    mask: d.mask && { values: d.mask, windows: c.windows },
    rate: c.rate,
    keep: d.keep,
  });
}

async function run(c: Case, d: Inputs): Promise<Result> {
  const e = c.heads * c.d;
  const ts = tf.tidy(() => {
    const qkv = tf.tensor(d.qkv, [c.m, c.n, 3 * e]);
    const bias = d.bias && tf.tensor(d.bias, [c.heads, c.n, c.n]);
    const r = tf.tensor(d.r, [c.m, c.n, e]);
    const loss = (...xs: tf.Tensor[]): tf.Scalar => tf.sum(tf.mul(attend(c, d, xs[0]!, xs[1]), r));
    return [attend(c, d, qkv, bias), ...tf.grads(loss)(bias ? [qkv, bias] : [qkv])];
  });
  const [out, dqkv, dbias] = (await Promise.all(ts.map((t) => t.data()))) as Float32Array[];
  tf.dispose(ts);
  return { out: out!, dqkv: dqkv!, dbias };
}

const entries = CASES.map((c, i) => ({ c, d: inputsFor(c, 100 + 11 * i), ref: undefined as Result | undefined }));
let gpuError: string | undefined;

before(async () => {
  await initEngine('cpu');
  for (const en of entries) en.ref = await run(en.c, en.d);
  try {
    await initEngine('webgpu');
  } catch (e) {
    gpuError = (e as Error).message;
  }
});

/** False (after skipping or failing the test) when there is no WebGPU to test. */
function haveGpu(t: TestContext): boolean {
  if (gpuError === undefined) return true;
  if (process.env['SRDTRANS_REQUIRE_WEBGPU'] === '1') assert.fail(`WebGPU required but unavailable: ${gpuError}`);
  t.skip(`WebGPU unavailable: ${gpuError}`);
  return false;
}

test('packKeep puts flag t in bit t mod 32 of word t/32', () => {
  const keep = new Uint8Array(70);
  for (const t of [0, 5, 31, 32, 63, 69]) keep[t] = 1;
  assert.deepEqual([...packKeep(keep)], [(1 | (1 << 5) | (1 << 31)) | 0, (1 | (1 << 31)) | 0, 1 << 5]);
});

test('out, dqkv and dbias match the composite path on cpu', async (t) => {
  if (!haveGpu(t)) return;
  for (const { c, d, ref } of entries) {
    const got = await run(c, d);
    const eo = relErr(got.out, ref!.out);
    const eq = relErr(got.dqkv, ref!.dqkv);
    assert.ok(eo <= TOL, `${label(c)}: out relative error ${eo}`);
    assert.ok(eq <= TOL, `${label(c)}: dqkv relative error ${eq}`);
    if (c.bias) {
      const eb = relErr(got.dbias!, ref!.dbias!);
      assert.ok(eb <= TOL, `${label(c)}: dbias relative error ${eb}`);
    }
  }
});

test('webgpu runs the fused kernels and never makes an [M, heads, N, N] tensor', async (t) => {
  if (!haveGpu(t)) return;
  const { c, d } = entries[0]!;
  const scores = c.m * c.heads * c.n * c.n;
  const info = await tf.profile(async () => {
    const r = await run(c, d);
    return r.out.length;
  });
  const names = info.kernels.map((k) => k.name);
  assert.ok(names.includes(ATTENTION_KERNEL), `kernels run: ${names.join(', ')}`);
  assert.ok(names.includes(ATTENTION_GRAD_KERNEL), `kernels run: ${names.join(', ')}`);
  for (const k of info.kernels) {
    for (const shape of k.outputShapes) {
      const size = shape.reduce((a, b) => a * b, 1);
      assert.ok(size < scores, `${k.name} made a tensor of shape [${shape}]`);
    }
  }
});

test('no tensors or GPU buffers leak', async (t) => {
  if (!haveGpu(t)) return;
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const { c, d } = entries[0]!;
  await run(c, d);
  const tensors = tf.memory().numTensors;
  const ids = backend.numDataIds();
  for (let i = 0; i < 2; i++) await run(c, d);
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(backend.numDataIds(), ids);
});
