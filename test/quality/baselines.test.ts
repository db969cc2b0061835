import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gaussianSpatial, gaussianSpatioTemporal, meanImage, movingAverage, psnrDb, simulateCalcium, type Stack } from '../../src/node.js';

const ramp: Stack = { data: Float32Array.from({ length: 5 * 4 * 4 }, (_, i) => i), shape: [5, 4, 4], dtype: 'float32' };

test('moving average: centred box over frames, reflected at the ends', () => {
  const out = movingAverage(ramp, 3).data;
  // Pixel 0 over frames: 0, 16, 32, 48, 64. Frame 2 -> (16+32+48)/3; frame 0 -> (0+0+16)/3 (reflect).
  assert.ok(Math.abs(out[2 * 16]! - 32) < 1e-5);
  assert.ok(Math.abs(out[0]! - 16 / 3) < 1e-5);
  assert.throws(() => movingAverage(ramp, 2), /odd/);
});

test('mean image: every frame is the temporal mean', () => {
  const out = meanImage(ramp);
  // Pixel 5 over frames: 5, 21, 37, 53, 69 -> 37 in every frame.
  for (let f = 0; f < 5; f++) assert.ok(Math.abs(out.data[f * 16 + 5]! - 37) < 1e-5, `frame ${f}`);
  assert.deepEqual(out.shape, ramp.shape);
});

test('filters keep a constant stack constant and do not mix frames spatially', () => {
  const flat: Stack = { data: new Uint16Array(4 * 9 * 9).fill(7), shape: [4, 9, 9], dtype: 'uint16' };
  for (const out of [gaussianSpatial(flat, 1.5), gaussianSpatioTemporal(flat, 1, 1), movingAverage(flat, 3)]) {
    assert.ok(out.data.every((v) => Math.abs(v - 7) < 1e-4));
  }
  const frames: Stack = { data: Float32Array.from({ length: 2 * 9 * 9 }, (_, i) => (i < 81 ? 0 : 10)), shape: [2, 9, 9], dtype: 'float32' };
  const blurred = gaussianSpatial(frames, 2).data;
  assert.ok(Math.abs(blurred[40]!) < 1e-6 && Math.abs(blurred[81 + 40]! - 10) < 1e-5);
});

test('each baseline denoises a simulated stack (PSNR rises)', () => {
  const sim = simulateCalcium({ shape: [30, 48, 48], photons: 3, frameRate: 10, seed: 2 });
  const raw = psnrDb(sim.noisy, sim.clean);
  for (const out of [gaussianSpatial(sim.noisy, 1), gaussianSpatioTemporal(sim.noisy, 1, 1), movingAverage(sim.noisy, 5)]) {
    assert.ok(psnrDb(out, sim.clean) > raw + 2);
  }
});
