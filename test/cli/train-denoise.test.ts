/**
 * End to end: `srdtrans train` then `srdtrans denoise` (and `info`) on small synthetic stacks,
 * through the real command line, with the tiniest architecture so it runs in seconds on a CPU.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { readStack } from '../../src/node.js';
import {
  assertOk, jsonLines, lines, runCli, tempDir, TINY, withOptions, writeNoisy,
} from './cli-helpers.js';

const SHAPE = [16, 24, 24] as const;
/** One patch (8×16×16): enough to check types and options quickly. */
const SMALL = [8, 16, 16] as const;
const tmp = tempDir();
const model = tmp.file('model');
const noisy = tmp.file('noisy.tif');
const small = tmp.file('small.tif');
let trainJson: Array<Record<string, unknown>> = [];

before(async () => {
  await writeNoisy(noisy, SHAPE, 'uint16');
  const r = await runCli(['train', noisy, '--out', model, '--json', ...TINY]);
  assertOk(r);
  trainJson = jsonLines(r.stdout);
  assert.equal(r.stderr, '', 'with --json nothing but JSON is printed');
});
after(tmp.cleanup);

describe('srdtrans train (one epoch, tiny network)', () => {
  it('writes config.json, epoch-001.safetensors, resume.safetensors and a PNG loss curve', () => {
    const names = readdirSync(model);
    for (const f of ['config.json', 'epoch-001.safetensors', 'resume.safetensors', 'loss.png']) {
      assert.ok(names.includes(f), `${f} missing from ${names.join(', ')}`);
    }
    assert.ok(!names.some((n) => n.includes('.partial-')), `temporary files left: ${names.join(', ')}`);
    const png = readFileSync(`${model}/loss.png`);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'loss.png is not a PNG');
    const config = JSON.parse(readFileSync(`${model}/config.json`, 'utf8'));
    assert.deepEqual(config.model.fMaps, [2, 4]);
    assert.equal(config.model.embedDim, 8);
    assert.equal(config.model.patchT, 8);
    assert.equal(config.training.patchXY, 16);
    assert.equal(config.training.epochs, 1);
    // A safetensors file: 8-byte header length, then a JSON header naming published tensor names.
    const st = readFileSync(`${model}/epoch-001.safetensors`);
    const n = Number(st.readBigUInt64LE(0));
    const header = JSON.parse(st.subarray(8, 8 + n).toString('utf8'));
    assert.ok('encoders.0.conv_net.SingleConv1.Conv3d.weight' in header, Object.keys(header).slice(0, 5).join(', '));
  });

  it('--json prints one parseable event per line: engine, start, steps, epoch', () => {
    const events = trainJson.map((e) => e['event']);
    assert.equal(events[0], 'engine');
    assert.equal(trainJson[0]!['backend'], 'cpu');
    assert.ok(events.includes('start'), events.join(','));
    const steps = trainJson.filter((e) => e['event'] === 'step');
    const start = trainJson.find((e) => e['event'] === 'start')!;
    assert.equal(steps.length, start['patches'], 'one step event per patch of the epoch');
    for (const s of steps) assert.ok(typeof s['loss'] === 'number' && Number.isFinite(s['loss']), JSON.stringify(s));
    const epoch = trainJson.find((e) => e['event'] === 'epoch')!;
    assert.ok(String(epoch['checkpoint']).endsWith('epoch-001.safetensors'));
    assert.equal(events.at(-1), 'epoch');
  });
});

describe('a plain run', () => {
  it('prints only its own lines with --backend auto, whatever GPU adapter the machine has', async () => {
    const r = await runCli(['train', noisy, '--out', tmp.file('auto-model'), ...withOptions(TINY, { '--backend': 'auto' })], { timeoutMs: 300_000 });
    assertOk(r);
    const foreign = lines(r.stderr).filter((l) => !/^(srdtrans |train |epoch )/.test(l));
    assert.deepEqual(foreign, [], 'lines that are not the project\'s own (a native warning from Dawn, say)');
    assert.match(lines(r.stderr)[0]!, /^srdtrans train: backend (webgpu on .*|wasm \((only a software GPU adapter|no GPU adapter).*)/);
  });
});

describe('srdtrans denoise', () => {
  it('writes the input shape as uint16 for uint16 input, and --json prints parseable events', async () => {
    const out = tmp.file('denoised.tif');
    const r = await runCli(['denoise', noisy, '--model', model, '--out', out, '--backend', 'cpu', '--json']);
    assertOk(r);
    const events = jsonLines(r.stdout);
    assert.equal(events[0]!['event'], 'engine');
    const patches = events.filter((e) => e['event'] === 'patch');
    assert.ok(patches.length >= 2);
    assert.equal(patches.at(-1)!['done'], patches.at(-1)!['total']);
    const done = events.at(-1)!;
    assert.equal(done['event'], 'done');
    assert.equal(done['output'], out);
    const result = await readStack(out);
    assert.deepEqual(result.shape, [...SHAPE]);
    assert.equal(result.dtype, 'uint16');
    assert.ok(result.data.some((v) => v !== 0), 'the denoised stack is all zeros');
    assert.deepEqual(readdirSync(tmp.dir).filter((n) => n.includes('.partial-')), []);
  });

  it('keeps int16 as int16 and writes uint8 and float32 inputs as int32 (the published rule), into a folder', async () => {
    const dir = tmp.file('types');
    const inputs = [];
    for (const dtype of ['int16', 'uint8', 'float32'] as const) {
      inputs.push(tmp.file(`in-${dtype}.tif`));
      await writeNoisy(inputs.at(-1)!, SMALL, dtype, 11);
    }
    const r = await runCli(['denoise', ...inputs, '--model', model, '--out', `${dir}/`, '--backend', 'cpu']);
    assertOk(r);
    assert.deepEqual(readdirSync(dir).sort(), ['in-float32_denoised.tif', 'in-int16_denoised.tif', 'in-uint8_denoised.tif']);
    const want = { int16: 'int16', uint8: 'int32', float32: 'int32' };
    for (const [dtype, outType] of Object.entries(want)) {
      const s = await readStack(`${dir}/in-${dtype}_denoised.tif`);
      assert.deepEqual(s.shape, [...SMALL], dtype);
      assert.equal(s.dtype, outType, `${dtype} input`);
    }
    assert.match(r.stderr, /srdtrans denoise: wrote .*in-int16_denoised\.tif \(8×16×16/);
  });

  it('--float writes float32', async () => {
    const out = tmp.file('denoised-float.tif');
    await writeNoisy(small, SMALL, 'uint16', 5);
    const r = await runCli(['denoise', small, '--model', model, '--out', out, '--float', '--backend', 'cpu']);
    assertOk(r);
    const s = await readStack(out);
    assert.equal(s.dtype, 'float32');
    assert.deepEqual(s.shape, [...SMALL]);
    assert.ok(s.data.every((v) => Number.isFinite(v)));
  });

  it('--model may name one checkpoint file of a model directory', async () => {
    const out = tmp.file('denoised-epoch1.tif');
    await writeNoisy(small, SMALL, 'uint16', 5);
    const r = await runCli(['denoise', small, '--model', `${model}/epoch-001.safetensors`, '--out', out, '--backend', 'cpu']);
    assertOk(r);
    assert.match(r.stderr, /model .*epoch-001\.safetensors/);
    assert.deepEqual((await readStack(out)).shape, [...SMALL]);
  });
});

describe('srdtrans info', () => {
  it('prints shape, dtype, axes and both patch grids', async () => {
    const r = await runCli(['info', noisy, '--patch-xy', '16', '--patch-t', '8', '--train-size', '20']);
    assertOk(r);
    assert.match(r.stdout, /shape\s+16 frames × 24 × 24/);
    assert.match(r.stdout, /type\s+uint16/);
    assert.match(r.stdout, /axes\s+TYX/);
    // Inference: 3 positions in t (gap 4), 2 in y and x (gap 8); training: 2×2 spatial × 5 in t.
    assert.match(r.stdout, /denoise\s+12 patches/);
    assert.match(r.stdout, /train\s+20 patches per epoch/);
  });

  it('--json gives the same facts, and says when the patches do not fit', async () => {
    const r = await runCli(['info', noisy, '--json']);
    assertOk(r);
    const [o] = jsonLines(r.stdout);
    assert.deepEqual(o!['shape'], [...SHAPE]);
    assert.equal(o!['dtype'], 'uint16');
    assert.equal(o!['axes'], 'TYX');
    const grid = o!['grid'] as Record<string, unknown>;
    // The default 128-pixel patch is larger than this 24-pixel stack.
    assert.match(String(grid['denoisePatches']), /does not fit: .*noisy\.tif is 24 pixels/);
  });
});

describe('srdtrans train --resume', () => {
  it('continues from resume.safetensors: --epochs 2 adds epoch-002 and says it resumes', async () => {
    const dir = tmp.file('model-resume');
    cpSync(model, dir, { recursive: true });
    const r = await runCli(['train', noisy, '--out', dir, '--resume', '--epochs', '2', '--backend', 'cpu']);
    assertOk(r);
    assert.match(r.stderr, /resuming at epoch 2 patch 1/);
    assert.ok(existsSync(`${dir}/epoch-002.safetensors`), readdirSync(dir).join(', '));
    assert.match(r.stderr, /epoch 2: mean loss/);
    assert.doesNotMatch(r.stderr, /epoch 1: mean loss/, 'epoch 1 was not trained again');
    const config = JSON.parse(readFileSync(`${dir}/config.json`, 'utf8'));
    assert.equal(config.training.epochs, 2);
    assert.equal(config.model.embedDim, 8, 'the architecture comes from config.json, not the defaults');
    // The loss log continues: 2 epochs of 4 patches.
    const log = JSON.parse(readFileSync(`${dir}/training-log.json`, 'utf8'));
    assert.equal(log.losses.length, 8);
  });

  it('a resumed run with nothing left to do says so and exits 0', async () => {
    const dir = tmp.file('model-done');
    cpSync(model, dir, { recursive: true });
    const r = await runCli(['train', noisy, '--out', dir, '--resume', '--backend', 'cpu']);
    assertOk(r);
    assert.match(r.stderr, /all 1 epochs are already done \(pass a larger --epochs/);
    assert.doesNotMatch(r.stderr, /null|resuming at epoch 2/);
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('epoch-')), ['epoch-001.safetensors']);
  });
});

describe('srdtrans --help and usage', () => {
  it('each command has --help (exit 0) and no command prints usage with exit 2', async () => {
    const r = await runCli(['train', '--help']);
    assertOk(r);
    assert.match(r.stdout, /--resume/);
    const none = await runCli([]);
    assert.equal(none.status, 2);
    assert.match(none.stdout + none.stderr, /usage: srdtrans <command>/);
    assert.ok(lines(none.stdout).length > 3);
  });
});
