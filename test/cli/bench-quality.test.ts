/**
 * `srdtrans bench quality --paper` through the real command line, at a toy size: the paper's raw
 * noise level is found, every method is scored, the report and figures are written, the models
 * are kept, and a rerun refuses to overwrite them unless it continues them with --resume.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { assertOk, assertUserError, runCli, tempDir } from './cli-helpers.js';

const tmp = tempDir('srdtrans-bench-');
after(tmp.cleanup);
const out = tmp.file('paper');
const args = ['bench', 'quality', '--paper', '--out', out, '--rates', '0.3', '--frames', '64', '--size', '32', '--steps', '2', '--epochs', '2', '--patch-xy', '16', '--backend', 'wasm'];

interface Report {
  results: { condition: { name: string; frameRate: number; photons: number }; results: { method: string; steps: number | null; evaluation: Record<string, number | null> }[] }[];
}

describe('bench quality --paper', () => {
  it('scores every method at the paper\'s raw SNR and writes the report, the figures and the models', async () => {
    const r = await runCli(args);
    assertOk(r);
    const report = JSON.parse(readFileSync(`${out}/results.json`, 'utf8')) as Report;
    const [only] = report.results;
    assert.equal(report.results.length, 1);
    assert.equal(only!.condition.frameRate, 0.3);
    const methods = only!.results.map((m) => m.method);
    assert.deepEqual(methods, ['raw', 'gaussian xy', 'gaussian xyt', 'moving average', 'mean image', 'SRDTrans (spatial)', 'temporal sampling (DeepCAD-style)', 'linear oracle (truth statistics)']);
    const raw = only!.results[0]!.evaluation;
    assert.ok(Math.abs(raw['snr_z_db']! - -1) < 0.05, `raw SNR ${raw['snr_z_db']} dB, expected the paper's -1 dB at 0.3 Hz`);
    for (const m of only!.results.slice(5, 7)) assert.ok(m.steps! > 0, `${m.method} trained`);
    const oracle = only!.results[7]!.evaluation['snr_z_db']!;
    for (const m of only!.results.slice(0, 7)) assert.ok(oracle > m.evaluation['snr_z_db']!, `the oracle (${oracle} dB) above ${m.method}`);
    const md = readFileSync(`${out}/results.md`, 'utf8');
    for (const title of ['SNR (dB, both stacks standardised', 'SSIM', 'Neuron trace correlation', 'Where the error lies', 'The linear oracle is not a method']) {
      assert.ok(md.includes(title), title);
    }
    // static / cell activity / background activity, adding up to the standardised error.
    const row = md.split('\n').find((l) => l.startsWith('| calcium 0.3 Hz |') && l.includes(' / '))!;
    const rawParts = row.split(' | ')[1]!.split(' / ').map(Number);
    const rawError = 10 ** (-raw['snr_z_db']! / 10);
    assert.ok(Math.abs(rawParts.reduce((a, b) => a + b) - rawError) < 0.002 + 0.001 * rawError, `${rawParts} against ${rawError}`);
    for (const f of ['snr-vs-frame-rate.png', 'examples-calcium-0.3-hz.png', 'traces-calcium-0.3-hz.png', 'models/calcium-0.3-hz-spatial/best.safetensors', 'models/calcium-0.3-hz-temporal/best.safetensors']) {
      assert.ok(existsSync(`${out}/${f}`), f);
    }
  });

  it('keeps the models of an earlier run: refused without --resume, read back with it', async () => {
    assertUserError(await runCli(args), '--resume', 'models');
    const before = JSON.parse(readFileSync(`${out}/results.json`, 'utf8')) as Report;
    const r = await runCli([...args, '--resume']);
    assertOk(r);
    assert.doesNotMatch(r.stderr, /training SRDTrans/, 'finished models are not trained again');
    const again = JSON.parse(readFileSync(`${out}/results.json`, 'utf8')) as Report;
    assert.deepEqual(again.results[0]!.results.map((m) => m.evaluation), before.results[0]!.results.map((m) => m.evaluation));
  });

  it('without --paper adds SMLM, which has no linear oracle: its frames would be the oracle\'s own statistics', async () => {
    const plain = tmp.file('plain');
    assertOk(await runCli(['bench', 'quality', '--out', plain, '--rates', '1', '--frames', '64', '--size', '32', '--steps', '2', '--patch-xy', '16', '--backend', 'wasm']));
    const report = JSON.parse(readFileSync(`${plain}/results.json`, 'utf8')) as Report;
    const oracleIn = (name: string) => report.results.find((r) => r.condition.name === name)!.results.some((m) => m.method === 'linear oracle (truth statistics)');
    assert.deepEqual([oracleIn('calcium 1 Hz'), oracleIn('SMLM')], [true, false]);
  });

  it('trains only the sampling an ablation asks for, with the schedule it names', async () => {
    const one = tmp.file('spatial-only');
    const r = await runCli(['bench', 'quality', '--paper', '--out', one, '--rates', '0.3', '--photons', '2', '--frames', '64', '--size', '32',
      '--steps', '2', '--epochs', '2', '--patch-xy', '16', '--backend', 'wasm', '--sampling', 'spatial', '--schedule', 'cosine']);
    assertOk(r);
    const report = JSON.parse(readFileSync(`${one}/results.json`, 'utf8')) as Report & { schedule: string };
    assert.deepEqual(report.results[0]!.results.map((m) => m.method), ['raw', 'gaussian xy', 'gaussian xyt', 'moving average', 'mean image', 'SRDTrans (spatial)', 'linear oracle (truth statistics)']);
    assert.equal(report.schedule, 'cosine');
    const config = JSON.parse(readFileSync(`${one}/models/calcium-0.3-hz-spatial/config.json`, 'utf8')) as { training: { schedule: string } };
    assert.equal(config.training.schedule, 'cosine');
    assert.ok(!existsSync(`${one}/models/calcium-0.3-hz-temporal`), 'no temporal model');
    assert.doesNotMatch(readFileSync(`${one}/results.md`, 'utf8'), /temporal sampling/);
    assertUserError(await runCli(['bench', 'quality', '--out', tmp.file('bad'), '--sampling', 'both-ways']), '--sampling');
  });
});
