import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { expandInputs, StackError } from '../../src/node.js';
import { naturalCompare } from '../../src/io/inputs.js';
import { tempDir } from './tiff-helpers.js';

const tmp = tempDir('srdtrans-inputs-');
after(tmp.cleanup);

function touch(...names: string[]): void {
  for (const n of names) writeFileSync(tmp.file(n), '');
}

describe('expandInputs', () => {
  mkdirSync(tmp.file('stacks'));
  mkdirSync(tmp.file('stacks/sub.tif'));
  mkdirSync(tmp.file('stacks/nested'));
  for (const n of ['cell10.tif', 'cell2.TIFF', 'cell1.tif', 'Cell3.tiff', 'notes.txt', '.hidden.tif', '.cell1.tif.partial-12', 'nested/deep.tif']) touch(`stacks/${n}`);
  mkdirSync(tmp.file('nothing'));
  touch('nothing/readme.md', 'single.tif');

  it('a folder gives its .tif/.tiff files in natural order, not recursive, no hidden files', async () => {
    const out = await expandInputs([tmp.file('stacks')]);
    assert.deepEqual(out.map((p) => path.basename(p)), ['cell1.tif', 'cell2.TIFF', 'Cell3.tiff', 'cell10.tif']);
    assert.ok(out.every((p) => p.startsWith(tmp.file('stacks'))));
  });

  it('files pass through in the order given; a file given twice is listed once', async () => {
    const single = tmp.file('single.tif');
    const out = await expandInputs([single, tmp.file('stacks'), path.join(tmp.dir, '.', 'single.tif')]);
    assert.equal(out[0], single);
    assert.equal(out.length, 5);
  });

  it('a missing path, a folder without TIFFs and no input at all give StackErrors naming the path', async () => {
    const missing = tmp.file('missing.tif');
    await assert.rejects(expandInputs([tmp.file('single.tif'), missing]), (e: unknown) =>
      e instanceof StackError && e.message.includes(missing) && e.message.includes('does not exist'));
    await assert.rejects(expandInputs([tmp.file('nothing')]), (e: unknown) =>
      e instanceof StackError && e.message.includes(tmp.file('nothing')) && e.message.includes('no .tif'));
    await assert.rejects(expandInputs([]), StackError);
  });

  it('natural order compares digit runs as numbers', () => {
    const names = ['t10.tif', 't9.tif', 't100.tif', 't09b.tif', 'a.tif'];
    assert.deepEqual(names.sort(naturalCompare), ['a.tif', 't9.tif', 't09b.tif', 't10.tif', 't100.tif']);
  });
});
