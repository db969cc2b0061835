/**
 * TypeScript half of tools/make-pth-fixtures.py (which needs PyTorch; this needs only the repo):
 *   spec                         names, shapes and dtypes of the tiny fixture network (JSON on stdout)
 *   write <manifest> <bin> <out> our .pth writer applied to a manifest + raw values
 *   default <dir> [seed]         random weights for the default network (patch_t 32), written as
 *                                <dir>/default.pth plus <dir>/default-manifest.json + default-values.bin
 *   forward <pth> <in.bin> <t> <h> <w> <out.bin>
 *                                our network (cpu backend, eval mode) on a float32 input
 * A manifest lists {name, shape, dtype, offset, nbytes} into a raw little-endian values file, so
 * both sides compare exact bit patterns without NumPy formats.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../src/engine/backend.js';
import { encodePth } from '../src/io/checkpoint/pth-write.js';
import { loadModel } from '../src/cli/model.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../src/model/config.js';
import type { StateDict } from '../src/model/params.js';
import { modelEntries } from '../src/model/srdtrans.js';
import { Rng } from '../src/util/rng.js';

/** The network the committed fixtures hold: 2 levels, E 8, 2 heads, window 3, S = 8/4 = 2. */
export const FIXTURE_CONFIG: ModelConfig = {
  fMaps: [2, 4],
  embedDim: 8,
  heads: 2,
  mlpDim: 16,
  window: 3,
  blocks: 1,
  patchT: 8,
  attnDropout: 0.1,
};

export interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int64';
  offset: number;
  nbytes: number;
}

export function readValues(manifest: ManifestEntry[], bin: Uint8Array): StateDict {
  const sd: StateDict = new Map();
  for (const e of manifest) {
    // A copy (Buffer#slice would share the pooled buffer), so the typed array starts aligned.
    const bytes = Uint8Array.prototype.slice.call(bin, e.offset, e.offset + e.nbytes);
    const data = e.dtype === 'int64' ? new BigInt64Array(bytes.buffer) : new Float32Array(bytes.buffer);
    sd.set(e.name, { shape: e.shape, dtype: e.dtype, data });
  }
  return sd;
}

async function writeValues(sd: StateDict, manifestFile: string, binFile: string, config?: ModelConfig): Promise<void> {
  const entries: ManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of sd) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    entries.push({ name, shape: t.shape, dtype: t.dtype, offset, nbytes: bytes.length });
    chunks.push(bytes);
    offset += bytes.length;
  }
  await fs.writeFile(manifestFile, JSON.stringify({ config, tensors: entries }, null, 1) + '\n');
  await fs.writeFile(binFile, Buffer.concat(chunks));
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...args] = argv;
  if (cmd === 'spec') {
    const tensors = modelEntries(FIXTURE_CONFIG).map((e) =>
      e.kind === 'buffer'
        ? { name: e.spec.name, shape: e.spec.shape, dtype: 'int64', values: [...e.spec.values()].map(Number) }
        : { name: e.spec.name, shape: e.spec.shape, dtype: 'float32' },
    );
    process.stdout.write(JSON.stringify({ config: FIXTURE_CONFIG, tensors }) + '\n');
  } else if (cmd === 'write' && args.length === 3) {
    const manifest = JSON.parse(await fs.readFile(args[0]!, 'utf8')) as { tensors: ManifestEntry[] };
    const sd = readValues(manifest.tensors, await fs.readFile(args[1]!));
    await fs.writeFile(args[2]!, encodePth(sd));
  } else if (cmd === 'default' && args.length >= 1) {
    const dir = args[0]!;
    const rng = new Rng(Number(args[1] ?? 7));
    const config = { ...DEFAULT_MODEL_CONFIG, fMaps: [...DEFAULT_MODEL_CONFIG.fMaps], patchT: 32 };
    const sd: StateDict = new Map();
    for (const e of modelEntries(config)) {
      if (e.kind === 'buffer') {
        sd.set(e.spec.name, { shape: e.spec.shape, dtype: 'int64', data: e.spec.values() });
      } else {
        const data = new Float32Array(e.spec.shape.reduce((a, b) => a * b, 1));
        for (let i = 0; i < data.length; i++) data[i] = rng.normal() * 0.05;
        sd.set(e.spec.name, { shape: e.spec.shape, dtype: 'float32', data });
      }
    }
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'default.pth'), encodePth(sd));
    await writeValues(sd, path.join(dir, 'default-manifest.json'), path.join(dir, 'default-values.bin'), config);
  } else if (cmd === 'forward' && args.length === 6) {
    await initEngine('cpu');
    const [pth, input, t, h, w, out] = args as [string, string, string, string, string, string];
    const { model } = await loadModel(pth);
    const bytes = await fs.readFile(input);
    const x = tf.tensor4d(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), [1, Number(t), Number(h), Number(w)]);
    const y = model.apply(x);
    const data = (await y.data()) as Float32Array;
    await fs.writeFile(out, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    tf.dispose([x, y]);
    model.dispose();
  } else {
    process.stderr.write('usage: tsx tools/pth-fixtures.ts spec | write <manifest> <bin> <out.pth> | default <dir> [seed] | forward <pth> <in.bin> <t> <h> <w> <out.bin>\n');
    process.exitCode = 2;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  await main(process.argv.slice(2));
}
