/**
 * End to end: `srdtrans export --onnx` and `srdtrans denoise --backend onnx` through the real
 * command line, on a small random model written as a model directory.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import {
  epochFileName, initEngine, type ModelConfig, pthTrainingDefaults, readStack, SRDTrans, writeModelRecord,
  writeWeights,
} from '../../src/node.js';
import { relErr } from '../support/arrays.js';
import { assertOk, assertUserError, jsonLines, runCli, tempDir, writeNoisy } from './cli-helpers.js';

const CONFIG: ModelConfig = { fMaps: [2, 4], embedDim: 8, heads: 2, mlpDim: 16, window: 3, blocks: 1, patchT: 8, attnDropout: 0.1 };
const tmp = tempDir();
const model = tmp.file('model');
const noisy = tmp.file('noisy.tif');

before(async () => {
  await initEngine('cpu');
  const net = new SRDTrans(CONFIG, 5);
  await writeModelRecord(model, { model: CONFIG, training: { ...pthTrainingDefaults(CONFIG.patchT), patchXY: 16 } });
  await writeWeights(`${model}/${epochFileName(1)}`, await net.stateDict(), {});
  net.dispose();
  await writeNoisy(noisy, [16, 24, 24], 'uint16');
});
after(tmp.cleanup);

describe('srdtrans export --onnx', () => {
  it('writes an ONNX model (and the .pth beside it) that ONNX Runtime runs at the asked patch size', async () => {
    const onnx = tmp.file('out.onnx');
    const pth = tmp.file('out.pth');
    assertOk(await runCli(['export', '--onnx', onnx, '--pth', pth, '--model', model, '--patch-xy', '20']));
    assert.ok(existsSync(pth));
    const session = await ort.InferenceSession.create(onnx);
    const x = new Float32Array(8 * 20 * 20).fill(0.5);
    const y = (await session.run({ input: new ort.Tensor('float32', x, [1, 1, 8, 20, 20]) }))['output']!;
    assert.deepEqual(y.dims, [1, 1, 8, 20, 20]);
    await session.release();
  });

  it('needs --pth or --onnx, and refuses a patch length the model was not built for, leaving nothing', async () => {
    const dir = tempDir();
    assertUserError(await runCli(['export', '--model', model]), '--pth', '--onnx');
    assertUserError(await runCli(['export', '--onnx', dir.file('a.onnx'), '--model', model, '--patch-t', '16']), '8 frames');
    assertUserError(await runCli(['export', '--onnx', dir.file('a.txt'), '--model', model]), '.onnx');
    assert.deepEqual(readdirSync(dir.dir), []);
    dir.cleanup();
  });
});

describe('srdtrans denoise --backend onnx', () => {
  it('gives the cpu backend\'s result', async () => {
    const viaOnnx = tmp.file('onnx.tif');
    const viaCpu = tmp.file('cpu.tif');
    const r = await runCli(['denoise', noisy, '--model', model, '--out', viaOnnx, '--float', '--backend', 'onnx', '--json']);
    assertOk(r);
    const engine = jsonLines(r.stdout).find((e) => e['event'] === 'engine');
    assert.equal(engine?.['backend'], 'onnx');
    assertOk(await runCli(['denoise', noisy, '--model', model, '--out', viaCpu, '--float', '--backend', 'cpu']));
    const a = (await readStack(viaOnnx)).data;
    const b = (await readStack(viaCpu)).data;
    assert.ok(Math.max(...b) > 0, 'denoised stack is empty');
    const err = relErr(a, b);
    assert.ok(err < 1e-5, `relative difference ${err}`);
  });
});
