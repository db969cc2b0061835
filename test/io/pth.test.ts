import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CheckpointError, decodePth, DEFAULT_MODEL_CONFIG, encodePth, epochFileName, inferModelConfig, initEngine,
  type ModelConfig, pthTrainingDefaults, readPth, readStack, resolveModel, SRDTrans, type StateDict,
  type StateTensor, writeModelRecord, writeStack, writeWeights,
} from '../../src/node.js';
import { unpickle, PickleError } from '../../src/io/checkpoint/pickle.js';
import { writeStoredZip, ZipReader } from '../../src/io/checkpoint/zip.js';
import { modelEntries } from '../../src/model/srdtrans.js';

// Fixtures from tools/make-pth-fixtures.py (real torch.save output; see that script).
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIX = path.join(ROOT, 'test', 'fixtures', 'pth');
const fixture = (name: string): string => path.join(FIX, name);
/** The file the malicious fixtures would create if anything executed them. */
const PWNED = '/tmp/srdtrans-pth-fixture-pwned';

interface Manifest {
  config: ModelConfig | null;
  tensors: { name: string; shape: number[]; dtype: 'float32' | 'int64'; offset: number; nbytes: number }[];
}

function expected(stem: string): { config: ModelConfig | null; sd: StateDict } {
  const manifest = JSON.parse(readFileSync(fixture(`${stem}-manifest.json`), 'utf8')) as Manifest;
  const bin = readFileSync(fixture(`${stem}-values.bin`));
  const sd: StateDict = new Map();
  for (const e of manifest.tensors) {
    const bytes = Uint8Array.prototype.slice.call(bin, e.offset, e.offset + e.nbytes);
    sd.set(e.name, { shape: e.shape, dtype: e.dtype, data: e.dtype === 'int64' ? new BigInt64Array(bytes.buffer) : new Float32Array(bytes.buffer) });
  }
  return { config: manifest.config, sd };
}

/** Same names in the same order, same shapes and dtypes, bit-identical values. */
function assertSameStateDict(actual: StateDict, want: StateDict): void {
  assert.deepEqual([...actual.keys()], [...want.keys()]);
  for (const [name, w] of want) {
    const a = actual.get(name)!;
    assert.deepEqual(a.shape, w.shape, name);
    assert.equal(a.dtype, w.dtype, name);
    assert.equal(a.data.constructor, w.data.constructor, name);
    assert.deepEqual(bytesOf(a), bytesOf(w), name);
  }
}

function bytesOf(t: StateTensor): Buffer {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'srdtrans-pth-test-'));
}

before(async () => {
  await initEngine('cpu');
});

test('torch.save zip, legacy and re-zipped (deflate) files give exactly the tensors torch saved', async () => {
  const { sd } = expected('tiny');
  for (const [file, format] of [['tiny.pth', 'zip'], ['tiny-legacy.pth', 'legacy'], ['tiny-deflated.pth', 'zip']] as const) {
    const ckpt = await readPth(fixture(file));
    assert.equal(ckpt.format, format, file);
    assert.equal(ckpt.container, 'top level');
    assert.equal(ckpt.strippedModulePrefix, false);
    assertSameStateDict(ckpt.tensors, sd);
  }
});

test('float16, bfloat16 and float64 become float32; views, offsets and strides are gathered', async () => {
  const { sd } = expected('mixed');
  for (const file of ['mixed.pth', 'mixed-legacy.pth']) {
    const ckpt = await readPth(fixture(file));
    assertSameStateDict(ckpt.tensors, sd);
  }
  const t = (await readPth(fixture('mixed.pth'))).tensors;
  // base = arange(24)/7 as 4×6; transposed is 6×4, slice is rows 1..2, columns 2..4.
  assert.equal((t.get('transposed')!.data as Float32Array)[1], Math.fround(6 / 7));
  assert.deepEqual([...(t.get('slice')!.data as Float32Array)], [8, 9, 10, 14, 15, 16].map((v) => Math.fround(v / 7)));
  assert.deepEqual([...(t.get('long')!.data as BigInt64Array)], [1n, -2n, 3n, 2n ** 40n, -(2n ** 62n), 0n]);
  assert.deepEqual(t.get('scalar')!.shape, []);
});

test('a zip whose byteorder record says big-endian is byte-swapped', () => {
  const sd: StateDict = new Map<string, StateTensor>([
    ['w', { shape: [2, 2], dtype: 'float32', data: new Float32Array([1.5, -2, 3.25, 1e-20]) }],
    ['i', { shape: [3], dtype: 'int64', data: new BigInt64Array([1n, -5n, 2n ** 50n]) }],
  ]);
  const little = new ZipReader(encodePth(sd));
  const swap = (b: Uint8Array, size: number): Uint8Array => {
    const out = new Uint8Array(b.length);
    for (let i = 0; i < b.length; i += size) for (let j = 0; j < size; j++) out[i + j] = b[i + size - 1 - j]!;
    return out;
  };
  const entries = little.entries.map((e) => {
    const data = little.read(e);
    if (e.name === 'archive/byteorder') return { name: e.name, data: Buffer.from('big') };
    if (e.name === 'archive/data/0') return { name: e.name, data: swap(data, 4) };
    if (e.name === 'archive/data/1') return { name: e.name, data: swap(data, 8) };
    return { name: e.name, data };
  });
  assertSameStateDict(decodePth(writeStoredZip(entries), 'big.pth').tensors, sd);
});

test('DataParallel module. prefixes are stripped; weights wrapped under state_dict are found', async () => {
  const { sd } = expected('tiny');
  const dp = await readPth(fixture('tiny-dataparallel.pth'));
  assert.equal(dp.strippedModulePrefix, true);
  assertSameStateDict(dp.tensors, sd);
  const wrapped = await readPth(fixture('tiny-wrapped.pth'));
  assert.equal(wrapped.container, 'state_dict');
  assertSameStateDict(wrapped.tensors, sd);
});

test('malicious pickles are refused with CheckpointError and nothing runs', async () => {
  rmSync(PWNED, { force: true });
  for (const [file, global] of [['evil-system.pth', 'posix.system'], ['evil-eval.pth', 'builtins.eval']] as const) {
    await assert.rejects(readPth(fixture(file)), (e: Error) => {
      assert.ok(e instanceof CheckpointError, `${file}: ${e.name}`);
      assert.ok(e.message.startsWith(fixture(file)), e.message);
      assert.match(e.message, new RegExp(`refuses to load: the file asks to run ${global.replace('.', '\\.')}, which a state dict never needs`));
      return true;
    });
  }
  assert.equal(existsSync(PWNED), false, 'a fixture ran its command');
});

test('the pickle reader refuses opcodes and objects a state dict never needs', () => {
  const globals = new Map();
  // INST (protocol 0 class instantiation) and NEWOBJ are not state-dict opcodes.
  assert.throws(() => unpickle(Buffer.from('\x80\x02(ios\nsystem\n.', 'latin1'), { globals }), (e: Error) => e instanceof PickleError && /opcode 0x69/.test(e.message));
  assert.throws(() => unpickle(Buffer.from('\x80\x02cos\nsystem\n.', 'latin1'), { globals }), /asks to run os\.system/);
  // Truncated in the middle of a string.
  assert.throws(() => unpickle(Buffer.from('\x80\x02X\x10\x00\x00\x00abc', 'latin1'), { globals }), /ends early/);
  // Allowed names are markers, not functions: torch.FloatStorage cannot be called, and BUILD
  // only ever sets an OrderedDict's state.
  const inZip = (pkl: string) => writeStoredZip([{ name: 'archive/data.pkl', data: Buffer.from(pkl, 'latin1') }]);
  assert.throws(() => decodePth(inZip('\x80\x02ctorch\nFloatStorage\n)R.'), 'x.pth'), (e: Error) => e instanceof CheckpointError && /^x\.pth: .*cannot be called/.test(e.message));
  assert.throws(() => decodePth(inZip('\x80\x02]}b.'), 'x.pth'), (e: Error) => e instanceof CheckpointError && /BUILD/.test(e.message));
  // A dict of something other than tensors is not a state dict.
  assert.throws(() => decodePth(inZip('\x80\x02}X\x01\x00\x00\x00aK\x01s.'), 'x.pth'), /entries 'a', not a state dict/);
});

test('truncated or foreign files give a CheckpointError naming the file', async () => {
  const dir = tempDir();
  try {
    const whole = readFileSync(fixture('tiny.pth'));
    const legacy = readFileSync(fixture('tiny-legacy.pth'));
    const cases: [string, Uint8Array, RegExp][] = [
      ['cut.pth', whole.subarray(0, Math.floor(whole.length / 2)), /truncated/],
      ['cut-tail.pth', whole.subarray(0, whole.length - 10), /truncated|not a readable/],
      ['cut-legacy.pth', legacy.subarray(0, legacy.length - 100), /truncated/],
      ['text.pth', Buffer.from('hello, not a checkpoint'), /not a PyTorch checkpoint/],
      ['empty.pth', new Uint8Array(0), /not a PyTorch checkpoint/],
    ];
    for (const [name, data, why] of cases) {
      const file = path.join(dir, name);
      writeFileSync(file, data);
      await assert.rejects(readPth(file), (e: Error) => {
        assert.ok(e instanceof CheckpointError, `${name}: ${e.name} ${e.message}`);
        assert.ok(e.message.startsWith(file), e.message);
        assert.match(e.message, why);
        return true;
      });
    }
    // A damaged storage byte is caught by the zip CRC rather than loaded as a wrong weight.
    const flipped = Buffer.from(whole);
    flipped.writeUInt8(flipped.readUInt8(flipped.length - 400) ^ 0xff, flipped.length - 400);
    const file = path.join(dir, 'flipped.pth');
    writeFileSync(file, flipped);
    await assert.rejects(readPth(file), (e: Error) => e instanceof CheckpointError && /CRC|damaged|central/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the configuration is inferred from tensor shapes', () => {
  const { config, sd } = expected('tiny');
  assert.deepEqual(inferModelConfig(sd), config);
  // Other architectures: names and shapes from our network description only.
  const configs: ModelConfig[] = [
    { fMaps: [8, 16, 32], embedDim: 32, heads: 4, mlpDim: 64, window: 5, blocks: 2, patchT: 64, attnDropout: 0.1 },
    { fMaps: [3], embedDim: 6, heads: 3, mlpDim: 7, window: 1, blocks: 3, patchT: 2, attnDropout: 0.1 },
  ];
  for (const c of configs) assert.deepEqual(inferModelConfig(zerosFor(c)), c);
});

test('the published key list (default network, patch_t 32) infers the default configuration and loads', () => {
  const sd: StateDict = new Map();
  for (const line of readFileSync(fixture('srdtrans-state-dict-keys.txt'), 'utf8').split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const [name, shapeText, dtype] = line.split('\t') as [string, string, string];
    const shape = shapeText.replace(/[()\s]/g, '').split(',').filter(Boolean).map(Number);
    const n = shape.reduce((a, b) => a * b, 1);
    sd.set(name, dtype === 'int64' ? { shape, dtype: 'int64', data: new BigInt64Array(n) } : { shape, dtype: 'float32', data: new Float32Array(n) });
  }
  assert.equal(sd.size, 105);
  const config = inferModelConfig(sd);
  assert.deepEqual(config, { ...DEFAULT_MODEL_CONFIG, fMaps: [8, 16, 32, 64], patchT: 32 });
  // Our network has exactly these names and shapes (the zero index buffers are left out: they
  // must hold the real index, which our network checks).
  const model = new SRDTrans(config, 0);
  try {
    model.loadStateDict(new Map([...sd].filter(([, t]) => t.dtype === 'float32')));
    assert.deepEqual(
      modelEntries(config).map((e) => e.spec.name),
      [...sd.keys()],
      'published state_dict order',
    );
  } finally {
    model.dispose();
  }
});

test('a state dict that is not SRDTrans names what it lacks', () => {
  const { sd } = expected('tiny');
  for (const key of ['conv_before_trans.Conv3d.weight', 'layers.0.timeTrans.position_encoding.position_embeddings', 'encoders.0.conv_net.SingleConv2.Conv3d.weight']) {
    const partial = new Map(sd);
    partial.delete(key);
    assert.throws(() => inferModelConfig(partial), (e: Error) => e instanceof CheckpointError && e.message.includes(`not an SRDTrans state dict: lacks '${key}'`));
  }
  assert.throws(() => inferModelConfig(new Map()), /not an SRDTrans state dict/);
});

test('our writer: re-read by our reader identical, and byte-identical to the file torch verified', async () => {
  const { sd } = expected('tiny');
  const bytes = encodePth(sd);
  const back = decodePth(bytes, 'ours.pth');
  assert.equal(back.format, 'zip');
  assertSameStateDict(back.tensors, sd);
  // tools/make-pth-fixtures.py loaded this exact output with torch.load (weights_only too) and
  // load_state_dict(strict=True); a writer change must rerun that script.
  const check = JSON.parse(readFileSync(fixture('torch-check.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  assert.equal(createHash('sha256').update(bytes).digest('hex'), check['tiny']!['sha256'], 'writer output changed: rerun tools/make-pth-fixtures.py');
  for (const part of ['tiny', 'default']) {
    for (const k of ['torch_load_weights_only', 'names_in_order', 'dtypes_shapes_values_equal', 'strict_load_same_names_module']) {
      assert.equal(check[part]![k], true, `${part}.${k}`);
    }
  }
});

test('--model accepts a .pth: configuration inferred, training defaults', async () => {
  const resolved = await resolveModel(fixture('tiny-dataparallel.pth'));
  assert.equal(resolved.format, 'pth');
  assert.deepEqual(resolved.record.model, expected('tiny').config);
  assert.deepEqual(resolved.record.training, pthTrainingDefaults(8));
  assert.equal(resolved.record.training.patchXY, 128);
  assert.equal(resolved.record.training.scale, 1);
  assert.equal(resolved.record.training.overlap, 0.5);
  assertSameStateDict(await resolved.load(), expected('tiny').sd);
});

test('CLI: denoise --model tiny.pth, and export back to .pth from a model directory', async () => {
  const dir = tempDir();
  try {
    const [t, h, w] = [8, 20, 18];
    const data = new Uint16Array(t * h * w);
    for (let i = 0; i < data.length; i++) data[i] = 200 + ((i * 2654435761) >>> 0) % 97;
    const input = path.join(dir, 'stack.tif');
    await writeStack(input, { data, shape: [t, h, w], dtype: 'uint16' });
    const out = path.join(dir, 'out.tif');
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [path.join(ROOT, 'bin', 'srdtrans.js'), ...args], { encoding: 'utf8', cwd: ROOT });
    // `export` through its module's run(), as main.ts dispatches it, with the CLI's error handling.
    const exportCli = (...args: string[]) =>
      spawnSync(process.execPath, [
        '--import', 'tsx', '--input-type=module', '-e',
        `const { reportError } = await import('./src/cli/main.ts');
         const { run } = await import('./src/cli/export.ts');
         try { process.exitCode = await run(${JSON.stringify(args)}); } catch (e) { process.exitCode = reportError(e, false); }`,
      ], { encoding: 'utf8', cwd: ROOT });
    const res = cli('denoise', input, '--model', fixture('tiny.pth'), '--out', out, '--backend', 'cpu', '--patch-xy', '16');
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stderr, /tiny\.pth/);
    const denoised = await readStack(out);
    assert.deepEqual(denoised.shape, [t, h, w]);
    assert.equal(denoised.dtype, 'uint16');

    // export: a model directory (config.json + safetensors without the index buffers) → .pth.
    const { sd, config } = expected('tiny');
    const modelDir = path.join(dir, 'model');
    await writeModelRecord(modelDir, { model: config!, training: pthTrainingDefaults(config!.patchT) });
    await writeWeights(path.join(modelDir, epochFileName(1)), new Map([...sd].filter(([, v]) => v.dtype === 'float32')), {});
    const pth = path.join(dir, 'exported.pth');
    const ex = exportCli( '--pth', pth, '--model', modelDir);
    assert.equal(ex.status, 0, ex.stderr);
    assert.match(ex.stderr, /f_maps=\[2, 4\]/);
    // Published order, buffers restored: the same bytes as writing the fixture's state dict.
    assert.deepEqual(readFileSync(pth), Buffer.from(encodePth(sd)));
    const bad = exportCli( '--pth', path.join(dir, 'x.bin'), '--model', modelDir);
    assert.equal(bad.status, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function zerosFor(c: ModelConfig): StateDict {
  const sd: StateDict = new Map();
  for (const e of modelEntries(c)) {
    const n = e.spec.shape.reduce((a, b) => a * b, 1);
    sd.set(e.spec.name, e.kind === 'buffer' ? { shape: e.spec.shape, dtype: 'int64', data: e.spec.values() } : { shape: e.spec.shape, dtype: 'float32', data: new Float32Array(n) });
  }
  return sd;
}
