/**
 * Ctrl-C during `srdtrans train`: the step in flight finishes, a resumable checkpoint is saved,
 * the exit code is 130 and the user is told how to continue; `--resume` then finishes the run.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { assertOk, jsonLines, runCli, tempDir, TINY, withOptions, writeNoisy } from './cli-helpers.js';

const tmp = tempDir();
const noisy = tmp.file('noisy.tif');
/** 36 patches per epoch on this stack, 3 epochs: about 20 s of work, far more than the test waits. */
const LONG = withOptions(TINY, { '--train-size': '50', '--epochs': '3' });

before(async () => {
  await writeNoisy(noisy, [16, 24, 24], 'uint16');
});
after(tmp.cleanup);

describe('srdtrans train, stopped early (SIGINT, closed stdout)', () => {
  it('--json: stops within a step or two of the signal, saves resume.safetensors, exits 130 and says how to resume', async () => {
    const dir = tmp.file('model-json');
    let sent = false;
    const r = await runCli(['train', noisy, '--out', dir, '--json', ...LONG], {
      onOutput: (stream, text, child) => {
        if (!sent && stream === 'stdout' && text.includes('"event":"step"')) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    assert.ok(sent, `no step event seen:\n${r.stdout}\n${r.stderr}`);
    assert.equal(r.status, 130, `exit ${r.status}\n${r.stderr}`);
    assert.equal(r.stderr, '');
    const events = jsonLines(r.stdout);
    const stop = events.at(-1)!;
    assert.equal(stop['event'], 'interrupted', JSON.stringify(stop));
    // The signal is acted on at once, not at the end of the epoch.
    assert.equal(stop['epoch'], 0);
    assert.ok(Number(stop['iteration']) <= 5, `stopped only at iteration ${String(stop['iteration'])}`);
    assert.equal(events.filter((e) => e['event'] === 'step').length, stop['iteration']);
    assert.ok(String(stop['checkpoint']).endsWith('resume.safetensors'));
    assert.match(String(stop['resume']), /^srdtrans train .*noisy\.tif --out .*model-json --resume$/);
    const names = readdirSync(dir);
    assert.ok(names.includes('resume.safetensors') && names.includes('config.json'), names.join(', '));
    assert.ok(!names.some((n) => n.startsWith('epoch-') || n.includes('.partial-')), names.join(', '));

    // --resume carries on from the saved patch (here for the rest of the first epoch only).
    const again = await runCli(['train', noisy, '--out', dir, '--resume', '--epochs', '1', '--json', '--backend', 'cpu']);
    assertOk(again);
    const resumed = jsonLines(again.stdout);
    const start = resumed.find((e) => e['event'] === 'start')!;
    assert.equal(start['startEpoch'], 0);
    assert.equal(start['startIteration'], stop['iteration']);
    const steps = resumed.filter((e) => e['event'] === 'step');
    assert.equal(steps.length, Number(start['patches']) - Number(stop['iteration']), 'only the remaining patches are trained');
    assert.ok(existsSync(`${dir}/epoch-001.safetensors`));
    assert.ok(existsSync(`${dir}/loss.png`));
  });

  it('a reader that stops early (`--json | head -1`) ends the run quietly with exit 141, no stack trace', async () => {
    let closed = false;
    const r = await runCli(['train', noisy, '--out', tmp.file('model-pipe'), '--json', ...TINY], {
      onOutput: (stream, text, child) => {
        if (!closed && stream === 'stdout' && text.includes('\n')) {
          closed = true;
          child.stdout!.destroy();
        }
      },
    });
    assert.ok(closed);
    assert.equal(r.status, 141, r.stderr);
    assert.equal(r.stderr, '');
  });

  it('text mode: prints that it is saving and the exact command to continue', async () => {
    const dir = tmp.file('model text');
    let sent = false;
    const r = await runCli(['train', noisy, '--out', dir, ...LONG], {
      onOutput: (stream, text, child) => {
        // The start line is printed once the handler is in place and training begins.
        if (!sent && stream === 'stderr' && text.includes('patches per epoch')) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    assert.ok(sent, r.stderr);
    assert.equal(r.status, 130, r.stderr);
    assert.match(r.stderr, /interrupted; saving a checkpoint to resume from/);
    // The folder name has a space: the command is quoted so it can be pasted back.
    assert.match(r.stderr, /saved .*resume\.safetensors; continue with: srdtrans train \S*noisy\.tif --out '[^']*model text' --resume\n/);
    assert.doesNotMatch(r.stderr, /error/i);
    assert.ok(existsSync(`${dir}/resume.safetensors`));
    assert.ok(!existsSync(`${dir}/epoch-001.safetensors`), 'interrupted within the first epoch');
  });

  it('denoise: Ctrl-C stops after the patch in flight, exits 130 and leaves no output file behind', async () => {
    const model = tmp.file('model-for-denoise');
    assertOk(await runCli(['train', noisy, '--out', model, ...TINY]));
    const big = tmp.file('big.tif');
    await writeNoisy(big, [32, 48, 48], 'uint16', 3);
    const outDir = tmp.file('denoised');
    let sent = false;
    const r = await runCli(['denoise', big, '--model', model, '--out', `${outDir}/`, '--json', '--backend', 'cpu'], {
      onOutput: (stream, text, child) => {
        if (!sent && stream === 'stdout' && text.includes('"event":"patch"') && text.includes('"done":1,')) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    assert.ok(sent, `no patch event seen:\n${r.stdout}\n${r.stderr}`);
    assert.equal(r.status, 130, r.stderr);
    assert.match(r.stderr, /interrupted; no partial output was left behind/);
    assert.deepEqual(readdirSync(outDir), []);
  });
});
