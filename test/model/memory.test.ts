import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/engine/backend.js';
import { SRDTrans } from '../../src/model/srdtrans.js';
import { TINY, randomInput } from './helpers.js';

before(async () => {
  await initEngine('cpu');
});

test('apply leaves no tensor behind (eval, training, and inside variableGrads)', async () => {
  const model = new SRDTrans({ ...TINY, patchT: 8 }, 1);
  const x = randomInput([1, 8, 5, 4], 1);
  const start = tf.memory().numTensors;
  for (const opts of [{}, { training: true, seed: 3 }, { training: true }]) {
    const y = model.apply(x, opts);
    assert.equal(tf.memory().numTensors, start + 1, `only the output remains (${JSON.stringify(opts)})`);
    await y.data();
    y.dispose();
    assert.equal(tf.memory().numTensors, start);
  }
  const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(model.apply(x, { training: true, seed: 1 }))) as tf.Scalar);
  const count = Object.keys(grads).length;
  assert.equal(count, model.variables.size);
  tf.dispose([value, ...Object.values(grads)]);
  assert.equal(tf.memory().numTensors, start);
  const n = tf.memory().numTensors;
  x.dispose();
  model.dispose();
  assert.equal(tf.memory().numTensors, n - 1 - model.variables.size - 1, 'dispose frees the variables and the one-hot constant');
});

test('dropout: deterministic for a seed, different across seeds, absent in eval mode', async () => {
  const model = new SRDTrans({ ...TINY, patchT: 8, attnDropout: 0.3 }, 1);
  const x = randomInput([1, 8, 5, 4], 1);
  const run = async (opts: { training?: boolean; seed?: number }): Promise<Float32Array> => {
    const y = model.apply(x, opts);
    const d = (await y.data()) as Float32Array;
    y.dispose();
    return d;
  };
  const eval1 = await run({});
  assert.deepEqual(await run({ training: false, seed: 5 }), eval1);
  const a = await run({ training: true, seed: 5 });
  assert.deepEqual(await run({ training: true, seed: 5 }), a);
  assert.notDeepEqual(await run({ training: true, seed: 6 }), a);
  assert.notDeepEqual(a, eval1);
  // Rate 0: training equals eval.
  const plain = new SRDTrans({ ...TINY, patchT: 8, attnDropout: 0 }, 1);
  const y0 = plain.apply(x);
  const y1 = plain.apply(x, { training: true, seed: 5 });
  assert.deepEqual(await y1.data(), await y0.data());
  tf.dispose([x, y0, y1]);
  model.dispose();
  plain.dispose();
});
