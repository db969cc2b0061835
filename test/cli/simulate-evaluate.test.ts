/** `srdtrans simulate calcium|smlm` and `srdtrans evaluate` through the command line. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { readStack } from '../../src/node.js';
import { assertOk, jsonLines, runCli, tempDir } from './cli-helpers.js';

const tmp = tempDir();
const sim = tmp.file('calcium');
let simulateStderr = '';

before(async () => {
  const r = await runCli(['simulate', 'calcium', '--out', sim, '--frames', '16', '--size', '32', '--seed', '3', '--photons', '5']);
  assertOk(r);
  simulateStderr = r.stderr;
});
after(tmp.cleanup);

describe('srdtrans simulate calcium', () => {
  it('writes noisy, clean and masks stacks, params.json and a PNG preview', async () => {
    assert.deepEqual(readdirSync(sim).sort(), ['clean.tif', 'masks.tif', 'noisy.tif', 'params.json', 'preview.png']);
    const noisy = await readStack(`${sim}/noisy.tif`);
    const clean = await readStack(`${sim}/clean.tif`);
    const masks = await readStack(`${sim}/masks.tif`);
    assert.deepEqual(noisy.shape, [16, 32, 32]);
    assert.deepEqual(clean.shape, [16, 32, 32]);
    assert.deepEqual(masks.shape, [1, 32, 32]);
    assert.ok(masks.data.some((v) => v > 0), 'no neuron in the masks');
    assert.notDeepEqual(noisy.data, clean.data);
    const params = JSON.parse(readFileSync(`${sim}/params.json`, 'utf8'));
    assert.equal(params.kind, 'calcium');
    assert.equal(params.seed, 3);
    assert.equal(params.photons, 5);
    const png = readFileSync(`${sim}/preview.png`);
    assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
    assert.match(simulateStderr, /srdtrans evaluate --denoised <result\.tif> --reference .*clean\.tif --masks .*masks\.tif --baseline \d+/);
  });

  it('is deterministic for a seed', async () => {
    const again = tmp.file('calcium-again');
    assertOk(await runCli(['simulate', 'calcium', '--out', again, '--frames', '16', '--size', '32', '--seed', '3', '--photons', '5']));
    assert.deepEqual(readFileSync(`${again}/noisy.tif`), readFileSync(`${sim}/noisy.tif`));
  });

  it('simulate smlm writes its stacks too', async () => {
    const out = tmp.file('smlm');
    assertOk(await runCli(['simulate', 'smlm', '--out', out, '--frames', '8', '--size', '16']));
    assert.deepEqual(readdirSync(out).sort(), ['clean.tif', 'noisy.tif', 'params.json', 'preview.png']);
    assert.deepEqual((await readStack(`${out}/noisy.tif`)).shape, [8, 16, 16]);
  });
});

describe('srdtrans evaluate', () => {
  it('--json prints snr_db, snr_z_db, psnr_db, ssim, trace_r and error_split; the clean stack scores perfectly against itself', async () => {
    const r = await runCli(['evaluate', '--denoised', `${sim}/clean.tif`, '--reference', `${sim}/clean.tif`, '--masks', `${sim}/masks.tif`, '--json']);
    assertOk(r);
    const [e, ...rest] = jsonLines(r.stdout);
    assert.equal(rest.length, 0);
    assert.deepEqual(Object.keys(e!).sort(), ['error_split', 'psnr_db', 'snr_db', 'snr_z_db', 'ssim', 'trace_r']);
    assert.deepEqual(e!['error_split'], { static: 0, cells: 0, background: 0 });
    assert.ok(Number(e!['snr_db']) >= 99, `snr ${String(e!['snr_db'])}`);
    assert.ok(Number(e!['psnr_db']) >= 99, `psnr ${String(e!['psnr_db'])}`);
    assert.equal(e!['ssim'], 1);
    assert.ok(Math.abs(Number(e!['trace_r']) - 1) < 1e-9, `trace_r ${String(e!['trace_r'])}`);
  });

  it('the noisy stack scores finitely and worse; without masks trace_r is null', async () => {
    const r = await runCli(['evaluate', '--denoised', `${sim}/noisy.tif`, '--reference', `${sim}/clean.tif`, '--json', '--baseline', '100']);
    assertOk(r);
    const [e] = jsonLines(r.stdout);
    for (const k of ['snr_db', 'psnr_db', 'ssim']) {
      const v = Number(e![k]);
      assert.ok(Number.isFinite(v), `${k} = ${String(e![k])}`);
    }
    assert.ok(Number(e!['snr_db']) < 40 && Number(e!['psnr_db']) < 60, JSON.stringify(e));
    assert.ok(Number(e!['ssim']) < 0.99, JSON.stringify(e));
    assert.equal(e!['trace_r'], null);
    assert.equal(e!['error_split'], null);
  });

  it('prints a readable table without --json', async () => {
    const r = await runCli(['evaluate', '--denoised', `${sim}/noisy.tif`, '--reference', `${sim}/clean.tif`, '--masks', `${sim}/masks.tif`]);
    assertOk(r);
    assert.match(r.stdout, /^SNR\s+-?[\d.]+ dB\nSNR z\s+-?[\d.]+ dB \(both stacks standardised\)\nPSNR\s+[\d.]+ dB\nSSIM\s+[\d.]+\ntrace r\s+-?[\d.]+\nerror\s+\d+ % in the static image, \d+ % in cell activity, \d+ % in background activity\n$/);
  });
});
