/**
 * Training patches read on demand from OME-Zarr are the patches of the stack loaded whole, to the
 * last bit (mean included), and reading one touches only the chunks under it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, it } from 'node:test';
import { FileSystemStore } from '@zarrita/storage';
import { lazyPatchSource, memoryPatchSource, ZarrFileWriter, ZarrStackReader, type Stack } from '../../src/node.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'srdtrans-patches-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const shape = [10, 12, 14] as const;

async function store(name: string, data: Float32Array): Promise<{ reader: ZarrStackReader; keys: string[] }> {
  const out = path.join(tmp, name);
  const w = await ZarrFileWriter.create(out, shape, 'float32', { chunks: [4, 6, 7] });
  await w.writeFrames(data);
  await w.close();
  const files = new FileSystemStore(out);
  const keys: string[] = [];
  const counting = { get: (key: `/${string}`, opts?: Parameters<FileSystemStore['get']>[1]) => (keys.push(key), files.get(key, opts)) };
  return { reader: await ZarrStackReader.open(counting, name), keys };
}

function noisyRamp(n: number): Float32Array {
  // Values whose float32 sums depend on the order of summation, so a different blocking shows.
  return Float32Array.from({ length: n }, (_, i) => 100 + 37.3 * Math.sin(i * 0.7) + i * 1e-3);
}

it('patches and the training mean equal the whole stack\'s, for any scale and frame limit', async () => {
  const data = noisyRamp(shape[0] * shape[1] * shape[2]);
  const stack: Stack = { data, shape, dtype: 'float32' };
  const { reader } = await store('a.zarr', data);
  const lazy = lazyPatchSource(reader, 'a.zarr');
  const whole = memoryPatchSource(stack);
  assert.deepEqual(lazy.shape, shape);
  for (const scale of [1, 3.7]) {
    const mean = await whole.trainingMean(scale);
    assert.ok(Object.is(await lazy.trainingMean(scale), mean), `mean at scale ${scale}`);
    for (const [origin, size] of [[{ t: 0, y: 0, x: 0 }, { t: 4, h: 6, w: 6 }], [{ t: 3, y: 5, x: 6 }, { t: 7, h: 6, w: 8 }]] as const) {
      assert.deepEqual(await lazy.patch(origin, size, scale, mean), await whole.patch(origin, size, scale, mean));
    }
  }
  const first6 = lazyPatchSource(reader, 'a.zarr', 6);
  assert.deepEqual(first6.shape, [6, 12, 14]);
  const frame = shape[1] * shape[2];
  const head = memoryPatchSource({ data: data.subarray(0, 6 * frame), shape: [6, 12, 14], dtype: 'float32' });
  assert.ok(Object.is(await first6.trainingMean(1), await head.trainingMean(1)));
});

it('a patch reads only the chunks under it', async () => {
  const { reader, keys } = await store('b.zarr', noisyRamp(shape[0] * shape[1] * shape[2]));
  const source = lazyPatchSource(reader, 'b.zarr');
  keys.length = 0;
  // Frames 4..7, rows 6..11, columns 7..13: chunk (1, 1, 1) alone of 3·2·2.
  await source.patch({ t: 4, y: 6, x: 7 }, { t: 4, h: 6, w: 7 }, 1, 0);
  assert.deepEqual(keys.filter((k) => k.includes('/c/')), ['/0/c/1/1/1']);
});

it('a non-finite pixel is refused when the mean is taken, with its frame', async () => {
  const data = noisyRamp(shape[0] * shape[1] * shape[2]);
  data[7 * shape[1] * shape[2] + 3] = NaN;
  const { reader } = await store('c.zarr', data);
  await assert.rejects(lazyPatchSource(reader, 'c.zarr').trainingMean(1), /c\.zarr: frame 7 \(counting from 0\) holds NaN at y=0, x=3/);
});
