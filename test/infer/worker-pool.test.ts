/**
 * Inference on worker threads: the same bytes as on the main thread, patches stitched in order
 * whichever worker finishes first, and failures reported instead of hanging.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  CheckpointError, DEFAULT_MODEL_CONFIG, denoiseToStack, initEngine, type ModelConfig, SRDTrans, type Stack,
  type StateDict, WorkerPool,
} from '../../src/node.js';
import { Rng } from '../../src/util/rng.js';

const CONFIG: ModelConfig = { ...DEFAULT_MODEL_CONFIG, fMaps: [2, 4], embedDim: 8, heads: 2, mlpDim: 16, window: 3, patchT: 8 };
/** 24 frames of 40×40: 5 temporal positions × 4 patches of 16×16, several slabs. */
const SHAPE = [24, 40, 40] as const;
const OPTIONS = { patchXY: 16, overlap: 0.5, scale: 1, asFloat: false };

function noisyStack(): Stack {
  const rng = new Rng(3);
  const data = Uint16Array.from({ length: SHAPE[0] * SHAPE[1] * SHAPE[2] }, (_, i) => 200 + (i % 37) + Math.round(20 * rng.normal()));
  return { data, shape: SHAPE, dtype: 'uint16' };
}

describe('WorkerPool (wasm)', () => {
  let model: SRDTrans;
  let weights: StateDict;
  before(async () => {
    await initEngine('wasm');
    model = new SRDTrans(CONFIG, 5);
    weights = await model.stateDict();
  });
  after(() => model.dispose());

  it('denoises to the same bytes as the main thread, with 1 and with 2 workers', async () => {
    const stack = noisyStack();
    const expected = await denoiseToStack(model, stack, OPTIONS);
    for (const n of [1, 2]) {
      const pool = await WorkerPool.start(n, { backend: 'wasm', config: CONFIG, weights });
      try {
        const before = tf.memory().numTensors;
        const got = await denoiseToStack(pool, stack, { ...OPTIONS, inFlight: pool.size });
        assert.equal(tf.memory().numTensors, before, 'the main thread makes no tensors');
        assert.equal(got.dtype, 'uint16');
        assert.ok(Buffer.from(got.data.buffer).equals(Buffer.from(expected.data.buffer)), `${n} workers: output differs from the main thread's`);
      } finally {
        await pool.dispose();
      }
    }
  });

  it('gives each caller its own patch back when several are in flight', async () => {
    const pool = await WorkerPool.start(2, { backend: 'wasm', config: CONFIG, weights });
    try {
      const size = { t: 8, h: 16, w: 16 };
      const rng = new Rng(9);
      const inputs = Array.from({ length: 5 }, () => Float32Array.from({ length: 8 * 16 * 16 }, () => rng.normal()));
      const outputs = await Promise.all(inputs.map((x) => pool.run(x, size)));
      for (const [i, x] of inputs.entries()) {
        const y = tf.tidy(() => model.apply(tf.tensor4d(x, [1, 8, 16, 16])));
        assert.deepEqual(outputs[i], await y.data(), `patch ${i}`);
        y.dispose();
      }
    } finally {
      await pool.dispose();
    }
  });

  it('rejects weights that do not fit, and runs after dispose, instead of hanging', async () => {
    const wrong = { ...CONFIG, embedDim: 16 };
    await assert.rejects(WorkerPool.start(2, { backend: 'wasm', config: wrong, weights }), CheckpointError);
    const pool = await WorkerPool.start(1, { backend: 'wasm', config: CONFIG, weights });
    await pool.dispose();
    await assert.rejects(pool.run(new Float32Array(8 * 16 * 16), { t: 8, h: 16, w: 16 }), /stopped/);
  });
});
