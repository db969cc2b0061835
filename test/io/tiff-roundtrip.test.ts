import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { fromFile } from 'geotiff';
import { encodeTiff, TiffStreamEncoder } from '../../src/index.js';
import { openStack, planTiff, readStack, type StackDType, StackError, TiffStackWriter, writeStack } from '../../src/node.js';
import { bytesEqual, pattern, tempDir } from './tiff-helpers.js';

const DTYPES: StackDType[] = ['uint8', 'uint16', 'int16', 'uint32', 'int32', 'float32'];
const SHAPES: [number, number, number][] = [[1, 1, 1], [1, 7, 5], [13, 9, 31]];
const tmp = tempDir();
after(tmp.cleanup);

describe('TIFF round trip', () => {
  for (const dtype of DTYPES) {
    for (const big of [false, true]) {
      it(`${dtype} ${big ? 'BigTIFF' : 'classic'}: every shape reads back bit-exact`, async () => {
        for (const shape of SHAPES) {
          const [t, h, w] = shape;
          const data = pattern(dtype, t * h * w, t * 31 + w);
          const file = tmp.file(`rt-${dtype}-${big}-${t}x${h}x${w}.tif`);
          await writeStack(file, { data, shape, dtype }, { bigTiff: big });
          const s = await readStack(file);
          assert.equal(s.dtype, dtype);
          assert.deepEqual(s.shape, shape);
          assert.ok(bytesEqual(s.data, data), `pixels differ for ${shape}`);
          assert.equal(s.info.bigTiff, big);
          assert.equal(s.axes, t > 1 ? 'TYX' : 'YX');
          const imagej = !big && (dtype === 'uint8' || dtype === 'uint16' || dtype === 'float32');
          assert.equal(s.info.format, imagej ? 'imagej' : 'plain');
        }
      });
    }
  }

  it('writes an ImageJ hyperstack description Fiji understands (classic uint8/uint16/float32 only)', async () => {
    const file = tmp.file('ij.tif');
    await writeStack(file, { data: pattern('uint16', 4 * 6 * 5), shape: [4, 6, 5], dtype: 'uint16' });
    const text = readFileSync(file).toString('latin1');
    assert.ok(text.startsWith('II*\0'));
    assert.ok(text.includes('ImageJ=1.11a\nimages=4\nframes=4\nhyperstack=true\nloop=false\n\0'));
    const file2 = tmp.file('plain.tif');
    await writeStack(file2, { data: pattern('int16', 4 * 6 * 5), shape: [4, 6, 5], dtype: 'int16' });
    const text2 = readFileSync(file2).toString('latin1');
    assert.ok(!text2.includes('ImageJ='));
    assert.ok(text2.includes('{"shape": [4, 6, 5]}'));
    const file3 = tmp.file('slices.tif');
    await writeStack(file3, { data: pattern('uint8', 3 * 2 * 2), shape: [3, 2, 2], dtype: 'uint8' }, { frameAxis: 'Z' });
    assert.equal((await readStack(file3)).axes, 'ZYX');
  });

  it('our files are readable by an independent reader (geotiff), classic and BigTIFF', async () => {
    for (const big of [false, true]) {
      const [t, h, w] = [5, 11, 13];
      const data = pattern('float32', t * h * w, 7);
      const file = tmp.file(`geo-${big}.tif`);
      await writeStack(file, { data, shape: [t, h, w], dtype: 'float32' }, { bigTiff: big });
      const tiff = await fromFile(file);
      assert.equal(await tiff.getImageCount(), t);
      for (const k of [0, t - 1]) {
        const img = await tiff.getImage(k);
        const r = (await img.readRasters({ interleave: true })) as unknown as Float32Array;
        assert.ok(bytesEqual(r, data.subarray(k * h * w, (k + 1) * h * w)), `frame ${k}`);
      }
      await tiff.close();
    }
  });

  it('readFrames reads a sub-range, into a given buffer too, and rejects a range outside the stack', async () => {
    const [t, h, w] = [10, 4, 3];
    const data = pattern('uint16', t * h * w, 3);
    const file = tmp.file('range.tif');
    await writeStack(file, { data, shape: [t, h, w], dtype: 'uint16' });
    const r = await openStack(file);
    try {
      assert.deepEqual(r.shape, [t, h, w]);
      const f = await r.readFrames(3, 4);
      assert.ok(bytesEqual(f, data.subarray(3 * h * w, 7 * h * w)));
      const into = new Uint16Array(2 * h * w);
      const g = await r.readFrames(8, 2, into);
      assert.equal(g, into);
      assert.ok(bytesEqual(into, data.subarray(8 * h * w)));
      assert.equal((await r.readFrames(5, 0)).length, 0);
      await assert.rejects(r.readFrames(8, 3), (e: unknown) => e instanceof StackError && e.message.includes('range.tif'));
      await assert.rejects(r.readFrames(0, 1, new Float32Array(h * w)), StackError);
    } finally {
      await r.close();
    }
  });

  it('streams frames in append order; the final name appears only at close', async () => {
    const [t, h, w] = [6, 5, 7];
    const data = pattern('int32', t * h * w, 9);
    const file = tmp.file('stream.tif');
    const wr = await TiffStackWriter.create(file, [t, h, w], 'int32');
    assert.ok(!existsSync(file));
    assert.ok(existsSync(wr.tempPath));
    assert.equal(wr.tempPath, tmp.file(`.stream.tif.partial-${process.pid}`));
    // Overlapping calls (not awaited one by one) still land in call order.
    const pending = [];
    for (let k = 0; k < t - 2; k++) pending.push(wr.writeFrame(data.subarray(k * h * w, (k + 1) * h * w)));
    pending.push(wr.writeFrames(data.subarray((t - 2) * h * w)));
    await Promise.all(pending);
    assert.ok(!existsSync(file));
    await wr.close();
    assert.ok(existsSync(file));
    assert.ok(!existsSync(wr.tempPath));
    assert.ok(bytesEqual((await readStack(file)).data, data));
    await assert.rejects(wr.writeFrame(data.subarray(0, h * w)), StackError);
    await wr.abort(); // no-op after a successful close
    assert.ok(existsSync(file));
  });

  it('TiffStreamEncoder puts the bytes of the file TiffStackWriter writes where writeAt says, frame by frame', async () => {
    for (const big of [false, true]) {
      const [t, h, w] = [5, 3, 4];
      const data = pattern('uint16', t * h * w, 7);
      const file = tmp.file(`stream-${big}.tif`);
      await writeStack(file, { data, shape: [t, h, w], dtype: 'uint16' }, { bigTiff: big });
      const parts: Uint8Array[] = [];
      const out = new Uint8Array(planTiff(file, [t, h, w], 'uint16', { bigTiff: big }).fileBytes);
      const stream = new TiffStreamEncoder(file, [t, h, w], 'uint16', (bytes, offset) => {
        parts.push(bytes);
        out.set(bytes, offset);
      }, { bigTiff: big });
      for (let k = 0; k < t; k++) stream.writeFrames(data.subarray(k * h * w, (k + 1) * h * w));
      assert.throws(() => stream.writeFrames(data.subarray(0, h * w)), /6 frames were given to a stack of 5 frames/);
      stream.finish();
      assert.ok(parts.length > t, 'written in parts, not one block');
      assert.ok(bytesEqual(out, readFileSync(file)), `BigTIFF ${big}: the streamed bytes differ from the file's`);
      assert.ok(bytesEqual(out, encodeTiff({ data, shape: [t, h, w], dtype: 'uint16' }, { bigTiff: big })));
    }
  });

  it('abort() and a close() with missing frames leave no file behind', async () => {
    const sub = tempDir();
    try {
      const file = sub.file('a.tif');
      const w1 = await TiffStackWriter.create(file, [3, 2, 2], 'uint8');
      await w1.writeFrame(new Uint8Array(4));
      await w1.abort();
      await w1.abort();
      assert.deepEqual(readdirSync(sub.dir), []);

      const w2 = await TiffStackWriter.create(file, [3, 2, 2], 'uint8');
      await w2.writeFrame(new Uint8Array(4));
      await assert.rejects(w2.close(), (e: unknown) => e instanceof StackError && e.message.includes('a.tif') && e.message.includes('1 of 3'));
      assert.deepEqual(readdirSync(sub.dir), []);

      const w3 = await TiffStackWriter.create(file, [1, 2, 2], 'uint8');
      await assert.rejects(w3.writeFrame(new Uint16Array(4)), StackError);
      await assert.rejects(w3.writeFrame(new Uint8Array(3)), StackError);
      await assert.rejects(w3.writeFrames(new Uint8Array(8)), StackError);
      await w3.abort();
      assert.deepEqual(readdirSync(sub.dir), []);
    } finally {
      sub.cleanup();
    }
  });

  it('an unwritable output path fails at creation, naming the path', async () => {
    const missing = tmp.file('no-such-folder/out.tif');
    await assert.rejects(TiffStackWriter.create(missing, [1, 2, 2], 'uint8'), (e: unknown) =>
      e instanceof StackError && e.message.includes(missing) && e.message.includes('does not exist') && !e.message.includes('\n'));
    await assert.rejects(TiffStackWriter.create(tmp.dir, [1, 2, 2], 'uint8'), (e: unknown) =>
      e instanceof StackError && e.message.includes(tmp.dir) && e.message.includes('folder'));
    await assert.rejects(TiffStackWriter.create(tmp.file('zero.tif'), [0, 2, 2], 'uint8'), StackError);
  });

  it('chooses BigTIFF only when the file would pass 4 GiB (and can be forced or forbidden)', () => {
    assert.equal(planTiff('x.tif', [100, 512, 512], 'uint16').bigTiff, false);
    const huge = planTiff('x.tif', [20000, 512, 512], 'uint16');
    assert.equal(huge.bigTiff, true);
    assert.equal(huge.imagej, false);
    assert.ok(huge.fileBytes > 2 ** 32);
    assert.equal(planTiff('x.tif', [2, 4, 4], 'uint8', { bigTiff: true }).bigTiff, true);
    assert.throws(() => planTiff('x.tif', [20000, 512, 512], 'uint16', { bigTiff: false }), (e: unknown) =>
      e instanceof StackError && e.message.includes('x.tif') && e.message.includes('4 GiB'));
    // Edge: pixels just under 4 GiB, but the page directories push the file over → BigTIFF.
    const p = planTiff('x.tif', [16383, 512, 256], 'uint16');
    assert.ok(16383 * 512 * 256 * 2 < 2 ** 32);
    assert.equal(p.bigTiff, true);
    const q = planTiff('x.tif', [16300, 512, 256], 'uint16');
    assert.equal(q.bigTiff, false);
    assert.ok(q.fileBytes <= 2 ** 32 - 1);
  });
});
