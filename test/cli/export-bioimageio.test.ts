import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import {
  epochFileName, initEngine, type ModelConfig, PUBLISHED_RECIPE, SRDTrans, writeModelRecord, writeWeights,
} from '../../src/node.js';
import { ZipReader } from '../../src/io/checkpoint/zip.js';
import { runCli, tempDir } from './cli-helpers.js';

const CONFIG: ModelConfig = { fMaps: [2, 4], embedDim: 8, heads: 2, mlpDim: 16, window: 3, blocks: 1, patchT: 8, attnDropout: 0.1 };

async function modelDir(dir: string): Promise<void> {
  await initEngine('cpu');
  const model = new SRDTrans(CONFIG, 7);
  await writeModelRecord(dir, {
    model: CONFIG,
    training: {
      ...PUBLISHED_RECIPE, sampling: 'spatial', patchXY: 16, patchT: 8, overlap: 0.5, trainSize: 4, epochs: 1, lr: 1e-4,
      beta1: 0.5, beta2: 0.999, scale: 1, seed: 1, frames: null, inputs: ['stack.tif'],
    },
  });
  await writeWeights(`${dir}/${epochFileName(1)}`, await model.stateDict(), {});
  model.dispose();
}

test('srdtrans export --bioimageio writes a package at --patch-xy with the author and licence given', async () => {
  const t = tempDir();
  try {
    await modelDir(t.file('model'));
    const r = await runCli(['export', '--bioimageio', t.file('pkg.zip'), '--model', t.file('model'), '--patch-xy', '24', '--author', 'Ada Lovelace', '--license', 'MIT']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /wrote .*pkg\.zip \(BioImage Model Zoo package/);
    const zip = new ZipReader(readFileSync(t.file('pkg.zip')));
    const rdf = parseYaml(new TextDecoder().decode(zip.read(zip.get('rdf.yaml')!))) as { authors: unknown; license: string; inputs: { axes: { size: number }[] }[] };
    assert.deepEqual(rdf.authors, [{ name: 'Ada Lovelace' }]);
    assert.equal(rdf.license, 'MIT');
    assert.deepEqual(rdf.inputs[0]!.axes.slice(2).map((a) => a.size), [8, 24, 24]);
    assert.deepEqual(readdirSync(t.dir).sort(), ['model', 'pkg.zip']);
  } finally {
    t.cleanup();
  }
});

test('srdtrans export --bioimageio refuses a bad licence or file name with one line and writes nothing', async () => {
  const t = tempDir();
  try {
    await modelDir(t.file('model'));
    for (const [args, message] of [
      [['--bioimageio', t.file('pkg.zip'), '--license', 'any licence'], /license 'any licence': give an SPDX identifier/],
      [['--bioimageio', t.file('pkg.tar')], /--bioimageio .*pkg\.tar: name the file \.zip/],
    ] as const) {
      const r = await runCli(['export', ...args, '--model', t.file('model'), '--patch-xy', '16']);
      assert.equal(r.status, 2);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    assert.ok(!existsSync(t.file('pkg.zip')));
    assert.deepEqual(readdirSync(t.dir), ['model']);
  } finally {
    t.cleanup();
  }
});
