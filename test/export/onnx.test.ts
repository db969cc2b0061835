import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import {
  CheckpointError, ConfigError, DEFAULT_MODEL_CONFIG, exportOnnx, initEngine, type ModelConfig, ONNX_INPUT,
  ONNX_OUTPUT, SRDTrans, type StateDict,
} from '../../src/node.js';
import { GraphBuilder } from '../../src/export/onnx/graph.js';
import { encodeModel } from '../../src/export/onnx/messages.js';
import { ProtoWriter } from '../../src/io/protobuf.js';
import { Rng } from '../../src/util/rng.js';
import { relErr, seeded } from '../support/arrays.js';

before(async () => {
  await initEngine('cpu');
});

const SMALL: ModelConfig = { fMaps: [4, 8], embedDim: 16, heads: 2, mlpDim: 24, window: 7, blocks: 2, patchT: 8, attnDropout: 0.1 };

/**
 * A model whose every parameter matters: the zero/one initialisations (positional embedding,
 * LayerNorms) and the tiny bias tables get noise of order one, and the path back from the
 * bottleneck (conv_after_trans, the up-sampling) ten times its weights, so that the transformers'
 * part of the output is not swamped by the skip connections and a wrong detail in them shows.
 */
async function randomModel(config: ModelConfig, seed: number): Promise<{ model: SRDTrans; sd: StateDict }> {
  const model = new SRDTrans(config, seed);
  const sd = await model.stateDict();
  const rng = new Rng(seed + 1);
  for (const [name, t] of sd) {
    if (!(t.data instanceof Float32Array)) continue;
    const amount = /position_embeddings|norm|_ln|bias_table/.test(name) ? 0.5 : 0;
    const gain = /conv_after_trans|up_sample/.test(name) ? 10 : 1;
    for (let i = 0; i < t.data.length; i++) t.data[i] = gain * t.data[i]! + amount * (2 * rng.next() - 1);
  }
  model.loadStateDict(sd);
  return { model, sd };
}

async function runOnnx(bytes: Uint8Array, input: Float32Array, shape: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    const out = await session.run({ [ONNX_INPUT]: new ort.Tensor('float32', input, shape) });
    return out[ONNX_OUTPUT]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

async function runTfjs(model: SRDTrans, input: Float32Array, t: number, xy: number): Promise<Float32Array> {
  const y = model.apply(tf.tensor4d(input, [1, t, xy, xy]));
  try {
    return (await y.data()) as Float32Array;
  } finally {
    y.dispose();
  }
}

test('protobuf writer produces the wire format byte for byte', () => {
  const bytes = (w: ProtoWriter): number[] => [...w.finish()];
  assert.deepEqual(bytes(new ProtoWriter().varint(1, 150)), [0x08, 0x96, 0x01]);
  // A negative int64 is its 64-bit two's complement: ten bytes.
  assert.deepEqual(bytes(new ProtoWriter().varint(3, -1)), [0x18, ...Array(9).fill(0xff), 0x01]);
  assert.deepEqual(bytes(new ProtoWriter().varint(2, 2n ** 40n)), [0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
  assert.deepEqual(bytes(new ProtoWriter().float(2, 1.5)), [0x15, 0x00, 0x00, 0xc0, 0x3f]);
  assert.deepEqual(bytes(new ProtoWriter().string(2, 'hi')), [0x12, 0x02, 0x68, 0x69]);
  assert.deepEqual(bytes(new ProtoWriter().message(5, new ProtoWriter().varint(1, 1)).string(16, '')), [0x2a, 0x02, 0x08, 0x01, 0x82, 0x01, 0x00]);
  assert.throws(() => new ProtoWriter().varint(0, 1), RangeError);
  assert.throws(() => new ProtoWriter().varint(1, 0.5), RangeError);
});

/** input + c, through a node whose input may be named wrongly. */
function addGraph(inputName: string): Uint8Array {
  const g = new GraphBuilder();
  g.input('x', [2, 3]);
  const c = g.initializer('c', [3], Float32Array.of(1, 2, 3));
  g.output(g.op('Add', [inputName, c]), 'y', [2, 3]);
  return encodeModel({
    producerName: 'test', producerVersion: '1', docString: '', opsetVersion: 17, graph: g.build('add'), metadata: new Map([['k', 'v']]),
  });
}

test('ONNX Runtime decodes what the encoder writes, and rejects a broken graph', async () => {
  const session = await ort.InferenceSession.create(addGraph('x'));
  const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(0, 1, 2, 3, 4, 5), [2, 3]) });
  assert.deepEqual([...(out['y']!.data as Float32Array)], [1, 3, 5, 4, 6, 8]);
  await session.release();
  await assert.rejects(ort.InferenceSession.create(addGraph('missing')), /missing/);
  const good = addGraph('x');
  await assert.rejects(ort.InferenceSession.create(good.subarray(0, good.length - 40)));
});

test('exported small network matches the TF.js forward pass (padded and shifted windows, 2 blocks)', async () => {
  const { model, sd } = await randomModel(SMALL, 11);
  const xy = 20; // not a multiple of the window: padding, and masks on the shifted block
  const input = seeded([SMALL.patchT * xy * xy], 5);
  const want = await runTfjs(model, input, SMALL.patchT, xy);
  const got = await runOnnx(exportOnnx(SMALL, sd, { patchXY: xy }), input, [1, 1, SMALL.patchT, xy, xy]);
  const err = relErr(got, want);
  assert.ok(err < 1e-4, `relative error ${err}`);

  // The comparison can tell: a changed transformer parameter in the export alone is seen (not
  // changed uniformly: a constant added to all scores is invisible after the softmax).
  for (const name of ['layers.1.spaceTrans.transformer.blocks.1.attn.relative_position_bias_table', 'layers.0.timeTrans.position_encoding.position_embeddings']) {
    const changed: StateDict = new Map(sd);
    const t = sd.get(name)!;
    changed.set(name, { ...t, data: (t.data as Float32Array).map((v, i) => v + 0.3 * ((i % 3) - 1)) });
    const off = relErr(await runOnnx(exportOnnx(SMALL, changed, { patchXY: xy }), input, [1, 1, SMALL.patchT, xy, xy]), want);
    assert.ok(off > 1e-3, `${name} changed, yet relative error only ${off}`);
  }
  model.dispose();
});

test('exported default architecture matches the TF.js forward pass', async () => {
  const config = { ...DEFAULT_MODEL_CONFIG, patchT: 16 };
  const { model, sd } = await randomModel(config, 3);
  const xy = 24;
  const input = seeded([config.patchT * xy * xy], 9);
  const want = await runTfjs(model, input, config.patchT, xy);
  const got = await runOnnx(exportOnnx(config, sd, { patchXY: xy }), input, [1, 1, config.patchT, xy, xy]);
  const err = relErr(got, want);
  assert.ok(err < 1e-4, `relative error ${err}`);
  model.dispose();
});

test('exportOnnx rejects weights and sizes that do not fit the configuration', async () => {
  const { model, sd } = await randomModel(SMALL, 2);
  model.dispose();
  const without = new Map(sd);
  without.delete('decoders.1.up_sample.bias');
  assert.throws(() => exportOnnx(SMALL, without, { patchXY: 16, source: 'w.safetensors' }), (e: unknown) =>
    e instanceof CheckpointError && /w\.safetensors: lacks the tensor 'decoders\.1\.up_sample\.bias'/.test(e.message));
  const extra = new Map(sd);
  extra.set('extra.weight', { shape: [1], dtype: 'float32', data: new Float32Array(1) });
  assert.throws(() => exportOnnx(SMALL, extra, { patchXY: 16 }), CheckpointError);
  const wrong = new Map(sd);
  wrong.set('conv_before_trans.Conv3d.bias', { shape: [3], dtype: 'float32', data: new Float32Array(3) });
  assert.throws(() => exportOnnx(SMALL, wrong, { patchXY: 16 }), /conv_before_trans\.Conv3d\.bias/);
  assert.throws(() => exportOnnx(SMALL, sd, { patchXY: 16, patchT: 16 }), ConfigError);
  assert.throws(() => exportOnnx(SMALL, sd, { patchXY: 0 }), ConfigError);
});
