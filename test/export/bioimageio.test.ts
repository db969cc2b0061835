import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import * as ort from 'onnxruntime-node';
import { parse as parseYaml } from 'yaml';
import {
  BIOIMAGEIO_FILES as FILES, buildBioimageioPackage, CheckpointError, ConfigError, denoiseToStack, initEngine,
  type ModelConfig, type ModelRecord, type PackageFile, PUBLISHED_RECIPE, SRDTrans, writeBioimageioPackage,
} from '../../src/node.js';
import { withPatchNormalisation } from '../../src/export/bioimageio/wrapper.js';
import { encodeNpy } from '../../src/io/checkpoint/npy.js';
import { toYaml } from '../../src/util/yaml.js';
import { ZipReader } from '../../src/io/checkpoint/zip.js';

const SCHEMA_FILE = new URL('../fixtures/bioimageio/bioimageio_schema_model_0.5.json', import.meta.url);

const CONFIG: ModelConfig = { fMaps: [4, 8], embedDim: 16, heads: 2, mlpDim: 32, window: 7, blocks: 1, patchT: 8, attnDropout: 0.1 };

function record(scale: number): ModelRecord {
  return {
    format: 'srdtrans-ts/1',
    model: CONFIG,
    training: {
      ...PUBLISHED_RECIPE, sampling: 'spatial', patchXY: 16, patchT: 8, overlap: 0.5, trainSize: 100, epochs: 2, lr: 1e-4,
      beta1: 0.5, beta2: 0.999, scale, seed: 1, frames: null, inputs: ['/home/someone/private/stack.tif'],
    },
  };
}

// Parsed YAML, navigated as in Python.
type Json = any;

/** An independent .npy reader: dtype, shape and float32 data. */
function readNpy(bytes: Uint8Array): { descr: string; shape: number[]; data: Float32Array } {
  assert.deepEqual([...bytes.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const len = bytes[8]! | (bytes[9]! << 8);
  const header = new TextDecoder().decode(bytes.subarray(10, 10 + len));
  assert.equal((10 + len) % 64, 0, 'data 64-byte aligned');
  const descr = /'descr': '([^']+)'/.exec(header)![1]!;
  assert.match(header, /'fortran_order': False/);
  const shape = /'shape': \(([^)]*)\)/.exec(header)![1]!.split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  assert.equal(descr, '<f4');
  const raw = new Uint8Array(bytes.subarray(10 + len)); // a copy: aligned, and not a view into a Buffer's pool
  return { descr, shape, data: new Float32Array(raw.buffer) };
}

function validator(): (doc: unknown) => string[] {
  const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as object;
  // strict off: the schema uses pydantic's `discriminator` annotation, which is not a JSON Schema keyword.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const relative = (s: string): boolean => s.length > 0 && !s.startsWith('/') && !/^[A-Za-z]:/.test(s) && !s.split('/').includes('..');
  ajv.addFormat('path', relative);
  ajv.addFormat('file-path', relative);
  const validate = ajv.compile(schema);
  return (doc) => (validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`));
}

interface Built {
  files: PackageFile[];
  rdf: Json;
  zip: ZipReader;
  model: SRDTrans;
}

async function build(scale: number, seed: number): Promise<Built> {
  await initEngine('cpu');
  const model = new SRDTrans(CONFIG, seed);
  const files = await buildBioimageioPackage(
    { model, record: record(scale), weightsFile: 'model/epoch-002.safetensors' },
    { authors: [{ name: 'Test Author' }], timestamp: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)) },
  );
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bioimageio-'));
  const out = path.join(dir, 'model.zip');
  await writeBioimageioPackage(out, files);
  const zip = new ZipReader(await fs.readFile(out));
  const rdf = parseYaml(new TextDecoder().decode(zip.read(zip.get(FILES.rdf)!))) as Json;
  await fs.rm(dir, { recursive: true });
  return { files, rdf, zip, model };
}

let built: Promise<Built> | undefined;
const shared = (): Promise<Built> => (built ??= build(1, 3));

function entry(zip: ZipReader, name: string): Uint8Array {
  const e = zip.get(name);
  assert.ok(e, `the zip holds ${name}`);
  return zip.read(e);
}

/** Every {source, sha256?} the rdf references, with where it was found. */
function references(rdf: Json): { where: string; source: string; sha256?: string }[] {
  const out: { where: string; source: string; sha256?: string }[] = [];
  out.push({ where: 'documentation', source: rdf.documentation });
  rdf.covers.forEach((c: string, i: number) => out.push({ where: `covers[${i}]`, source: c }));
  rdf.attachments.forEach((a: Json, i: number) => out.push({ where: `attachments[${i}]`, ...a }));
  for (const kind of ['inputs', 'outputs']) {
    rdf[kind].forEach((t: Json) => out.push({ where: `${kind}.${t.id}.test_tensor`, ...t.test_tensor }));
  }
  for (const [format, w] of Object.entries(rdf.weights as Record<string, Json>)) out.push({ where: `weights.${format}`, source: w.source, sha256: w.sha256 });
  return out;
}

test('rdf.yaml validates against the published model 0.5 JSON schema, which rejects a broken one', async () => {
  const { rdf } = await shared();
  const validate = validator();
  assert.deepEqual(validate(rdf), []);
  const broken = structuredClone(rdf);
  delete broken.weights.onnx.opset_version;
  broken.inputs[0].axes[2].type = 'frames';
  broken.format_version = '0.4.10';
  const errors = validate(broken);
  assert.ok(errors.some((e) => e.includes('/format_version')), errors.join('\n'));
  assert.ok(errors.some((e) => e.includes('/weights/onnx')), errors.join('\n'));
  assert.ok(errors.some((e) => e.includes('/inputs/0/axes/2')), errors.join('\n'));
});

test('the zip holds exactly the files rdf.yaml references, with matching sha256', async () => {
  const { rdf, zip } = await shared();
  const refs = references(rdf);
  const names = new Set(zip.entries.map((e) => e.name));
  assert.deepEqual([...names].sort(), [...new Set([FILES.rdf, ...refs.map((r) => r.source)])].sort());
  for (const r of refs) {
    const data = entry(zip, r.source);
    if (r.where !== 'documentation' && !r.where.startsWith('covers')) assert.ok(r.sha256, `${r.where} has a sha256`);
    if (r.sha256) assert.equal(createHash('sha256').update(data).digest('hex'), r.sha256, `${r.where}: sha256 of ${r.source}`);
  }
  assert.match(new TextDecoder().decode(entry(zip, rdf.documentation)), /#.*[vV]alidation/, 'README has a Validation section');
  assert.deepEqual([...entry(zip, rdf.covers[0]).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const config = JSON.parse(new TextDecoder().decode(entry(zip, FILES.config)));
  assert.deepEqual(config.model, CONFIG);
  assert.deepEqual(config.training.inputs, ['stack.tif'], 'file names only, not the trainer\'s folders');
  assert.doesNotMatch(new TextDecoder().decode(entry(zip, FILES.rdf)) + new TextDecoder().decode(entry(zip, FILES.readme)), /private/);
  assert.ok(rdf.cite.some((c: Json) => c.doi === '10.1038/s43588-023-00568-2'));
});

test('test tensors have the shapes the axes declare (sizes, references, halos)', async () => {
  const { rdf, zip } = await shared();
  const input = rdf.inputs[0];
  const inShape = readNpy(entry(zip, input.test_tensor.source)).shape;
  const declared = (axis: Json, sizes: Map<string, number>): number => {
    if (axis.type === 'batch') return axis.size ?? 1;
    if (axis.type === 'channel') return axis.channel_names.length;
    if (typeof axis.size === 'number') return axis.size;
    assert.equal(axis.size.tensor_id, input.id);
    return sizes.get(axis.size.axis_id)! + (axis.size.offset ?? 0);
  };
  const id = (a: Json): string => a.id ?? (a.type === 'space' ? 'x' : a.type);
  const inSizes = new Map<string, number>(input.axes.map((a: Json, i: number) => [id(a), inShape[i]!]));
  assert.deepEqual(inShape, input.axes.map((a: Json) => declared(a, inSizes)));
  assert.deepEqual(inShape, [1, 1, CONFIG.patchT, 16, 16]);
  const output = rdf.outputs[0];
  const outShape = readNpy(entry(zip, output.test_tensor.source)).shape;
  assert.deepEqual(outShape, output.axes.map((a: Json) => declared(a, inSizes)));
  for (const a of output.axes) if (a.halo !== undefined) assert.ok(declared(a, inSizes) - 2 * a.halo >= 1, `halo of ${id(a)}`);
  assert.deepEqual(output.axes.map((a: Json) => a.halo), [undefined, undefined, 2, 4, 4]);
});

/** bioimage.io's comparison: |a − e| > abs + rel·|e| counts as a mismatch; at most `perMillion` allowed. */
function mismatches(actual: Float32Array, expected: Float32Array, tol: Json): number {
  assert.equal(actual.length, expected.length);
  let bad = 0;
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i]! - expected[i]!) <= tol.absolute_tolerance + tol.relative_tolerance * Math.abs(expected[i]!))) bad++;
  }
  return bad;
}

async function runOnnx(weights: Uint8Array, rdf: Json, input: Float32Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(weights);
  const [inputName, outputName] = [rdf.inputs[0].id as string, rdf.outputs[0].id as string];
  assert.deepEqual([session.inputNames, session.outputNames], [[inputName], [outputName]]);
  const result = await session.run({ [inputName]: new ort.Tensor('float32', input, [1, 1, CONFIG.patchT, 16, 16]) });
  return result[outputName]!.data as Float32Array;
}

for (const scale of [1, 4]) {
  test(`test output is our network's output on the test input, and the ONNX weights reproduce it (scale ${scale})`, async () => {
    const { rdf, zip, model } = scale === 1 ? await shared() : await build(scale, 5);
    const before = tf.memory().numTensors;
    const input = readNpy(entry(zip, rdf.inputs[0].test_tensor.source)).data;
    const expected = readNpy(entry(zip, rdf.outputs[0].test_tensor.source)).data;
    // Rerun srdtrans denoise --float on the stored input: the stored output is exactly that.
    const again = await denoiseToStack(model, { data: input, shape: [CONFIG.patchT, 16, 16], dtype: 'float32' }, {
      patchXY: 16, overlap: 0.5, scale, asFloat: true,
    });
    assert.deepEqual(again.data, expected);
    assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
    // Not the input passed through: the network changed it.
    assert.ok(mismatches(expected, input, { absolute_tolerance: 1, relative_tolerance: 0 }) > input.length / 2);

    const tol = rdf.config.bioimageio.reproducibility_tolerance[0];
    assert.ok(tol.absolute_tolerance <= 0.01 * Math.max(...expected), 'absolute tolerance within 1% of the maximum, as bioimage.io requires');
    const onnx = await runOnnx(entry(zip, rdf.weights.onnx.source), rdf, input);
    const bad = mismatches(onnx, expected, tol);
    assert.ok(bad <= (tol.mismatched_elements_per_million * expected.length) / 1e6, `${bad} of ${expected.length} values differ beyond the tolerance`);
    let worst = 0;
    for (let i = 0; i < onnx.length; i++) worst = Math.max(worst, Math.abs(onnx[i]! - expected[i]!) / Math.abs(expected[i]!));
    assert.ok(worst < 1e-4, `worst relative difference ONNX vs TF.js ${worst}`);
    model.dispose();
  });
}

test('the normalisation wrapper refuses a graph without the exporter\'s input and output', async () => {
  const { zip, rdf } = await shared();
  const wrapped = entry(zip, rdf.weights.onnx.source);
  assert.throws(() => withPatchNormalisation(wrapped, 1), /single input 'input'/);
  assert.throws(() => withPatchNormalisation(new Uint8Array([0x3a, 0x05, 0x01]), 1), RangeError);
});

test('options a user gets wrong are ConfigErrors; an unwritable target leaves no file', async () => {
  await initEngine('cpu');
  const model = new SRDTrans(CONFIG, 1);
  const src = { model, record: record(1), weightsFile: 'w.safetensors' };
  await assert.rejects(buildBioimageioPackage(src, { name: 'a:b' }), ConfigError);
  await assert.rejects(buildBioimageioPackage(src, { license: 'not a licence' }), ConfigError);
  await assert.rejects(buildBioimageioPackage(src, { overlap: 1 }), ConfigError);
  model.dispose();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bioimageio-'));
  await assert.rejects(writeBioimageioPackage(path.join(dir, 'missing', 'm.zip'), [{ name: 'a', data: new Uint8Array(1) }]), CheckpointError);
  assert.deepEqual(await fs.readdir(dir), []);
  await fs.rm(dir, { recursive: true });
});

test('the YAML emitter quotes what a YAML 1.1 or 1.2 reader would take for something else', () => {
  const doc = {
    plain: 'weights.onnx', y: 'y', no: 'No', version: '0.5.7', one: '1.0', empty: '', colon: 'a: b', hash: 'x #y',
    dash: '- x', star: '*x', date: '2026-01-02', text: 'line\nnext "quoted" ×', num: 1.5e-7, neg: -3, t: true, n: null,
    list: [[1, 2], { a: [] }, {}, 'z'], nested: { deeper: { deepest: ['q'] } }, skipped: undefined,
  };
  const text = toYaml(doc);
  const { skipped: _, ...expected } = doc;
  assert.deepEqual(parseYaml(text), expected);
  assert.deepEqual(parseYaml(text, { version: '1.1' }), expected);
  assert.match(text, /^plain: weights.onnx$/m);
  assert.throws(() => toYaml({ bad: NaN }), RangeError);
});

test('npy: header padded to 64 bytes, shape and data round-trip; a wrong shape is refused', () => {
  const data = Float32Array.from({ length: 24 }, (_, i) => i - 3.5);
  const parsed = readNpy(encodeNpy(data, [2, 3, 4]));
  assert.deepEqual(parsed.shape, [2, 3, 4]);
  assert.deepEqual(parsed.data, data);
  assert.deepEqual(readNpy(encodeNpy(data, [24])).shape, [24]);
  assert.throws(() => encodeNpy(data, [5, 5]), RangeError);
});
