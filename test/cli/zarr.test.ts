/**
 * OME-Zarr through the real command line: simulate writes it, info reads it, convert goes to TIFF
 * and back (v2 and v3), train learns from it, denoise writes it with the same voxels as a TIFF
 * run, evaluate scores it; bad inputs are one line.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as path from 'node:path';
import { decodeSafetensors, readStackFile } from '../../src/node.js';
import { assertOk, assertUserError, runCli, tempDir, TINY } from './cli-helpers.js';

const tmp = tempDir('srdtrans-zarr-cli-');
after(tmp.cleanup);
const sim = tmp.file('sim');
const FIXTURE = new URL('../fixtures/zarr/tczyx.ome.zarr', import.meta.url).pathname;

before(async () => {
  assertOk(await runCli(['simulate', 'calcium', '--out', sim, '--format', 'ome-zarr', '--frames', '24', '--size', '24', '--photons', '5']));
});

describe('OME-Zarr in the CLI', () => {
  it('simulate writes OME-Zarr and info reads it', async () => {
    for (const name of ['noisy.zarr', 'clean.zarr', 'masks.zarr']) assert.ok(existsSync(`${sim}/${name}/zarr.json`), name);
    const r = await runCli(['info', `${sim}/noisy.zarr`, '--json', '--patch-xy', '16', '--patch-t', '8']);
    assertOk(r);
    const info = JSON.parse(r.stdout);
    assert.deepEqual(info.shape, [24, 24, 24]);
    assert.equal(info.format, 'OME-Zarr 0.5');
    assert.deepEqual(info.chunks, [24, 24, 24]);
  });

  it('convert goes to TIFF and back to OME-Zarr 0.4 without changing a voxel', async () => {
    assertOk(await runCli(['convert', `${sim}/noisy.zarr`, tmp.file('noisy.tif')]));
    assertOk(await runCli(['convert', tmp.file('noisy.tif'), tmp.file('v2.zarr'), '--zarr-format', '2', '--chunks', '5,16,16']));
    assert.equal(JSON.parse(readFileSync(tmp.file('v2.zarr', '0', '.zarray'), 'utf8')).chunks.join(), '5,16,16');
    const [a, b, c] = await Promise.all([`${sim}/noisy.zarr`, tmp.file('noisy.tif'), tmp.file('v2.zarr')].map((f) => readStackFile(f)));
    assert.deepEqual(b!.data, a!.data);
    assert.deepEqual(c!.data, a!.data);
    const e = await runCli(['evaluate', '--denoised', tmp.file('v2.zarr'), '--reference', `${sim}/noisy.zarr`, '--json']);
    assertOk(e);
    assert.equal(JSON.parse(e.stdout).snr_z_db, 100);
  });

  it('trains on OME-Zarr patch by patch to the TIFF run\'s weights, and denoises it to OME-Zarr with the TIFF run\'s voxels', async () => {
    const model = tmp.file('model');
    assertOk(await runCli(['train', `${sim}/noisy.zarr`, '--out', model, ...TINY]));
    assertOk(await runCli(['train', tmp.file('noisy.tif'), '--out', tmp.file('model-tif'), ...TINY]));
    const weights = (dir: string) => decodeSafetensors(readFileSync(path.join(dir, 'epoch-001.safetensors'))).tensors;
    assert.deepEqual(weights(model), weights(tmp.file('model-tif')));
    assertOk(await runCli(['denoise', `${sim}/noisy.zarr`, '--model', model, '--out', tmp.file('d.zarr'), '--backend', 'cpu', '--workers', '1']));
    assertOk(await runCli(['denoise', tmp.file('noisy.tif'), '--model', model, '--out', tmp.file('d.tif'), '--backend', 'cpu', '--workers', '1']));
    const [z, t] = await Promise.all([readStackFile(tmp.file('d.zarr')), readStackFile(tmp.file('d.tif'))]);
    assert.deepEqual(z.shape, [24, 24, 24]);
    assert.deepEqual(z.data, t.data);
  });

  it('bad inputs are one line and leave no output', async () => {
    mkdirSync(tmp.file('empty.zarr'));
    assertUserError(await runCli(['info', tmp.file('empty.zarr')]), 'empty.zarr', 'not a Zarr store');
    assertUserError(await runCli(['convert', FIXTURE, tmp.file('x.tif')]), '2 channels', '--channel');
    assert.ok(!existsSync(tmp.file('x.tif')));
    assertUserError(await runCli(['convert', tmp.file('noisy.tif'), tmp.file('y.tif')]), 'keeps the format');
    // An existing store is replaced only on request.
    assertUserError(await runCli(['convert', tmp.file('noisy.tif'), tmp.file('v2.zarr')]), 'v2.zarr', '--overwrite');
    assert.equal(JSON.parse(readFileSync(tmp.file('v2.zarr', '0', '.zarray'), 'utf8')).chunks.join(), '5,16,16');
    assertOk(await runCli(['convert', tmp.file('noisy.tif'), tmp.file('v2.zarr'), '--overwrite']));
    assert.ok(existsSync(tmp.file('v2.zarr', 'zarr.json')), 'replaced by a v3 store');
    assertOk(await runCli(['convert', FIXTURE, tmp.file('c1.tif'), '--channel', '1']));
    assert.deepEqual((await readStackFile(tmp.file('c1.tif'))).shape, [6, 8, 10]);
  });
});
