/**
 * Every bad input to the command line: exit code 2, one stderr line `srdtrans: error: ...` that
 * names the offending file or option and says what to do, and no output left behind (neither the
 * final name nor a `.name.partial-<pid>` temporary, nor a model directory).
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { writeStack } from '../../src/node.js';
import { buildTiff, simpleStack, pattern } from '../io/tiff-helpers.js';
import {
  assertEmptyDir, assertOk, assertUserError, runCli, tempDir, TINY, withOptions, writeNoisy,
} from './cli-helpers.js';

const SHAPE = [16, 24, 24] as const;
const tmp = tempDir();
const inputs = tmp.file('inputs');
const model = tmp.file('model');
const good = `${inputs}/good.tif`;
const bad = (name: string) => `${inputs}/${name}`;
let outCount = 0;
/** /proc exists, and refuses new entries even to root, on Linux only. */
const LINUX = { skip: process.platform !== 'linux' && 'needs Linux /proc' };

/** A fresh, empty output folder per case, so "nothing left behind" is checked exactly. */
function outDir(): string {
  const d = tmp.file(`out-${++outCount}`);
  mkdirSync(d);
  return d;
}

before(async () => {
  mkdirSync(inputs);
  await writeNoisy(good, SHAPE, 'uint16');
  const r = await runCli(['train', good, '--out', model, ...withOptions(TINY, { '--train-size': '1' })]);
  assertOk(r);

  writeFileSync(bad('empty.tif'), new Uint8Array(0));
  const bytes = readFileSync(good);
  writeFileSync(bad('truncated.tif'), bytes.subarray(0, Math.floor(bytes.length / 2)));
  writeFileSync(bad('notes.tif'), 'these are my notes, not an image\n');
  writeFileSync(bad('rgb.tif'), buildTiff([{ width: 24, height: 24, bits: 8, samples: 3, photometric: 2, blocks: [new Uint8Array(24 * 24 * 3)] }]));
  const [t, h, w] = SHAPE;
  writeFileSync(bad('two-channels.tif'), simpleStack(pattern('uint16', 2 * t * h * w), 'uint16', 2 * t, h, w, {
    description: `ImageJ=1.54f\nimages=${2 * t}\nchannels=2\nframes=${t}\nhyperstack=true\nmode=composite\n`,
  }));
  await writeNoisy(bad('narrow.tif'), [16, 24, 10], 'uint16');
  await writeNoisy(bad('short.tif'), [16, 10, 24], 'uint16');
  await writeNoisy(bad('few-frames.tif'), [4, 24, 24], 'uint16');
  const nan = new Float32Array(t * h * w).fill(100);
  nan[5 * h * w + 3 * w + 7] = NaN;
  await writeStack(bad('nan.tif'), { data: nan, shape: [t, h, w], dtype: 'float32' });
  const inf = new Float32Array(t * h * w).fill(100);
  inf[2 * h * w + 9 * w + 1] = -Infinity;
  await writeStack(bad('inf.tif'), { data: inf, shape: [t, h, w], dtype: 'float32' });
  writeFileSync(tmp.file('a-file'), 'not a folder');

  // A model directory whose config.json describes another architecture than its checkpoint.
  cpSync(model, tmp.file('model-other-arch'), { recursive: true });
  const config = JSON.parse(readFileSync(`${model}/config.json`, 'utf8'));
  config.model.embedDim = 4;
  config.model.mlpDim = 8;
  writeFileSync(tmp.file('model-other-arch', 'config.json'), JSON.stringify(config));
  // A model directory whose checkpoints were cut short (a copy that did not finish).
  cpSync(model, tmp.file('model-truncated'), { recursive: true });
  for (const f of ['epoch-001.safetensors', 'resume.safetensors']) {
    const st = readFileSync(`${model}/${f}`);
    writeFileSync(tmp.file('model-truncated', f), st.subarray(0, Math.floor(st.length * 0.6)));
  }
});
after(tmp.cleanup);

/** denoise `input` into a fresh folder; expects a user error naming `names` and nothing written. */
async function denoiseFails(input: string, modelPath: string, extra: string[], ...parts: string[]): Promise<string> {
  const dir = outDir();
  const r = await runCli(['denoise', input, '--model', modelPath, '--out', `${dir}/out.tif`, '--backend', 'cpu', ...extra]);
  const line = assertUserError(r, ...parts);
  assertEmptyDir(dir);
  return line;
}

/** train on `input` into a new model folder; expects a user error and no model folder. */
async function trainFails(input: string, extra: string[], ...parts: string[]): Promise<string> {
  const dir = `${outDir()}/model`;
  const r = await runCli(['train', input, '--out', dir, ...TINY, ...extra]);
  const line = assertUserError(r, ...parts);
  assert.ok(!existsSync(dir), `a model directory was left at ${dir}`);
  return line;
}

describe('bad stacks', { concurrency: 2 }, () => {
  const cases: Array<[string, string, string[]]> = [
    ['a missing file', 'missing.tif', ['does not exist', 'Check the path']],
    ['a zero-byte .tif', 'empty.tif', ['empty (0 bytes)', 'export it again']],
    ['a truncated TIFF', 'truncated.tif', ['truncated', 'copy or export it again']],
    ['a text file named .tif', 'notes.tif', ['not a TIFF', 'Save the stack as TIFF']],
    ['an RGB TIFF', 'rgb.tif', ['RGB', 'grayscale']],
    ['a two-channel ImageJ TIFF', 'two-channels.tif', ['2 channels', '--channel']],
    ['a stack narrower than a patch (x)', 'narrow.tif', ['10 pixels wide', 'at most 10']],
    ['a stack lower than a patch (y)', 'short.tif', ['10 pixels high', 'at most 10']],
    ['a stack shorter than a patch (t)', 'few-frames.tif', ['4 frames', 'at most 4']],
    ['NaN in a float32 stack', 'nan.tif', ['NaN', 'frame 5', 'y=3, x=7', 'replace non-finite']],
    ['-Inf in a float32 stack', 'inf.tif', ['-Inf', 'frame 2', 'replace non-finite']],
  ];
  for (const [what, name, parts] of cases) {
    it(`denoise: ${what}`, async () => {
      await denoiseFails(bad(name), model, [], bad(name), ...parts);
    });
    it(`train: ${what}`, async () => {
      await trainFails(bad(name), [], bad(name), ...parts);
    });
  }

  it('a multi-channel file is accepted with --channel, and a channel out of range is a user error', async () => {
    const r = await runCli(['info', bad('two-channels.tif'), '--channel', '1', '--patch-xy', '16', '--patch-t', '8']);
    assertOk(r);
    assert.match(r.stdout, /shape\s+16 frames × 24 × 24/);
    assert.match(r.stdout, /channel 1/);
    await denoiseFails(bad('two-channels.tif'), model, ['--channel', '2'], bad('two-channels.tif'), '--channel');
  });

  it('a folder without TIFF files', async () => {
    const empty = outDir();
    await denoiseFails(empty, model, [], empty, 'no .tif');
  });
});

describe('unwritable outputs', { concurrency: 2 }, () => {
  it('denoise --out inside a regular file', async () => {
    const file = tmp.file('a-file');
    const r = await runCli(['denoise', good, '--model', model, '--out', `${file}/out.tif`, '--backend', 'cpu']);
    assertUserError(r, `${file}/out.tif`, 'not a folder', 'Choose another output path');
    assert.equal(readFileSync(file, 'utf8'), 'not a folder');
  });

  it('denoise --out under /proc', LINUX, async () => {
    const r = await runCli(['denoise', good, '--model', model, '--out', '/proc/srdtrans-out.tif', '--backend', 'cpu']);
    assertUserError(r, '/proc/srdtrans-out.tif', 'writable');
    assert.ok(!existsSync('/proc/srdtrans-out.tif'));
  });

  it('denoise of two stacks into a folder that cannot be made (Node\'s recursive mkdir would spin on /proc)', LINUX, async () => {
    const r = await runCli(['denoise', good, `${inputs}/narrow.tif`, '--model', model, '--out', '/proc/srdtrans-x/', '--backend', 'cpu', '--patch-xy', '10'], { timeoutMs: 30_000 });
    assertUserError(r, '/proc/srdtrans-x/', 'choose a writable location');
  });

  it('train --out inside a regular file', async () => {
    const file = tmp.file('a-file');
    const r = await runCli(['train', good, '--out', `${file}/model`, ...TINY]);
    assertUserError(r, `${file}/model`, 'not a folder', 'choose a writable location');
  });

  it('train --out under /proc', LINUX, async () => {
    const r = await runCli(['train', good, '--out', '/proc/srdtrans-model', ...TINY], { timeoutMs: 30_000 });
    assertUserError(r, '/proc/srdtrans-model', 'choose a writable location');
  });

  it('simulate --out under /proc', LINUX, async () => {
    const r = await runCli(['simulate', 'calcium', '--out', '/proc/srdtrans-sim', '--frames', '8', '--size', '16'], { timeoutMs: 30_000 });
    assertUserError(r, '/proc/srdtrans-sim', 'choose a writable location');
  });
});

describe('checkpoints that do not fit', { concurrency: 2 }, () => {
  it('denoise with a model directory whose checkpoint was made with another architecture', async () => {
    const m = tmp.file('model-other-arch');
    await denoiseFails(good, m, [], `${m}/epoch-001.safetensors`, 'does not fit', 'config.json', 'train again');
  });

  it('denoise with a truncated .safetensors (directory or file)', async () => {
    const m = tmp.file('model-truncated');
    await denoiseFails(good, m, [], `${m}/epoch-001.safetensors`, 'truncated', 'train again');
    await denoiseFails(good, `${m}/epoch-001.safetensors`, [], `${m}/epoch-001.safetensors`, 'truncated');
  });

  it('denoise with a model path that does not exist, or a folder that is not a model', async () => {
    await denoiseFails(good, tmp.file('no-such-model'), [], tmp.file('no-such-model'), "'srdtrans train --out'");
    const notModel = outDir();
    await denoiseFails(good, notModel, [], `${notModel}/config.json`, 'not found');
  });

  it('train --resume with a truncated or mismatched resume.safetensors, or none', async () => {
    for (const [m, parts] of [
      ['model-truncated', ['truncated']],
      ['model-other-arch', ['does not fit', 'new folder without --resume']],
    ] as const) {
      const dir = tmp.file(m);
      const r = await runCli(['train', good, '--out', dir, '--resume', '--backend', 'cpu']);
      assertUserError(r, `${dir}/resume.safetensors`, ...parts);
      assert.ok(!existsSync(`${dir}/epoch-002.safetensors`));
    }
    const fresh = outDir();
    writeFileSync(`${fresh}/config.json`, readFileSync(`${model}/config.json`));
    const r = await runCli(['train', good, '--out', fresh, '--resume', '--backend', 'cpu']);
    assertUserError(r, `${fresh}/resume.safetensors`, 'not found', 'new folder without --resume');
    const none = await runCli(['train', good, '--out', tmp.file('never-trained'), '--resume', '--backend', 'cpu']);
    assertUserError(none, tmp.file('never-trained', 'config.json'), 'not found');
    assert.ok(!existsSync(tmp.file('never-trained')));
  });
});

describe('bad command lines', { concurrency: 2 }, () => {
  const cases: Array<[string, string[], string[]]> = [
    ['unknown option (train)', ['train', 'GOOD', '--out', 'OUT/m', '--bogus'], ["'--bogus'", "srdtrans train --help"]],
    ['unknown option (denoise)', ['denoise', 'GOOD', '--model', 'MODEL', '--out', 'OUT/o.tif', '--fast'], ["'--fast'", 'srdtrans denoise --help']],
    ['option without its value', ['train', 'GOOD', '--out'], ['--out', 'srdtrans train --help']],
    ['train without --out', ['train', 'GOOD', '--backend', 'cpu'], ['--out <model dir> is required']],
    ['denoise without --out', ['denoise', 'GOOD', '--model', 'MODEL'], ['--out <file or folder> is required']],
    ['denoise without --model', ['denoise', 'GOOD', '--out', 'OUT/o.tif'], ['--model <model dir or checkpoint> is required']],
    ['train without a stack', ['train', '--out', 'OUT/m'], ['name at least one stack']],
    ['--epochs 0', ['train', 'GOOD', '--out', 'OUT/m', ...TINY, '--epochs', '0'], ['--epochs 0', 'integer >= 1']],
    ['--epochs 1.5', ['train', 'GOOD', '--out', 'OUT/m', ...TINY, '--epochs', '1.5'], ['--epochs 1.5', 'integer']],
    ['--epochs abc', ['train', 'GOOD', '--out', 'OUT/m', ...TINY, '--epochs', 'abc'], ['--epochs abc']],
    ['train --overlap 1.5', ['train', 'GOOD', '--out', 'OUT/m', ...TINY, '--overlap', '1.5'], ['--overlap 1.5', '<= 0.95']],
    ['denoise --overlap 1.5', ['denoise', 'GOOD', '--model', 'MODEL', '--out', 'OUT/o.tif', '--backend', 'cpu', '--overlap', '1.5'], ['--overlap 1.5', '<= 0.95']],
    ['denoise --overlap -0.1 (a value like an option)', ['denoise', 'GOOD', '--model', 'MODEL', '--out', 'OUT/o.tif', '--overlap', '-0.1'], ["'--overlap'", "'--overlap=-XYZ'"]],
    ['denoise --overlap=-0.1', ['denoise', 'GOOD', '--model', 'MODEL', '--out', 'OUT/o.tif', '--backend', 'cpu', '--overlap=-0.1'], ['--overlap -0.1', '>= 0']],
    ['odd --patch-xy', ['train', 'GOOD', '--out', 'OUT/m', ...TINY, '--patch-xy', '15'], ['--patch-xy 15', 'even']],
    ['--patch-t not a multiple of 2^levels', ['train', 'GOOD', '--out', 'OUT/m', ...TINY, '--patch-t', '6'], ['(6)', 'multiple of 2^levels = 4']],
    ['denoise --patch-t other than the model\'s', ['denoise', 'GOOD', '--model', 'MODEL', '--out', 'OUT/o.tif', '--patch-t', '16'], ['--patch-t 16', 'omit --patch-t']],
    ['embed-dim not divisible by heads', ['train', 'GOOD', '--out', 'OUT/m', ...TINY, '--heads', '3'], ['embedDim (8)', 'heads (3)']],
    ['bad --f-maps', ['train', 'GOOD', '--out', 'OUT/m', ...TINY, '--f-maps', '2,x'], ['--f-maps 2,x', 'comma-separated']],
    ['bad --backend', ['train', 'GOOD', '--out', 'OUT/m', ...TINY, '--backend', 'cuda'], ['--backend cuda', 'expected one of']],
    ['bad --sampling', ['train', 'GOOD', '--out', 'OUT/m', ...TINY, '--sampling', 'random'], ['--sampling random', 'spatial, temporal']],
    ['simulate without a kind', ['simulate', '--out', 'OUT/s'], ["'calcium' or 'smlm'"]],
    ['evaluate without --reference', ['evaluate', '--denoised', 'GOOD'], ['--denoised and --reference are both required']],
  ];
  for (const [what, args, parts] of cases) {
    it(what, async () => {
      const dir = outDir();
      const concrete = args.map((a) => a.replace('GOOD', good).replace('MODEL', model).replace('OUT', dir));
      const r = await runCli(concrete);
      assertUserError(r, ...parts);
      assertEmptyDir(dir);
    });
  }

  it('train without --resume into a folder that already holds a model refuses to mix the runs', async () => {
    const before = readFileSync(`${model}/epoch-001.safetensors`);
    const r = await runCli(['train', good, '--out', model, ...withOptions(TINY, { '--embed-dim': '4', '--mlp-dim': '8' })]);
    assertUserError(r, `--out ${model}`, 'epoch-001.safetensors', '--resume', 'new folder');
    assert.deepEqual(readFileSync(`${model}/epoch-001.safetensors`), before);
    assert.equal(JSON.parse(readFileSync(`${model}/config.json`, 'utf8')).model.embedDim, 8, 'config.json was rewritten');
  });

  it('an unknown command prints the usage and exits 2', async () => {
    const r = await runCli(['trian']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^srdtrans: unknown command 'trian'\nusage: srdtrans <command>/);
  });

  it('evaluate of stacks of different shapes names both', async () => {
    const r = await runCli(['evaluate', '--denoised', good, '--reference', bad('narrow.tif')]);
    assertUserError(r, good, bad('narrow.tif'), 'same shape');
  });
});
