import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { type BackendName, initEngine, type ModelConfig, SRDTrans } from '../../src/node.js';
import { Adam } from '../../src/train/adam.js';
import { trainStep, type TrainingPair } from '../../src/train/step.js';
import { Rng } from '../../src/util/rng.js';
import { webGpuOrSkip } from '../support/webgpu.js';

const TINY: ModelConfig = { fMaps: [2, 4], embedDim: 8, heads: 2, mlpDim: 16, window: 3, blocks: 1, patchT: 8, attnDropout: 0.1 };
const OPTS = { lr: 1e-3, beta1: 0.5, beta2: 0.999 };

function pair(seed: number, targets = 2): TrainingPair {
  const rng = new Rng(seed);
  const n = 8 * 10 * 10;
  const make = () => Float32Array.from({ length: n }, () => rng.normal());
  return { input: make(), targets: Array.from({ length: targets }, make), t: 8, h: 10, w: 10 };
}

async function run(backend: BackendName, steps: number, seed = 3): Promise<{ losses: number[]; weights: Float32Array }> {
  await initEngine(backend);
  const model = new SRDTrans(TINY, seed);
  const adam = new Adam(model.variables, OPTS);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) losses.push(await trainStep(model, adam, pair(100 + i), 7 + i));
  const weights = (await model.stateDict()).get('conv_before_trans.Conv3d.weight')!.data as Float32Array;
  adam.dispose();
  model.dispose();
  return { losses, weights };
}

test('a training step leaks no tensors and the loss is finite', async () => {
  await initEngine('cpu');
  const model = new SRDTrans(TINY, 1);
  const adam = new Adam(model.variables, OPTS);
  await trainStep(model, adam, pair(1), 1);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    const loss = await trainStep(model, adam, pair(2 + i), 2 + i);
    assert.ok(Number.isFinite(loss));
    assert.equal(tf.memory().numTensors, before, `step ${i} changed the tensor count`);
  }
  adam.dispose();
  model.dispose();
});

test('training is deterministic for a seed, and the seed matters', async () => {
  const a = await run('cpu', 2);
  const b = await run('cpu', 2);
  const c = await run('cpu', 2, 4);
  assert.deepEqual(a.losses, b.losses);
  assert.deepEqual(Array.from(a.weights), Array.from(b.weights));
  assert.notDeepEqual(a.losses, c.losses);
});

// Tolerances: float32 on different kernels; one Adam step moves weights by ~lr, so a weight
// difference of 1e-5 (1% of a step) would reveal a wrong gradient.
for (const backend of ['wasm', 'webgpu'] as const) {
  test(`one training step on ${backend} agrees with cpu (loss rel 1e-4, weights abs 1e-5)`, async (t) => {
    if (backend === 'webgpu' && !(await webGpuOrSkip(t))) return;
    const ref = await run('cpu', 1);
    const got = await run(backend, 1);
    assert.ok(Math.abs(got.losses[0]! - ref.losses[0]!) <= 1e-4 * Math.abs(ref.losses[0]!), `loss ${got.losses[0]} vs ${ref.losses[0]}`);
    let worst = 0;
    for (let i = 0; i < ref.weights.length; i++) worst = Math.max(worst, Math.abs(got.weights[i]! - ref.weights[i]!));
    assert.ok(worst <= 1e-5, `weights differ by ${worst}`);
  });
}
