import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  denoiseToStack, initEngine, type ModelConfig, modelFolder, psnrDb, PUBLISHED_RECIPE, readWeights, simulateCalcium,
  SRDTrans, train, type TrainingRecord,
} from '../../src/node.js';

const SMALL: ModelConfig = { fMaps: [4, 8], embedDim: 16, heads: 2, mlpDim: 32, window: 3, blocks: 1, patchT: 8, attnDropout: 0.1 };

test('training on a small noisy stack lowers the loss and raises PSNR against the clean stack', async () => {
  await initEngine('wasm');
  const sim = simulateCalcium({ shape: [24, 32, 32], photons: 4, neurons: 4, seed: 5 });
  const dir = await mkdtemp(path.join(tmpdir(), 'srdtrans-learn-'));
  try {
    const training: TrainingRecord = {
      ...PUBLISHED_RECIPE, sampling: 'spatial', patchXY: 16, patchT: 8, overlap: 0.5, trainSize: 60, epochs: 3,
      lr: 2e-3, beta1: 0.5, beta2: 0.999, scale: 1, seed: 1, frames: null, inputs: ['sim'],
    };
    const result = await train([sim.noisy], { model: SMALL, training, sink: modelFolder(dir) });
    const n = result.losses.length;
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(result.losses.slice(0, Math.floor(n / 4)));
    const last = mean(result.losses.slice(n - Math.floor(n / 4)));
    assert.ok(last < 0.9 * first, `loss fell only from ${first} to ${last}`);

    const model = new SRDTrans(SMALL, 0);
    model.loadStateDict((await readWeights(result.lastCheckpoint!)).tensors);
    const out = await denoiseToStack(model, sim.noisy, { patchXY: 16, overlap: 0.5, scale: 1, asFloat: true });
    model.dispose();
    const raw = psnrDb(sim.noisy, sim.clean);
    const denoised = psnrDb(out, sim.clean);
    assert.ok(denoised > raw + 3, `PSNR ${raw.toFixed(2)} dB raw -> ${denoised.toFixed(2)} dB denoised`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
