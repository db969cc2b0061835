/**
 * Sharded denoising through the real command line: four shards, run in any order, write the
 * same chunk bytes as one process; a rerun is safe, --resume skips finished shards, a lost chunk
 * is repaired by rerunning its shard, and bad shard requests are one line with nothing written.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readStackFile } from '../../src/node.js';
import { assertOk, assertUserError, runCli, tempDir, TINY, zarrChunks } from './cli-helpers.js';

const tmp = tempDir('srdtrans-shards-');
after(tmp.cleanup);
const noisy = tmp.file('sim', 'noisy.zarr');
const model = tmp.file('model');
const full = tmp.file('full.zarr');
const sharded = tmp.file('sharded.zarr');
const denoise = (out: string, ...extra: string[]) => runCli(['denoise', noisy, '--model', model, '--out', out, '--backend', 'cpu', '--workers', '1', ...extra]);


before(async () => {
  // 130 frames: five chunk rows of 32 frames (the last of 2).
  assertOk(await runCli(['simulate', 'calcium', '--out', tmp.file('sim'), '--format', 'ome-zarr', '--frames', '130', '--size', '24', '--photons', '5']));
  assertOk(await runCli(['train', noisy, '--out', model, ...TINY]));
  assertOk(await denoise(full));
});

describe('denoise --shard i/N', () => {
  it('four shards in any order write the chunks of one process, byte for byte', async () => {
    for (const i of [3, 1, 0, 2]) {
      const r = await denoise(sharded, '--shard', `${i}/4`);
      assertOk(r);
    }
    const [a, b] = [zarrChunks(full), zarrChunks(sharded)];
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    for (const [k, bytes] of a) assert.ok(bytes.equals(b.get(k)!), k);
    assert.deepEqual((await readStackFile(sharded)).data, (await readStackFile(full)).data);
    assert.equal(readdirSync(path.join(sharded, '.srdtrans-shards')).length, 4);
  });

  it('a rerun is safe, --resume skips a finished shard, and a lost chunk comes back with its shard', async () => {
    assertOk(await denoise(sharded, '--shard', '1/4'));
    const skip = await denoise(sharded, '--shard', '2/4', '--resume');
    assertOk(skip);
    assert.match(skip.stderr, /finished by an earlier run/);
    // As if shard 2 had been killed: one of its chunks and its record gone.
    const lost = [...zarrChunks(sharded).keys()].find((k) => k.startsWith(`0${path.sep}c${path.sep}2${path.sep}`))!;
    rmSync(path.join(sharded, lost));
    rmSync(path.join(sharded, '.srdtrans-shards', '2-of-4.json'));
    // Without a Slurm job record (a Kubernetes job leaves none), status reads the shard records.
    const status = await runCli(['cluster', 'status', sharded]);
    assertOk(status);
    assert.match(status.stdout, /: 3 of 4 shards done; .*kubectl get pods -l job-name=srdtrans-sharded/);
    assertOk(await denoise(sharded, '--shard', '2/4', '--resume'));
    assert.ok(zarrChunks(sharded).get(lost)!.equals(zarrChunks(full).get(lost)!));
  });

  it('refuses bad shard requests in one line, writing nothing', async () => {
    assertUserError(await denoise(tmp.file('x.zarr'), '--shard', '4/4'), '--shard 4/4', 'from 0 to 3');
    assertUserError(await denoise(tmp.file('x.tif'), '--shard', '0/2'), '--shard', '.zarr');
    assertUserError(await denoise(tmp.file('y.zarr'), '--shard', '0/9'), 'only 5 chunk rows');
    for (const f of ['x.zarr', 'x.tif', 'y.zarr']) assert.ok(!existsSync(tmp.file(f)), f);
    const before = statSync(path.join(sharded, 'zarr.json')).mtimeMs;
    assertUserError(await denoise(sharded, '--shard', '0/4', '--overlap', '0.25'), 'another job', 'overlap');
    assert.equal(statSync(path.join(sharded, 'zarr.json')).mtimeMs, before);
  });
});
