import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { fromFile } from 'geotiff';
import { openStack, readStack, type StackArray, type StackDType, StackError } from '../../src/node.js';
import {
  buildTiff, bytesEqual, deflateEncode, floatPredictorEncode, horizontalDiff, lzwEncode, packBitsEncode, pattern,
  simpleStack, strips, tempDir, tiffType, tiles, toFileOrder, zstdRawFrame, type PageSpec,
} from './tiff-helpers.js';

const tmp = tempDir();
after(tmp.cleanup);

function save(name: string, bytes: Uint8Array): string {
  const f = tmp.file(name);
  writeFileSync(f, bytes);
  return f;
}

function isStackError(...parts: string[]): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof StackError, `expected StackError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), `message is not one line: ${e.message}`);
    for (const p of parts) assert.ok(e.message.includes(p), `message lacks "${p}": ${e.message}`);
    return true;
  };
}

/** Pages of t frames (h×w), each encoded by `encode(frame) → blocks`. */
function encodedStack(data: StackArray, dtype: StackDType, t: number, h: number, w: number, page: Omit<PageSpec, 'width' | 'height' | 'blocks'>, encode: (frame: StackArray) => Uint8Array[], le = true, big = false): Uint8Array {
  const pages: PageSpec[] = [];
  for (let k = 0; k < t; k++) {
    pages.push({ width: w, height: h, ...tiffType(dtype), ...page, blocks: encode(data.subarray(k * h * w, (k + 1) * h * w)) });
  }
  return buildTiff(pages, { le, big });
}

describe('TIFF reader: byte order, layout, compression', () => {
  for (const big of [false, true]) {
    it(`big-endian ${big ? 'BigTIFF' : 'classic'} files read correctly for every dtype`, async () => {
      for (const dtype of ['uint8', 'uint16', 'int16', 'uint32', 'int32', 'float32'] as StackDType[]) {
        const [t, h, w] = [3, 5, 7];
        const data = pattern(dtype, t * h * w, 11);
        const f = save(`be-${dtype}-${big}.tif`, simpleStack(data, dtype, t, h, w, { le: false, big }));
        const s = await readStack(f);
        assert.equal(s.info.littleEndian, false);
        assert.equal(s.info.bigTiff, big);
        assert.ok(bytesEqual(s.data, data), dtype);
      }
    });
  }

  it('scattered strips (several rows each, stored in reverse order) and tiles with ragged edges', async () => {
    const [t, h, w] = [2, 10, 9];
    const data = pattern('uint16', t * h * w, 5);
    const f1 = save('strips.tif', encodedStack(data, 'uint16', t, h, w, { rowsPerStrip: 3, reverseBlocks: true }, (fr) => strips(toFileOrder(fr, false), w * 2, 3), false));
    assert.ok(bytesEqual((await readStack(f1)).data, data));
    const [th, tw] = [16, 16];
    const big = pattern('float32', t * 20 * 37, 6);
    const f2 = save('tiles.tif', encodedStack(big, 'float32', t, 20, 37, { tile: [tw, th] }, (fr) => tiles(fr, 20, 37, tw, th, true)));
    assert.ok(bytesEqual((await readStack(f2)).data, big));
    const f3 = save('tiles-deflate.tif', encodedStack(big, 'float32', t, 20, 37, { tile: [tw, th], compression: 8 }, (fr) => tiles(fr, 20, 37, tw, th, false).map(deflateEncode), false));
    assert.ok(bytesEqual((await readStack(f3)).data, big));
  });

  it('PackBits, deflate, Adobe deflate and zstd strips decode', async () => {
    const [t, h, w] = [3, 8, 13];
    for (const dtype of ['uint8', 'int16', 'float32'] as StackDType[]) {
      const data = pattern(dtype, t * h * w, 21);
      const cases: [string, number, (b: Uint8Array) => Uint8Array][] = [
        ['packbits', 32773, packBitsEncode], ['deflate', 8, deflateEncode], ['adobe', 32946, deflateEncode], ['zstd', 50000, zstdRawFrame],
      ];
      for (const [name, code, enc] of cases) {
        for (const le of [true, false]) {
          const f = save(`${name}-${dtype}-${le}.tif`, encodedStack(data, dtype, t, h, w, { compression: code, rowsPerStrip: 3 }, (fr) => strips(toFileOrder(fr, le), w * fr.BYTES_PER_ELEMENT, 3).map(enc), le));
          const s = await readStack(f);
          assert.ok(bytesEqual(s.data, data), `${name} ${dtype} le=${le}`);
        }
      }
    }
  });

  it('LZW (with dictionary resets) decodes, and agrees with geotiff on the same file', async () => {
    const [t, h, w] = [2, 64, 96];
    const data = pattern('uint16', t * h * w, 77); // ≈ 12 k bytes a page: many 12-bit codes and a clear
    const f = save('lzw.tif', encodedStack(data, 'uint16', t, h, w, { compression: 5 }, (fr) => [lzwEncode(toFileOrder(fr, true))]));
    const s = await readStack(f);
    assert.ok(bytesEqual(s.data, data));
    const tiff = await fromFile(f);
    const r = (await (await tiff.getImage(1)).readRasters({ interleave: true })) as unknown as Uint16Array;
    assert.ok(bytesEqual(r, data.subarray(h * w)));
    await tiff.close();
    // Smooth data: long strings.
    const smooth = new Uint8Array(t * h * w).map((_, i) => (i >> 6) & 0xff);
    const f2 = save('lzw-smooth.tif', encodedStack(smooth, 'uint8', t, h, w, { compression: 5, rowsPerStrip: 7 }, (fr) => strips(toFileOrder(fr, true), w, 7).map(lzwEncode)));
    assert.ok(bytesEqual((await readStack(f2)).data, smooth));
  });

  it('horizontal (2) and floating-point (3) predictors are undone', async () => {
    const [t, h, w] = [2, 6, 11];
    for (const le of [true, false]) {
      const u16 = pattern('uint16', t * h * w, 3);
      const f = save(`pred2-${le}.tif`, encodedStack(u16, 'uint16', t, h, w, { compression: 8, predictor: 2 }, (fr) => [deflateEncode(toFileOrder(horizontalDiff(fr, w), le))], le));
      assert.ok(bytesEqual((await readStack(f)).data, u16), `predictor 2 le=${le}`);
      const i32 = pattern('int32', t * h * w, 4);
      const f2 = save(`pred2i-${le}.tif`, encodedStack(i32, 'int32', t, h, w, { compression: 5, predictor: 2 }, (fr) => [lzwEncode(toFileOrder(horizontalDiff(fr, w), le))], le));
      assert.ok(bytesEqual((await readStack(f2)).data, i32), `predictor 2 int32 le=${le}`);
      const f32 = pattern('float32', t * h * w, 5) as Float32Array;
      const f3 = save(`pred3-${le}.tif`, encodedStack(f32, 'float32', t, h, w, { compression: 8, predictor: 3 }, (fr) => [deflateEncode(floatPredictorEncode(fr as Float32Array, w))], le));
      assert.ok(bytesEqual((await readStack(f3)).data, f32), `predictor 3 le=${le}`);
    }
  });

  it('unsupported pixel types and compressions give a StackError saying what to do', async () => {
    const page = (extra: Partial<PageSpec>): PageSpec => ({ width: 2, height: 2, bits: 16, blocks: [new Uint8Array(8)], ...extra });
    const f64 = save('f64.tif', buildTiff([page({ bits: 64, sampleFormat: 3, blocks: [new Uint8Array(32)] })]));
    await assert.rejects(readStack(f64), isStackError('f64.tif', '64-bit floating point', 'Image > Type'));
    const i8 = save('i8.tif', buildTiff([page({ bits: 8, sampleFormat: 2, blocks: [new Uint8Array(4)] })]));
    await assert.rejects(readStack(i8), isStackError('i8.tif', '8-bit signed'));
    const jpeg = save('jpeg.tif', buildTiff([page({ compression: 7 })]));
    await assert.rejects(readStack(jpeg), isStackError('jpeg.tif', 'JPEG compression'));
  });

  it('pages of different size or type give a StackError naming the first mismatching page', async () => {
    const ok = (): PageSpec => ({ width: 4, height: 3, bits: 16, blocks: [new Uint8Array(24)] });
    const f = save('mixed.tif', buildTiff([ok(), ok(), { width: 5, height: 3, bits: 16, blocks: [new Uint8Array(30)] }, ok()]));
    await assert.rejects(readStack(f), isStackError('mixed.tif', 'page 3 is 5×3'));
    const g = save('mixed-type.tif', buildTiff([ok(), { width: 4, height: 3, bits: 8, blocks: [new Uint8Array(12)] }]));
    await assert.rejects(readStack(g), isStackError('mixed-type.tif', 'page 2'));
  });

  it('RGB gives a StackError saying RGB is not supported and to save a single channel as grayscale', async () => {
    const f = save('rgb.tif', buildTiff([{ width: 2, height: 2, bits: 8, samples: 3, photometric: 2, blocks: [new Uint8Array(12)] }]));
    await assert.rejects(readStack(f), isStackError('rgb.tif', 'RGB', 'single channel as grayscale'));
  });
});

describe('TIFF reader: axes (ImageJ, OME)', () => {
  const [h, w] = [3, 4];
  const px = h * w;
  /** n pages where every pixel of page i equals i. */
  const numbered = (n: number): Uint16Array => new Uint16Array(n * px).map((_, i) => Math.floor(i / px));

  it('ImageJ hyperstack: axes, multi-channel error, --channel selection', async () => {
    const [C, Z, T] = [2, 3, 4];
    const n = C * Z * T;
    const desc = `ImageJ=1.54f\nimages=${n}\nchannels=${C}\nslices=${Z}\nframes=${T}\nhyperstack=true\nmode=composite\n`;
    const f = save('ij-tzc.tif', simpleStack(numbered(n), 'uint16', n, h, w, { description: desc, le: false }));
    await assert.rejects(readStack(f), isStackError('ij-tzc.tif', 'TZCYX', '--channel N', '0 to 1'));
    const r = await openStack(f, { channel: 1 });
    assert.equal(r.axes, 'TZCYX');
    assert.deepEqual(r.info.sizes, { T, Z, C });
    assert.equal(r.info.format, 'imagej');
    assert.deepEqual(r.shape, [T * Z, h, w]);
    const frames = await r.readFrames(0, T * Z);
    await r.close();
    // ImageJ order: channel fastest → channel 1 is pages 1, 3, 5, …
    for (let k = 0; k < T * Z; k++) assert.equal(frames[k * px], 2 * k + 1);
    await assert.rejects(openStack(f, { channel: 2 }), isStackError('ij-tzc.tif', 'channel 2', '0 to 1'));
  });

  it('ImageJ z-and-t stacks read all frames in file order; slices-only stacks are ZYX', async () => {
    const f = save('ij-tz.tif', simpleStack(numbered(6), 'uint16', 6, h, w, { description: 'ImageJ=1.54f\nimages=6\nslices=2\nframes=3\n' }));
    const s = await readStack(f);
    assert.equal(s.axes, 'TZYX');
    assert.deepEqual(s.shape, [6, h, w]);
    for (let k = 0; k < 6; k++) assert.equal(s.data[k * px], k);
    const g = save('ij-z.tif', simpleStack(numbered(5), 'uint16', 5, h, w, { description: 'ImageJ=1.54f\nimages=5\n' }));
    assert.equal((await readStack(g)).axes, 'ZYX');
    const one = save('ij-1.tif', simpleStack(numbered(1), 'uint16', 1, h, w, { description: 'ImageJ=1.54f\n' }));
    assert.equal((await readStack(one)).axes, 'YX');
  });

  it('ImageJ "raw" stacks (only the first directory, images back to back) read every image', async () => {
    const n = 5;
    const data = numbered(n);
    // One page whose strip holds image 0, followed directly by images 1…4.
    const page: PageSpec = { width: w, height: h, bits: 16, blocks: [toFileOrder(data, false)], description: `ImageJ=1.54f\nimages=${n}\nframes=${n}\n`,
      extra: [{ tag: 279, type: 4, values: [px * 2] }] };
    const f = save('ij-raw.tif', buildTiff([page], { le: false }));
    const s = await readStack(f);
    assert.equal(s.info.pages, n);
    assert.equal(s.axes, 'TYX');
    assert.ok(bytesEqual(s.data, data));
    // The same, cut short: the metadata promises more images than the file holds.
    const cut = { ...page, blocks: [toFileOrder(data.subarray(0, 3 * px), false)] };
    const g = save('ij-raw-cut.tif', buildTiff([cut], { le: false }));
    await assert.rejects(readStack(g), isStackError('ij-raw-cut.tif', 'truncated'));
  });

  const ome = (order: string, z: number, c: number, t: number, extra = ''): string =>
    `<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06"><Image ID="Image:0"><Pixels ID="Pixels:0" DimensionOrder="${order}" Type="uint16" SizeX="${w}" SizeY="${h}" SizeZ="${z}" SizeC="${c}" SizeT="${t}"><Channel ID="Channel:0:0" SamplesPerPixel="1"/>${extra}</Pixels></Image></OME>`;

  it('OME-TIFF: axes from DimensionOrder, channel selection follows the order', async () => {
    const [Z, C, T] = [2, 3, 2];
    const n = Z * C * T;
    const f = save('ome.ome.tif', simpleStack(numbered(n), 'uint16', n, h, w, { description: ome('XYZCT', Z, C, T) }));
    await assert.rejects(readStack(f), isStackError('ome.ome.tif', 'TCZYX', '--channel'));
    const s = await readStack(f, { channel: 2 });
    assert.equal(s.info.format, 'ome');
    assert.equal(s.axes, 'TCZYX');
    // XYZCT: page = z + Z·(c + C·t) → channel 2: pages 4, 5, 10, 11.
    assert.deepEqual([0, 1, 2, 3].map((k) => s.data[k * px]), [4, 5, 10, 11]);
    const g = save('ome-t.ome.tif', simpleStack(numbered(4), 'uint16', 4, h, w, { description: ome('XYCZT', 1, 1, 4) }));
    assert.equal((await readStack(g)).axes, 'TYX');
    const zt = save('ome-zt.ome.tif', simpleStack(numbered(6), 'uint16', 6, h, w, { description: ome('XYTZC', 2, 1, 3) }));
    assert.equal((await readStack(zt)).axes, 'ZTYX');
  });

  it('OME-TIFF that is one file of a multi-file dataset gives a StackError', async () => {
    const desc = ome('XYZCT', 1, 1, 10, '<TiffData IFD="0"><UUID FileName="other.ome.tif">urn:uuid:1</UUID></TiffData>');
    const f = save('part.ome.tif', simpleStack(numbered(4), 'uint16', 4, h, w, { description: desc }));
    await assert.rejects(readStack(f), isStackError('part.ome.tif', 'multi-file'));
  });

  it('a plain multi-page file is TYX; a one-page file is YX', async () => {
    const f = save('plain.tif', simpleStack(numbered(3), 'uint16', 3, h, w));
    const s = await readStack(f);
    assert.equal(s.axes, 'TYX');
    assert.equal(s.info.format, 'plain');
    assert.equal((await readStack(f, { channel: 0 })).shape[0], 3);
    await assert.rejects(readStack(f, { channel: 1 }), isStackError('plain.tif', 'single channel'));
  });

  it('metadata that does not match the page count: channels → error, otherwise pages as frames', async () => {
    const f = save('ij-bad.tif', simpleStack(numbered(5), 'uint16', 5, h, w, { description: 'ImageJ=1.54f\nimages=8\nchannels=2\nframes=4\n' }));
    await assert.rejects(readStack(f), isStackError('ij-bad.tif', 'TCYX', '5 pages'));
    const g = save('ij-bad-z.tif', simpleStack(numbered(5), 'uint16', 5, h, w, { description: 'ImageJ=1.54f\nimages=8\nslices=8\n' }));
    const s = await readStack(g);
    assert.equal(s.axes, 'TYX');
    assert.equal(s.shape[0], 5);
  });
});
