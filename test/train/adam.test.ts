import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/node.js';
import { Adam } from '../../src/train/adam.js';

test('Adam follows PyTorch: eps added after the bias-corrected square root', async () => {
  await initEngine('cpu');
  const p = tf.variable(tf.tensor1d([1, -2, 0.5]));
  const adam = new Adam(new Map([['p', p]]), { lr: 0.1, beta1: 0.5, beta2: 0.999, eps: 1e-3 });
  const grads = [[0.3, -0.1, 2], [0.1, 0.4, -1]];
  // Reference, written out in float64: m, v, bias corrections, p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps).
  const expected = [1, -2, 0.5];
  const m = [0, 0, 0];
  const v = [0, 0, 0];
  grads.forEach((grad, k) => {
    const step = k + 1;
    for (let i = 0; i < 3; i++) {
      m[i] = 0.5 * m[i]! + 0.5 * grad[i]!;
      v[i] = 0.999 * v[i]! + 0.001 * grad[i]! ** 2;
      const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - 0.999 ** step) + 1e-3;
      expected[i] = expected[i]! - (0.1 / (1 - 0.5 ** step)) * (m[i]! / denom);
    }
    const g = tf.tensor1d(grad);
    adam.apply(new Map([['p', g]]));
    g.dispose();
  });
  const got = await p.data();
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(got[i]! - expected[i]!) < 1e-6, `p[${i}] ${got[i]} vs ${expected[i]}`);
  assert.equal(adam.step, 2);

  // Saved moments restore into a fresh optimiser and continue identically.
  const state = await adam.state();
  const q = tf.variable(tf.tensor1d(Array.from(got)));
  const again = new Adam(new Map([['p', q]]), { lr: 0.1, beta1: 0.5, beta2: 0.999, eps: 1e-3 });
  again.loadState(state, adam.step);
  const g = tf.tensor1d([0.2, 0.2, 0.2]);
  adam.apply(new Map([['p', g]]));
  again.apply(new Map([['p', g]]));
  assert.deepEqual(Array.from(await q.data()), Array.from(await p.data()));
  for (const t of [g, p, q]) t.dispose();
  adam.dispose();
  again.dispose();
});
