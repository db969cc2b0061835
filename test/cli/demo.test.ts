import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, it } from 'node:test';
import { PNG } from 'pngjs';
import { assertOk, runCli, tempDir } from './cli-helpers.js';

const tmp = tempDir('srdtrans-demo-');
after(tmp.cleanup);

it('demo (shortened) writes the stacks, a comparison figure and summary.json with both evaluations', async () => {
  const out = tmp.file('demo out');
  const r = await runCli(['demo', '--out', out, '--steps', '2', '--frames', '32', '--size', '32', '--backend', 'wasm']);
  assertOk(r);
  for (const f of ['noisy.tif', 'clean.tif', 'denoised.tif', 'comparison.png', 'summary.json', 'model/config.json']) {
    assert.ok(existsSync(`${out}/${f}`), `${f} missing`);
  }
  const summary = JSON.parse(readFileSync(`${out}/summary.json`, 'utf8')) as Record<string, Record<string, unknown> | string | number>;
  for (const key of ['raw', 'denoised'] as const) {
    const e = summary[key] as Record<string, unknown>;
    assert.deepEqual(Object.keys(e).sort(), ['error_split', 'psnr_db', 'snr_db', 'snr_z_db', 'ssim', 'trace_r']);
    assert.equal(typeof e['snr_db'], 'number');
  }
  assert.equal(summary['backend'], 'wasm');
  assert.ok(typeof summary['seconds'] === 'number' && summary['seconds'] > 0);
  const png = PNG.sync.read(readFileSync(`${out}/comparison.png`));
  assert.ok(png.width > 3 * 64 && png.height > 64);
  assert.match(r.stdout, /raw \(noisy input\)[\s\S]*SNR[\s\S]*denoised[\s\S]*SSIM/);
  const training = summary['training'] as unknown as Record<string, unknown>;
  assert.equal(training['steps'], 2 * 1, 'the steps that ran, as the grid rounded them (1 patch, 2 epochs)');
  assert.match(r.stdout, /the bundled prior fine-tuned for 2 steps on this noisy stack alone/);
  assert.match(r.stdout, /figure +.*comparison\.png\nstacks/, 'ends with the paths of the figure and the stacks');
  assert.equal(training['start'], 'prior');
  assert.match(String(training['init']), /models\/demo-prior\/best\.safetensors$/);
  assert.match(r.stderr, /fine-tuning the bundled prior/);
});

it('the prior is what makes a 2-step demo denoise; --from-scratch starts from random weights', async () => {
  const gain = (dir: string) => {
    const summary = JSON.parse(readFileSync(`${dir}/summary.json`, 'utf8')) as { raw: { snr_db: number }; denoised: { snr_db: number }; training: { start: string } };
    return { start: summary.training.start, gain: summary.denoised.snr_db - summary.raw.snr_db };
  };
  const args = ['--steps', '2', '--frames', '32', '--size', '32', '--backend', 'wasm'];
  const prior = tmp.file('prior');
  const scratch = tmp.file('scratch');
  assertOk(await runCli(['demo', '--out', prior, ...args]));
  const r = await runCli(['demo', '--out', scratch, '--from-scratch', ...args]);
  assertOk(r);
  assert.match(r.stderr, /training from random weights/);
  const [a, b] = [gain(prior), gain(scratch)];
  assert.deepEqual([a.start, b.start], ['prior', 'scratch']);
  assert.ok(a.gain > 4, `the prior denoises after 2 steps: SNR gain ${a.gain.toFixed(2)} dB`);
  assert.ok(a.gain > b.gain + 3, `2 steps from scratch do not: ${b.gain.toFixed(2)} dB against ${a.gain.toFixed(2)} dB`);
});
