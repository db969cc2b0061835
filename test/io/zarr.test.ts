import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, mkdirSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { FileSystemStore } from '@zarrita/storage';
import * as zarr from 'zarrita';
import { isZarrPath, openZarr, StackError, ZarrFileWriter } from '../../src/node.js';

const FIXTURE = new URL('../fixtures/zarr/tczyx.ome.zarr', import.meta.url).pathname;
const tmp = mkdtempSync(path.join(tmpdir(), 'srdtrans-zarr-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function ramp(n: number, scale = 1): Uint16Array {
  return Uint16Array.from({ length: n }, (_, i) => (i * scale) % 65536);
}

test('OME-Zarr 0.5 round trip: frames written in uneven pieces come back equal, with partial chunks', async () => {
  const out = path.join(tmp, 'a.zarr');
  const shape = [10, 12, 13] as const;
  const data = ramp(10 * 12 * 13, 7);
  const w = await ZarrFileWriter.create(out, shape, 'uint16', { chunks: [4, 5, 6], scale: { t: 0.5, y: 0.3, x: 0.3, units: { t: 'second', y: 'micrometer', x: 'micrometer' } } });
  const frame = 12 * 13;
  for (const [a, b] of [[0, 3], [3, 4], [4, 9], [9, 10]] as const) await w.writeFrames(data.subarray(a * frame, b * frame));
  assert.ok(!existsSync(out), 'nothing under the output name before close');
  await w.close();
  const meta = JSON.parse(readFileSync(path.join(out, 'zarr.json'), 'utf8'));
  assert.equal(meta.attributes.ome.version, '0.5');
  assert.deepEqual(meta.attributes.ome.multiscales[0].axes.map((a: { name: string }) => a.name), ['t', 'y', 'x']);
  assert.deepEqual(JSON.parse(readFileSync(path.join(out, '0', 'zarr.json'), 'utf8')).dimension_names, ['t', 'y', 'x']);
  const r = await openZarr(out);
  assert.equal(r.info.format, 'OME-Zarr 0.5');
  assert.deepEqual(r.shape, shape);
  assert.equal(r.axes, 'TYX');
  assert.deepEqual(r.info.chunks, [4, 5, 6]);
  assert.deepEqual(r.info.scale, { t: 0.5, y: 0.3, x: 0.3, units: { t: 'second', y: 'micrometer', x: 'micrometer' } });
  assert.deepEqual((await r.readAll()).data, data);
  assert.deepEqual(await r.readFrames(3, 3), data.subarray(3 * frame, 6 * frame));
});

test('OME-Zarr 0.4 (Zarr v2) round trip in float32', async () => {
  const out = path.join(tmp, 'b.zarr');
  const data = Float32Array.from({ length: 5 * 8 * 9 }, (_, i) => Math.sin(i) * 1000);
  const w = await ZarrFileWriter.create(out, [5, 8, 9], 'float32', { format: 2, chunks: [2, 8, 4] });
  await w.writeFrames(data);
  await w.close();
  assert.ok(existsSync(path.join(out, '.zgroup')));
  assert.equal(JSON.parse(readFileSync(path.join(out, '.zattrs'), 'utf8')).multiscales[0].version, '0.4');
  const r = await openZarr(out);
  assert.equal(r.info.format, 'OME-Zarr 0.4');
  assert.equal(r.dtype, 'float32');
  assert.deepEqual((await r.readAll()).data, data);
});

test('a zarr-python OME-Zarr 0.4 image with t, c, z: frames are the (t, z) planes of the chosen channel', async () => {
  const r = await openZarr(FIXTURE, { channel: 1 });
  assert.equal(r.axes, 'TCZYX');
  assert.deepEqual(r.info.sizes, { T: 3, Z: 2, C: 2 });
  assert.deepEqual(r.shape, [6, 8, 10]);
  assert.equal(r.info.scale.t, 3.3);
  assert.equal(r.info.scale.units.y, 'micrometer');
  const frames = await r.readFrames(1, 4);
  for (let f = 1; f < 5; f++) {
    const [t, z] = [Math.floor(f / 2), f % 2];
    for (const [y, x] of [[0, 0], [7, 9], [3, 4]] as const) {
      assert.equal(frames[(f - 1) * 80 + y * 10 + x], 10000 + 1000 * t + 100 * z + 10 * y + x, `frame ${f} (${y}, ${x})`);
    }
  }
  await assert.rejects(openZarr(FIXTURE), (e: unknown) => e instanceof StackError && /2 channels/.test(e.message) && /--channel/.test(e.message));
  await assert.rejects(openZarr(FIXTURE, { channel: 2 }), (e: unknown) => e instanceof StackError && /channel 2 does not exist/.test(e.message));
});

test('over HTTP, reading a frame fetches only the chunks that hold it', async () => {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url!);
    const file = path.join(FIXTURE, decodeURIComponent(req.url!.split('?')[0]!));
    if (!file.startsWith(FIXTURE) || !existsSync(file) || readdirSafe(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as { port: number };
    const url = `http://127.0.0.1:${port}`;
    assert.ok(isZarrPath(url));
    const r = await openZarr(url, { channel: 0 });
    requests.length = 0;
    const frame = await r.readFrames(0, 1);
    assert.equal(frame[7 * 10 + 9], 79);
    // Frame 0 is (t 0, c 0, z 0): the chunks (0, 0, 0, i, j), i, j ∈ {0, 1}, of 2·2·3·2 = 24.
    const chunks = requests.filter((u) => /\/0\/\d+\/\d+\/\d+\/\d+\/\d+$/.test(u));
    assert.deepEqual(chunks.sort(), ['/0/0/0/0/0/0', '/0/0/0/0/0/1', '/0/0/0/0/1/0', '/0/0/0/0/1/1']);
  } finally {
    server.close();
  }
});

function readdirSafe(p: string): boolean {
  try {
    readdirSync(p);
    return true;
  } catch {
    return false;
  }
}

test('bad stores are one clear StackError; an unfinished or aborted output leaves nothing under its name', async () => {
  const empty = path.join(tmp, 'empty.zarr');
  mkdirSync(empty);
  await assert.rejects(openZarr(empty), (e: unknown) => e instanceof StackError && /not a Zarr store/.test(e.message));
  await assert.rejects(openZarr(path.join(tmp, 'missing.zarr')), (e: unknown) => e instanceof StackError && /missing\.zarr/.test(e.message));
  const f64 = path.join(tmp, 'f64.zarr');
  mkdirSync(f64);
  await zarr.create(zarr.root(new FileSystemStore(f64)), { shape: [2, 4, 4], chunkShape: [2, 4, 4], dtype: 'float64', dimensionNames: ['t', 'y', 'x'] });
  await assert.rejects(openZarr(f64), (e: unknown) => e instanceof StackError && /float64 is not supported/.test(e.message));
  const short = path.join(tmp, 'short.zarr');
  const w = await ZarrFileWriter.create(short, [4, 4, 4], 'uint16');
  await w.writeFrames(ramp(2 * 16));
  await assert.rejects(w.close(), /2 of its 4 frames/);
  await w.abort();
  assert.ok(!existsSync(short));
  assert.deepEqual(readdirSync(tmp).filter((n) => n.includes('partial')), []);
});
