/**
 * Validation, the best epoch and fine-tuning through the real command line: held-out patches
 * scored every epoch, best.safetensors chosen by that score and used by denoise, --epoch,
 * --val-fraction 0, and train --init.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { readWeights } from '../../src/node.js';
import { assertOk, assertUserError, runCli, tempDir, TINY, withOptions, writeNoisy } from './cli-helpers.js';

const tmp = tempDir('srdtrans-val-');
const noisy = tmp.file('noisy.tif');
const model = tmp.file('model');
after(tmp.cleanup);

interface Log {
  losses: number[];
  epochs: { epoch: number; step: number; trainLoss: number; valLoss: number | null; lr: number }[];
}
const readLog = (dir: string): Log => JSON.parse(readFileSync(`${dir}/training-log.json`, 'utf8')) as Log;

before(async () => {
  await writeNoisy(noisy, [16, 24, 24], 'uint16');
  assertOk(await runCli(['train', noisy, '--out', model, ...withOptions(TINY, { '--epochs': '3', '--train-size': '8', '--lr': '3e-3', '--val-fraction': '0.25' })]));
});

describe('validation and the best epoch', () => {
  it('scores held-out patches every epoch, keeps the lowest as best.safetensors, and plots both losses', async () => {
    const log = readLog(model);
    assert.equal(log.epochs.length, 3);
    const config = JSON.parse(readFileSync(`${model}/config.json`, 'utf8'));
    assert.equal(config.training.valFraction, 0.25);
    assert.equal(config.training.schedule, 'constant');
    // The grid (8 patches on this stack) less the 2 held out: 6 steps an epoch.
    assert.equal(log.losses.length, 3 * 6);
    assert.deepEqual(log.epochs.map((e) => e.step), [6, 12, 18]);
    for (const e of log.epochs) assert.ok(typeof e.valLoss === 'number' && Number.isFinite(e.valLoss), JSON.stringify(e));
    const best = log.epochs.reduce((a, b) => (b.valLoss! < a.valLoss! ? b : a));
    const { metadata, tensors } = await readWeights(`${model}/best.safetensors`);
    assert.equal(metadata['epoch'], String(best.epoch));
    assert.equal(Number(metadata['val_loss']), best.valLoss);
    const same = await readWeights(`${model}/epoch-00${best.epoch}.safetensors`);
    for (const [name, t] of same.tensors) assert.deepEqual(tensors.get(name)!.data, t.data, name);
  });

  it('denoise uses the best epoch by default and says so; --epoch picks another; a missing epoch is one line', async () => {
    const best = readLog(model).epochs.reduce((a, b) => (b.valLoss! < a.valLoss! ? b : a));
    const r = await runCli(['denoise', noisy, '--model', model, '--out', tmp.file('a.tif'), '--backend', 'cpu']);
    assertOk(r);
    assert.match(r.stderr, new RegExp(`best\\.safetensors \\(best: epoch ${best.epoch}, lowest validation loss`));
    const other = best.epoch === 1 ? 2 : 1;
    const e = await runCli(['denoise', noisy, '--model', model, '--epoch', String(other), '--out', tmp.file('b.tif'), '--backend', 'cpu']);
    assertOk(e);
    assert.match(e.stderr, new RegExp(`epoch-00${other}\\.safetensors \\(epoch ${other} \\(--epoch\\)\\)`));
    assertUserError(await runCli(['denoise', noisy, '--model', model, '--epoch', '9', '--out', tmp.file('c.tif'), '--backend', 'cpu']), 'epoch-009.safetensors', '--epoch 9');
    assert.ok(!existsSync(tmp.file('c.tif')));
  });

  it('--val-fraction 0 holds nothing out: no best.safetensors, and denoise takes the newest epoch', async () => {
    const dir = tmp.file('no-val');
    assertOk(await runCli(['train', noisy, '--out', dir, ...withOptions(TINY, { '--epochs': '2' })]));
    assert.ok(!existsSync(`${dir}/best.safetensors`));
    assert.deepEqual(readLog(dir).epochs.map((e) => e.valLoss), [null, null]);
    const r = await runCli(['denoise', noisy, '--model', dir, '--out', tmp.file('d.tif'), '--backend', 'cpu']);
    assertOk(r);
    assert.match(r.stderr, /newest: epoch-002\.safetensors \(no validation/);
  });
});

describe('train --patience', () => {
  it('stops once the validation loss is flat for that many epochs, and a resumed flat run stops at once', async () => {
    const dir = tmp.file('flat');
    // At learning rate 0 the weights never move, so every epoch scores the same validation loss.
    const args = ['train', noisy, '--out', dir, ...withOptions(TINY, { '--epochs': '5', '--lr': '0', '--val-fraction': '0.25', '--patience': '2' })];
    const r = await runCli(args);
    assertOk(r);
    assert.match(r.stderr, /not fallen 0\.1 % in 2 epochs: stopping after epoch 3 of 5/);
    assert.equal(readLog(dir).epochs.length, 3);
    assert.ok(!existsSync(`${dir}/epoch-004.safetensors`));
    assert.equal(JSON.parse(readFileSync(`${dir}/config.json`, 'utf8')).training.patience, 2);
    const again = await runCli(['train', noisy, '--out', dir, '--resume', '--epochs', '8', '--backend', 'cpu']);
    assertOk(again);
    assert.match(again.stderr, /stopping after epoch 3 of 8/);
    assert.equal(readLog(dir).epochs.length, 3);
  });

  it('needs validation patches', async () => {
    assertUserError(await runCli(['train', noisy, '--out', tmp.file('y'), ...withOptions(TINY, { '--patience': '2' })]), '--patience', '--val-fraction');
  });
});

describe('train --init', () => {
  it('starts from the given model\'s weights and architecture (at learning rate 0 they stay unchanged)', async () => {
    const dir = tmp.file('tuned');
    const r = await runCli(['train', noisy, '--out', dir, '--init', model, '--lr', '0', '--train-size', '4', '--epochs', '1', '--patch-xy', '16', '--backend', 'cpu']);
    assertOk(r);
    assert.match(r.stderr, /starting from .*best\.safetensors/);
    const config = JSON.parse(readFileSync(`${dir}/config.json`, 'utf8'));
    assert.deepEqual(config.model.fMaps, [2, 4], 'architecture of the --init model');
    assert.match(config.training.init, /best\.safetensors$/);
    const start = await readWeights(`${model}/best.safetensors`);
    const tuned = await readWeights(`${dir}/epoch-001.safetensors`);
    for (const [name, t] of start.tensors) assert.deepEqual(tuned.tensors.get(name)!.data, t.data, name);
  });

  it('refuses architecture flags and --resume alongside --init, in one line', async () => {
    assertUserError(await runCli(['train', noisy, '--out', tmp.file('x'), '--init', model, '--embed-dim', '16']), '--embed-dim', '--init');
    assertUserError(await runCli(['train', noisy, '--out', model, '--init', model, '--resume']), '--init', '--resume');
  });
});
