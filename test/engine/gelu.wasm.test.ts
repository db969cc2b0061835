import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/node.js';
import { simdGeluModule } from '../../src/engine/kernels/gelu.simd.js';
import { GELU_KERNEL } from '../../src/engine/custom-kernels.js';
import { registerWasmGelu, wasmGeluTakes } from '../../src/engine/kernels/gelu.wasm.js';
import { mlpResidual, withReleasedGradients } from '../../src/model/layers.js';
import { relErr, seeded } from '../support/arrays.js';

/** SrdGelu on wasm against the stock ops it replaces, run on the cpu backend. */

/** Values a GELU meets, and the edges: signed zeros, tiny, beyond exp's range (|h| > 13.2), huge. */
const SPECIAL = [0, -0, 1e-8, -1e-8, 0.5, -0.5, 1, -1, 3, -3, 13.2, -13.2, 14, -14, 40, -40, 1e6, -1e6];

function values(n: number, seed: number): Float32Array {
  const v = seeded([n], seed).map((x) => x * 16);
  v.set(SPECIAL.slice(0, n));
  return v;
}

/** The stock-op GELU and slope of model/layers.ts, on the current backend. */
function stockGelu(h: tf.Tensor): [tf.Tensor, tf.Tensor] {
  return tf.tidy(() => {
    const erf1 = tf.add(tf.erf(tf.mul(h, Math.SQRT1_2)), 1);
    const slope = tf.add(tf.mul(erf1, 0.5), tf.mul(h, tf.mul(tf.exp(tf.mul(tf.square(h), -0.5)), 1 / Math.sqrt(2 * Math.PI))));
    return [tf.mul(tf.mul(h, 0.5), erf1), slope];
  });
}

/** Largest |got − ref| / max(1, |ref|). */
function err(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(got[i]! - ref[i]!) / Math.max(1, Math.abs(ref[i]!)));
  return worst;
}

before(() => {
  registerWasmGelu();
});

test('the module is valid for both memory kinds and under 4 KB', () => {
  for (const shared of [false, true]) {
    const bytes = simdGeluModule(shared);
    assert.ok(WebAssembly.validate(bytes), `shared ${shared}`);
    assert.ok(bytes.length < 4096, `${bytes.length} bytes`);
  }
});

test('GELU and its slope match the stock ops within 5e-7, every length mod 4, signs and range edges', async () => {
  for (const n of [4, 5, 6, 7, 18, 1027, 4096]) {
    const v = values(n, n);
    await initEngine('cpu');
    const [rg, rs] = stockGelu(tf.tensor(v, [n]));
    const ref = [await rg!.data(), await rs!.data()];
    tf.dispose([rg!, rs!]);
    await initEngine('wasm');
    const x = tf.tensor(v, [n]);
    assert.ok(wasmGeluTakes(x));
    const [g, s] = tf.engine().runKernel(GELU_KERNEL, { x }, { slope: true }) as tf.Tensor[];
    const gOnly = tf.engine().runKernel(GELU_KERNEL, { x }, { slope: false }) as tf.Tensor;
    const got = [await g!.data(), await s!.data()];
    assert.deepEqual(await gOnly.data(), got[0], `n ${n}: GELU alone differs from GELU with slope`);
    assert.ok(err(got[0]!, ref[0]!) <= 5e-7, `n ${n}: GELU error ${err(got[0]!, ref[0]!)}`);
    assert.ok(err(got[1]!, ref[1]!) <= 5e-7, `n ${n}: slope error ${err(got[1]!, ref[1]!)}`);
    for (let i = 0; i < Math.min(n, SPECIAL.length); i++) {
      assert.ok(Number.isFinite(got[0]![i]!) && Number.isFinite(got[1]![i]!), `finite at h = ${SPECIAL[i]}`);
    }
    tf.dispose([x, g!, s!, gOnly]);
  }
});

test('taken only on wasm, for float32 and at least four values', async () => {
  await initEngine('wasm');
  const small = tf.zeros([3]);
  const ints = tf.zeros([8], 'int32');
  assert.equal(wasmGeluTakes(small), false);
  assert.equal(wasmGeluTakes(ints), false);
  tf.dispose([small, ints]);
  await initEngine('cpu');
  const x = tf.zeros([8]);
  assert.equal(wasmGeluTakes(x), false);
  x.dispose();
});

test('mlpResidual on wasm (SrdGelu) matches cpu (stock ops): value and gradients', async () => {
  const e = 8;
  const m = 20;
  const shapes = [[3, 5, e], [e], [e], [e, m], [m], [m, e], [e]];
  const names = ['n.weight', 'n.bias', 'a.weight', 'a.bias', 'b.weight', 'b.bias'];
  const run = async (): Promise<Float32Array[]> => {
    const ts = shapes.map((s, i) => tf.tensor(seeded(s, 30 + i).map((v) => v * 3), s));
    const p = (name: string): tf.Tensor => ts[1 + names.indexOf(name)]!;
    const f = (...xs: tf.Tensor[]): tf.Scalar =>
      tf.sum(tf.square(withReleasedGradients(() => mlpResidual(xs[0]!, (n) => (n === 'n.weight' ? xs[1]! : n === 'a.weight' ? xs[2]! : n === 'b.weight' ? xs[3]! : p(n)), 'n', 'a', 'b', 4))));
    const inputs = [ts[0]!, ts[1]!, ts[3]!, ts[5]!];
    const { value, grads } = tf.valueAndGrads(f)(inputs);
    const out = [await value.data(), ...(await Promise.all(grads.map((g) => g.data())))] as Float32Array[];
    tf.dispose([...ts, value, ...grads]);
    return out;
  };
  await initEngine('cpu');
  const ref = await run();
  await initEngine('wasm');
  const got = await run();
  got.forEach((g, i) => assert.ok(relErr(g, ref[i]!) <= 1e-5, `output ${i}: error ${relErr(g, ref[i]!)}`));
});
