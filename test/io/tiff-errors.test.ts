import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { openStack, readStack, readStackInfo, StackError, TiffStackWriter, writeStack } from '../../src/node.js';
import { buildTiff, lzwEncode, pattern, simpleStack, tempDir } from './tiff-helpers.js';

const tmp = tempDir();
after(tmp.cleanup);

function save(name: string, bytes: Uint8Array | string): string {
  const f = tmp.file(name);
  writeFileSync(f, bytes);
  return f;
}

/** A StackError whose one-line message names the file and contains every part; no raw library text. */
function userError(file: string, ...parts: string[]): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof StackError, `expected StackError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    assert.ok(!/[\r\n]/.test(e.message), `message is not one line: ${e.message}`);
    assert.ok(e.message.includes(file), `message does not name ${file}: ${e.message}`);
    for (const p of parts) assert.ok(e.message.includes(p), `message lacks "${p}": ${e.message}`);
    assert.ok(!/ENOENT|EISDIR|errno|at .*\(/.test(e.message), `raw system text leaked: ${e.message}`);
    return true;
  };
}

/** A valid 4-frame uint16 stack (8×8), its IFDs after the data of each page. */
function goodStack(): Uint8Array {
  return simpleStack(pattern('uint16', 4 * 64), 'uint16', 4, 8, 8);
}

describe('TIFF reader: bad input', () => {
  it('missing file', async () => {
    const f = tmp.file('does-not-exist.tif');
    await assert.rejects(readStack(f), userError('does-not-exist.tif', 'does not exist'));
    await assert.rejects(readStackInfo(f), userError('does-not-exist.tif'));
  });

  it('zero-byte file', async () => {
    const f = save('empty.tif', new Uint8Array(0));
    await assert.rejects(readStack(f), userError('empty.tif', 'empty (0 bytes)'));
  });

  it('a folder named .tif', async () => {
    const d = tmp.file('folder.tif');
    mkdirSync(d);
    await assert.rejects(readStack(d), userError('folder.tif', 'folder'));
  });

  it('non-TIFF files named .tif (PNG, text, a few bytes, a TIFF-like header with a wrong version)', async () => {
    const png = save('picture.tif', Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
    await assert.rejects(readStack(png), userError('picture.tif', 'not a TIFF', 'PNG', 'Save the stack as TIFF'));
    const txt = save('notes.tif', 'hello, this is text\n');
    await assert.rejects(readStack(txt), userError('notes.tif', 'not a TIFF'));
    const one = save('one-byte.tif', new Uint8Array([0x49]));
    await assert.rejects(readStack(one), userError('one-byte.tif', 'not a TIFF'));
    const ver = save('version.tif', Buffer.from('49492b0108000000', 'hex'));
    await assert.rejects(readStack(ver), userError('version.tif', 'not a TIFF'));
    const hdr = save('header-only.tif', Buffer.from('4949', 'hex'));
    await assert.rejects(readStack(hdr), userError('header-only.tif', 'truncated'));
  });

  it('truncated TIFF: first IFD beyond the end, a later IFD cut off, strip data cut off', async () => {
    const good = goodStack();
    // Header pointing past the end.
    const hdr = Buffer.from('49492a0000100000', 'hex');
    const f0 = save('ifd-beyond.tif', hdr);
    await assert.rejects(readStack(f0), userError('ifd-beyond.tif', 'truncated'));
    // Cut inside the last page's IFD (at the very end of the file).
    const f1 = save('cut-ifd.tif', good.subarray(0, good.length - 20));
    await assert.rejects(readStack(f1), userError('cut-ifd.tif', 'truncated', 'page 4'));
    // A file whose strip points beyond the end: keep the IFDs, drop data by building a lying offset.
    const lying = buildTiff([{ width: 8, height: 8, bits: 16, blocks: [new Uint8Array(128)], extra: [{ tag: 273, type: 4, values: [1 << 20] }] }]);
    const f2 = save('strip-beyond.tif', lying);
    await assert.rejects(readStack(f2), userError('strip-beyond.tif', 'truncated', 'page 1'));
    // Truncation detected at open, before any pixels are read.
    await assert.rejects(openStack(f2), userError('strip-beyond.tif'));
  });

  it('damaged structure: IFD loop, corrupt compressed data', async () => {
    // Loop: make the first IFD's next pointer point to itself.
    const one = Buffer.from(buildTiff([{ width: 2, height: 2, bits: 8, blocks: [new Uint8Array(4)] }]));
    const ifd = one.readUInt32LE(4);
    const n = one.readUInt16LE(ifd);
    one.writeUInt32LE(ifd, ifd + 2 + n * 12);
    const f = save('loop.tif', one);
    await assert.rejects(readStack(f), userError('loop.tif', 'loop'));
    // Deflate strip that is not deflate.
    const bad = buildTiff([{ width: 4, height: 4, bits: 8, compression: 8, blocks: [new Uint8Array([1, 2, 3, 4, 5, 6])] }]);
    const g = save('bad-deflate.tif', bad);
    await assert.rejects(readStack(g), userError('bad-deflate.tif', 'deflate'));
    // LZW strip that ends early.
    const short = lzwEncode(new Uint8Array(8).fill(7));
    const h = save('short-lzw.tif', buildTiff([{ width: 4, height: 4, bits: 8, compression: 5, blocks: [short] }]));
    await assert.rejects(readStack(h), userError('short-lzw.tif', 'decodes to 8 of 16 bytes'));
  });
});

describe('TIFF writer: failures leave nothing behind', () => {
  it('a write that fails part-way removes the temporary file and creates no final file', async () => {
    const sub = tempDir();
    try {
      const file = sub.file('out.tif');
      // Wrong pixel count for the declared shape: rejected, then writer aborted by writeStack.
      await assert.rejects(writeStack(file, { data: new Uint16Array(10), shape: [2, 2, 2], dtype: 'uint16' }), userError('out.tif'));
      assert.deepEqual(readdirSync(sub.dir), []);
      // A writer whose file disappears under it: close fails with a StackError, nothing remains.
      const w = await TiffStackWriter.create(file, [1, 2, 2], 'uint8');
      await w.writeFrame(new Uint8Array(4));
      sub.cleanup();
      await assert.rejects(w.close(), userError('out.tif'));
      mkdirSync(sub.dir);
      assert.deepEqual(readdirSync(sub.dir), []);
    } finally {
      sub.cleanup();
    }
  });
});
