import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { denoiseToStack, initEngine, type ModelConfig, onnxNetwork, SRDTrans, type Stack, tfjsNetwork } from '../../src/node.js';
import { Rng } from '../../src/util/rng.js';
import { relErr } from '../support/arrays.js';

before(async () => {
  await initEngine('cpu');
});

const CONFIG: ModelConfig = { fMaps: [4, 8], embedDim: 16, heads: 2, mlpDim: 24, window: 5, blocks: 1, patchT: 8, attnDropout: 0.1 };

function noisyStack(t: number, h: number, w: number): Stack {
  const rng = new Rng(4);
  const data = Uint16Array.from({ length: t * h * w }, (_, i) => 200 + 50 * Math.sin(i / 7) + rng.int(40));
  return { data, shape: [t, h, w], dtype: 'uint16' };
}

test('denoise through ONNX Runtime gives the TF.js result (same patch loop, another network)', async () => {
  const model = new SRDTrans(CONFIG, 7);
  const stack = noisyStack(12, 20, 20);
  const options = { patchXY: 12, overlap: 0.5, scale: 1, asFloat: true };
  const tensorsBefore = tf.memory().numTensors;
  const want = await denoiseToStack(model, stack, options);
  assert.equal(tf.memory().numTensors, tensorsBefore, 'the TF.js network leaked tensors');

  const network = await onnxNetwork(CONFIG, await model.stateDict(), { patchXY: 12, threads: 1, source: 'test' });
  const got = await denoiseToStack(network, stack, options);
  await network.dispose();
  assert.equal(got.dtype, 'float32');
  assert.ok(Math.max(...want.data) > 100, 'denoised stack looks empty');
  // Measured ~7e-8; a 0.1% change of the network's input gives ~2e-5.
  const err = relErr(got.data, want.data);
  assert.ok(err < 1e-6, `relative difference ${err}`);
  model.dispose();
});

test('the ONNX network refuses a patch of another size than it was built for', async () => {
  const model = new SRDTrans(CONFIG, 1);
  const network = await onnxNetwork(CONFIG, await model.stateDict(), { patchXY: 12, threads: 1 });
  model.dispose();
  await assert.rejects(network.run(new Float32Array(8 * 16 * 16), { t: 8, h: 16, w: 16 }), /built for 8×12×12 patches/);
  await network.dispose();
});

test('tfjsNetwork runs the model and disposes it', async () => {
  const model = new SRDTrans(CONFIG, 1);
  const network = tfjsNetwork(model);
  assert.equal(network.patchT, 8);
  const out = await network.run(new Float32Array(8 * 12 * 12).fill(1), { t: 8, h: 12, w: 12 });
  assert.equal(out.length, 8 * 12 * 12);
  await network.dispose();
  const x = tf.zeros([1, 8, 12, 12]) as tf.Tensor4D;
  assert.throws(() => model.apply(x), /disposed/);
  x.dispose();
});
