import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learningRate, type Schedule } from '../../src/node.js';

test('constant schedule: the published rate at every step, after any warm-up', () => {
  const s: Schedule = { kind: 'constant', lr: 1e-4, warmup: 0, total: 100 };
  for (const step of [0, 1, 50, 99]) assert.equal(learningRate(s, step), 1e-4);
  const warm: Schedule = { ...s, warmup: 4 };
  const rates = [0, 1, 2, 3, 4, 99].map((t) => learningRate(warm, t));
  [2.5e-5, 5e-5, 7.5e-5, 1e-4, 1e-4, 1e-4].forEach((want, i) => assert.ok(Math.abs(rates[i]! - want) < 1e-15, `step ${i}: ${rates[i]}`));
});

test('cosine schedule: linear warm-up to the peak, then a half cosine down to 2 % of it at the last step', () => {
  const s: Schedule = { kind: 'cosine', lr: 1e-3, warmup: 10, total: 110 };
  assert.ok(Math.abs(learningRate(s, 0) - 1e-4) < 1e-12);
  assert.ok(Math.abs(learningRate(s, 9) - 1e-3) < 1e-12);
  assert.ok(Math.abs(learningRate(s, 10) - 1e-3) < 1e-12, 'peak right after the warm-up');
  // Halfway through the decay: the midpoint of peak and floor.
  const mid = learningRate(s, 10 + 99 / 2);
  assert.ok(Math.abs(mid - 1e-3 * (0.02 + 0.98 * 0.5)) < 1e-9, `midpoint ${mid}`);
  assert.ok(Math.abs(learningRate(s, 109) - 2e-5) < 1e-12, 'floor at the last step');
  for (let t = 11; t < 110; t++) assert.ok(learningRate(s, t) <= learningRate(s, t - 1), `not decreasing at ${t}`);
});
