import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { latestEpochFile } from '../../src/node.js';

test('latestEpochFile picks the highest epoch number, also past 999', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'srdtrans-epochs-'));
  try {
    for (const name of ['epoch-002.safetensors', 'epoch-999.safetensors', 'epoch-1000.safetensors', 'epoch-010.safetensors', 'resume.safetensors']) {
      await writeFile(path.join(dir, name), '');
    }
    assert.equal(path.basename(await latestEpochFile(dir)), 'epoch-1000.safetensors');
  } finally {
    await rm(dir, { recursive: true });
  }
});

test('latestEpochFile: a folder without epochs says what to do', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'srdtrans-epochs-'));
  try {
    await assert.rejects(latestEpochFile(dir), /holds no epoch checkpoint yet/);
  } finally {
    await rm(dir, { recursive: true });
  }
});
