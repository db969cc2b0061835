/**
 * `srdtrans denoise --workers`: the real command line with worker threads (whose TypeScript entry
 * must load through tsx) writes the same bytes as one thread.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, it } from 'node:test';
import { assertOk, runCli, tempDir, TINY, writeNoisy } from './cli-helpers.js';

const tmp = tempDir();
const model = tmp.file('model');
const noisy = tmp.file('noisy.tif');
after(tmp.cleanup);
before(async () => {
  await writeNoisy(noisy, [24, 32, 32], 'uint16');
  assertOk(await runCli(['train', noisy, '--out', model, ...TINY], { timeoutMs: 300_000 }));
});

it('--workers 2 and 4 on wasm write the same file as one thread; auto starts none for a job this small', async () => {
  const denoise = async (workers: string | null) => {
    const out = tmp.file(`out-${workers ?? 'default'}.tif`);
    const r = await runCli(['denoise', noisy, '--model', model, '--out', out, '--backend', 'wasm', ...(workers ? ['--workers', workers] : [])], { timeoutMs: 300_000 });
    assertOk(r);
    return { bytes: readFileSync(out), stderr: r.stderr };
  };
  const one = await denoise('1');
  const two = await denoise('2');
  const four = await denoise('4');
  const auto = await denoise(null);
  assert.match(two.stderr, /2 worker threads/);
  assert.doesNotMatch(one.stderr, /worker threads/);
  assert.doesNotMatch(auto.stderr, /worker threads/, 'a tiny network\'s patches take milliseconds: workers would not pay');
  assert.ok(two.bytes.equals(one.bytes), 'the output with 2 workers differs from the single-thread output');
  assert.match(four.stderr, /4 worker threads/);
  assert.ok(four.bytes.equals(one.bytes), 'the output with 4 workers (more than this machine may have cores) differs');
  assert.ok(auto.bytes.equals(one.bytes));
});

it('--workers 0 is refused before any work', async () => {
  const r = await runCli(['denoise', noisy, '--model', model, '--out', tmp.file('x.tif'), '--workers', '0']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^srdtrans: error: .*workers/m);
});
