import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, initEngine, type ModelConfig, SRDTrans, type StateDict } from '../../src/node.js';
import { TINY, maxAbs, maxAbsDiff, randomArray } from './helpers.js';

/**
 * The same weights and input on cpu, wasm and webgpu: forward (eval and training with a fixed
 * dropout seed) and the gradients of mean(out²) must agree. 5×7 with window 3 exercises
 * padding, the shifted-window mask and every kernel of the training path (no Conv2DBackpropFilter,
 * UnsortedSegmentSum or Einsum, which wasm lacks).
 */
interface Case {
  config: ModelConfig;
  shape: [number, number, number, number];
}
const CASES: Case[] = [
  { config: { ...TINY, patchT: 8 }, shape: [2, 8, 5, 7] },
  // The default window (49-token windows, 13×13 bias table), 9×10 padded to 14×14.
  { config: { ...TINY, embedDim: 16, heads: 4, mlpDim: 32, window: 7, patchT: 8 }, shape: [1, 8, 9, 10] },
];
const FORWARD_TOL = 1e-4; // relative to max |out|
const GRAD_TOL = 1e-3; // per tensor, relative to its max |grad|

interface Result {
  evalOut: Float32Array;
  trainOut: Float32Array;
  grads: Map<string, Float32Array>;
}

async function run(c: Case, sd: StateDict | undefined): Promise<{ result: Result; sd: StateDict }> {
  const model = new SRDTrans(c.config, 4);
  if (sd) model.loadStateDict(sd);
  else {
    sd = await model.stateDict();
    let k = 0;
    for (const [name, t] of sd) {
      if (t.dtype !== 'float32' || !/norm|pre_head_ln|position_embeddings|bias_table/.test(name)) continue;
      const r = randomArray(t.data.length, 900 + k++, 0.3);
      if (/\.weight$/.test(name)) for (let i = 0; i < r.length; i++) r[i]! += 1;
      (t.data as Float32Array).set(r);
    }
    model.loadStateDict(sd);
  }
  const x = tf.tensor4d(randomArray(c.shape.reduce((a, b) => a * b, 1), 42), c.shape);
  const evalY = model.apply(x);
  const trainY = model.apply(x, { training: true, seed: 9 });
  const names = [...model.variables.keys()];
  const vars = names.map((n) => model.variables.get(n)!);
  const { value, grads } = tf.variableGrads(
    () => tf.mean(tf.square(model.apply(x, { training: true, seed: 9 }))) as tf.Scalar,
    vars,
  );
  const g = new Map<string, Float32Array>();
  for (let i = 0; i < names.length; i++) g.set(names[i]!, (await grads[vars[i]!.name]!.data()) as Float32Array);
  const result = {
    evalOut: (await evalY.data()) as Float32Array,
    trainOut: (await trainY.data()) as Float32Array,
    grads: g,
  };
  tf.dispose([x, evalY, trainY, value, ...Object.values(grads)]);
  model.dispose();
  return { result, sd };
}

function compare(name: string, ref: Result, got: Result): string {
  const scale = maxAbs(ref.evalOut);
  const fe = maxAbsDiff(ref.evalOut, got.evalOut) / scale;
  const ft = maxAbsDiff(ref.trainOut, got.trainOut) / maxAbs(ref.trainOut);
  assert.ok(fe < FORWARD_TOL, `${name} eval forward: relative difference ${fe}`);
  assert.ok(ft < FORWARD_TOL, `${name} training forward: relative difference ${ft}`);
  let worstGrad = 0;
  for (const [k, gRef] of ref.grads) {
    const m = maxAbs(gRef);
    const d = maxAbsDiff(gRef, got.grads.get(k)!) / (m || 1);
    worstGrad = Math.max(worstGrad, d);
    assert.ok(d < GRAD_TOL, `${name} gradient of ${k}: relative difference ${d}`);
  }
  return `${name} vs cpu: forward eval ${fe.toExponential(2)}, training ${ft.toExponential(2)} (tolerance ${FORWARD_TOL}); worst gradient ${worstGrad.toExponential(2)} (tolerance ${GRAD_TOL})`;
}

test('cpu, wasm and webgpu agree (forward and gradients)', async (t) => {
  const refs: Array<{ ref: Result; sd: StateDict }> = [];
  await initEngine('cpu');
  for (const c of CASES) {
    const { result: ref, sd } = await run(c, undefined);
    assert.notDeepEqual(ref.evalOut, ref.trainOut, 'training-mode dropout changes the output');
    refs.push({ ref, sd });
  }

  await initEngine('wasm');
  for (let i = 0; i < CASES.length; i++) {
    t.diagnostic(`case ${i}: ${compare('wasm', refs[i]!.ref, (await run(CASES[i]!, refs[i]!.sd)).result)}`);
  }

  let webgpu = true;
  try {
    const info = await initEngine('webgpu');
    t.diagnostic(`webgpu adapter: ${info.adapter ?? 'unknown'}`);
  } catch (e) {
    if (!(e instanceof ConfigError) || process.env.SRDTRANS_REQUIRE_WEBGPU === '1') throw e;
    webgpu = false;
    t.skip(`webgpu part skipped: ${e.message}`);
  }
  if (webgpu) {
    for (let i = 0; i < CASES.length; i++) {
      t.diagnostic(`case ${i}: ${compare('webgpu', refs[i]!.ref, (await run(CASES[i]!, refs[i]!.sd)).result)}`);
    }
  }
  await initEngine('cpu');
});
