/**
 * The WebGPU launch shapes kept per adapter: checked when read, one entry per adapter, and the
 * defaults where there is none.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { DEFAULT_WEBGPU_TUNING, webGpuTuning } from '../../src/engine/kernels/webgpu-tuning.js';
import { readWebGpuTuning, writeWebGpuTuning } from '../../src/engine/webgpu-tuning-file.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../cli/cli-helpers.js';

const tmp = tempDir('srdtrans-tuning-');
after(tmp.cleanup);

test('a tuning: missing fields take the defaults; bad ones are refused by name', () => {
  assert.deepEqual(webGpuTuning({ convRows: 2 }, 'f'), { ...DEFAULT_WEBGPU_TUNING, convRows: 2 });
  assert.throws(() => webGpuTuning({ convRows: 3 }, 'f.json'), (e: unknown) => e instanceof ConfigError && /f\.json: convRows must be 1, 2 or 4/.test(e.message));
  assert.throws(() => webGpuTuning({ minThreads: 0 }, 'f'), /minThreads must be a positive integer/);
  assert.throws(() => webGpuTuning({ tile: 4 }, 'f'), /unknown WebGPU tuning field 'tile'/);
  assert.throws(() => webGpuTuning([], 'f'), /JSON object/);
});

test('kept per adapter: written, read back, other adapters untouched; none where never tuned', async () => {
  const file = tmp.file('tuning.json');
  assert.equal(await readWebGpuTuning('nvidia H100', file), undefined, 'no file: no tuning');
  const h100 = { ...DEFAULT_WEBGPU_TUNING, convRows: 2 as const, targetWorkgroups: 4096 };
  const m2 = { ...DEFAULT_WEBGPU_TUNING, convQuads: 2 as const };
  await writeWebGpuTuning('nvidia H100', h100, file);
  await writeWebGpuTuning('apple M2', m2, file);
  assert.deepEqual(await readWebGpuTuning('nvidia H100', file), h100);
  assert.deepEqual(await readWebGpuTuning('apple M2', file), m2);
  assert.equal(await readWebGpuTuning('intel arc', file), undefined);
});

test('a damaged file is one clear error, not a stack trace', async () => {
  const file = tmp.file('broken.json');
  writeFileSync(file, '{ "adapters": ');
  await assert.rejects(readWebGpuTuning('x', file), (e: unknown) => e instanceof ConfigError && e.message.includes('broken.json: not JSON'));
  writeFileSync(file, JSON.stringify({ adapters: { x: { convQuads: 8 } } }));
  await assert.rejects(readWebGpuTuning('x', file), /broken\.json \(x\): convQuads must be 1, 2 or 4/);
});
