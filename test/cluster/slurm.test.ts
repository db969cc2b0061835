/**
 * A real Slurm (.ci/slurm/start.sh: munged, slurmctld and slurmd on localhost) runs
 * `srdtrans cluster slurm denoise` as a 4-task array, at most 2 at once: the output is the
 * unsharded run's, chunk for chunk. Then a job cancelled while its first task runs is
 * resubmitted and finishes the same. Skipped where no Slurm answers, unless
 * SRDTRANS_REQUIRE_SLURM=1 (CI), where that fails.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { assertOk, runCli, tempDir, TINY, zarrChunks } from '../cli/cli-helpers.js';

function slurmUp(): boolean {
  try {
    return /idle|mixed|alloc/.test(execFileSync('sinfo', ['-h', '-o', '%T'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return false;
  }
}

const required = process.env['SRDTRANS_REQUIRE_SLURM'] === '1';
const skip = !slurmUp() && !required ? 'no Slurm cluster answers here (CI starts one with .ci/slurm/start.sh)' : false;

const tmp = tempDir('srdtrans-slurm-');
after(tmp.cleanup);
const noisy = tmp.file('sim', 'noisy.zarr');
const model = tmp.file('model');


function squeue(jobId: string): string[] {
  return execFileSync('squeue', ['-h', '-r', '-j', jobId, '-o', '%i %T'], { encoding: 'utf8' }).split('\n').filter((l) => l.trim());
}

async function waitFor(done: () => boolean, what: string, seconds = 300): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function submit(out: string): Promise<string> {
  const r = await runCli(['cluster', 'slurm', 'denoise', noisy, '--model', model, '--out', out, '--shards', '4', '--max-parallel', '2', '--backend', 'cpu']);
  assertOk(r);
  return r.stdout.trim();
}

async function status(out: string): Promise<{ shard: number; state: string; error?: string }[]> {
  const r = await runCli(['cluster', 'status', out, '--json']);
  assertOk(r);
  return (JSON.parse(r.stdout) as { shards: { shard: number; state: string; error?: string }[] }).shards;
}

describe('Slurm job arrays', { skip }, () => {
  before(async () => {
    if (!slurmUp()) throw new Error('SRDTRANS_REQUIRE_SLURM=1 but no Slurm cluster answers (sinfo)');
    assertOk(await runCli(['simulate', 'calcium', '--out', tmp.file('sim'), '--format', 'ome-zarr', '--frames', '130', '--size', '24', '--photons', '5']));
    assertOk(await runCli(['train', noisy, '--out', model, ...TINY]));
    assertOk(await runCli(['denoise', noisy, '--model', model, '--out', tmp.file('one.zarr'), '--backend', 'cpu']));
  });

  it('a 4-shard array, 2 at a time, writes what one process writes', async () => {
    const out = tmp.file('array.zarr');
    const job = await submit(out);
    await waitFor(() => squeue(job).length === 0, `job ${job}`);
    assert.deepEqual((await status(out)).map((s) => s.state), ['done', 'done', 'done', 'done']);
    const [a, b] = [zarrChunks(tmp.file('one.zarr')), zarrChunks(out)];
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    for (const [k, bytes] of a) assert.ok(bytes.equals(b.get(k)!), k);
  });

  it('a job cancelled mid-way finishes the same when submitted again', async () => {
    const out = tmp.file('cancelled.zarr');
    const job = await submit(out);
    await waitFor(() => squeue(job).some((l) => l.endsWith('RUNNING')), `a running task of job ${job}`);
    execFileSync('scancel', [job]);
    await waitFor(() => squeue(job).length === 0, `job ${job} to leave the queue`);
    const after1 = await status(out);
    assert.ok(after1.some((s) => s.state === 'failed'), JSON.stringify(after1));
    const again = await submit(out);
    await waitFor(() => squeue(again).length === 0, `job ${again}`);
    assert.deepEqual((await status(out)).map((s) => s.state), ['done', 'done', 'done', 'done']);
    const [a, b] = [zarrChunks(tmp.file('one.zarr')), zarrChunks(out)];
    for (const [k, bytes] of a) assert.ok(bytes.equals(b.get(k)!), k);
  });
});
