import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError, initEngine, SRDTrans, type StateDict } from '../../src/node.js';
import { TINY, randomInput } from './helpers.js';

before(async () => {
  await initEngine('cpu');
});

function clone(sd: StateDict): StateDict {
  return new Map([...sd].map(([k, t]) => [k, { shape: [...t.shape], dtype: t.dtype, data: t.data.slice() }]));
}

test('stateDict → loadStateDict into a fresh model gives identical output', async () => {
  const config = { ...TINY, patchT: 8 };
  const a = new SRDTrans(config, 1);
  const b = new SRDTrans(config, 2);
  const x = randomInput([1, 8, 5, 4], 5);
  const ya = a.apply(x);
  const yb0 = b.apply(x);
  assert.notDeepEqual(await ya.data(), await yb0.data(), 'different seeds, different outputs');
  b.loadStateDict(await a.stateDict());
  const yb = b.apply(x);
  assert.deepEqual(await yb.data(), await ya.data());
  // And back out again, bit for bit.
  const sa = await a.stateDict();
  const sb = await b.stateDict();
  for (const [k, t] of sa) assert.deepEqual(sb.get(k)!.data, t.data, k);
  tf.dispose([x, ya, yb0, yb]);
  a.dispose();
  b.dispose();
});

test('published layouts: Linear (out, in), Conv3d (out, in, kt, kh, kw), ConvTranspose3d (in, out, kt, kh, kw)', async () => {
  const model = new SRDTrans({ ...TINY, fMaps: [2, 3] }, 1);
  const sd = await model.stateDict();
  const check = async (name: string, pytorchIndex: number[], internalIndex: number[]): Promise<void> => {
    const t = sd.get(name)!;
    let flat = 0;
    for (let i = 0; i < t.shape.length; i++) flat = flat * t.shape[i]! + pytorchIndex[i]!;
    const v = model.variables.get(name)!;
    const buf = (await v.buffer()).get(...internalIndex);
    assert.equal((t.data as Float32Array)[flat], buf, name);
  };
  // Linear qkv (3E, E): element (o=5, i=2) is internal [2, 5].
  await check('layers.0.spaceTrans.transformer.blocks.0.attn.qkv.weight', [5, 2], [2, 5]);
  // Conv3d decoders.0 conv1 (out 2, in 3, 3,3,3): element (1, 2, 0, 1, 2) is internal [0, 1, 2, 2, 1].
  await check('decoders.0.conv_net.SingleConv1.Conv3d.weight', [1, 2, 0, 1, 2], [0, 1, 2, 2, 1]);
  // ConvTranspose3d decoders.0 up (in 3, out 3, 4,3,3): element (2, 0, 3, 1, 0) is internal [3, 1, 0, 2, 0].
  await check('decoders.0.up_sample.weight', [2, 0, 3, 1, 0], [3, 1, 0, 2, 0]);
  model.dispose();
});

test('loadStateDict rejects wrong shapes, missing, unexpected and mistyped tensors, naming the key, and changes nothing', async () => {
  const model = new SRDTrans(TINY, 1);
  const good = await model.stateDict();
  const x = randomInput([1, 4, 3, 3], 2);
  const before = model.apply(x);

  const key = 'layers.0.spaceTrans.transformer.blocks.1.mlp.fc1.weight';
  const wrongShape = clone(good);
  wrongShape.set(key, { shape: [16, 7], dtype: 'float32', data: new Float32Array(16 * 7) });
  assert.throws(() => model.loadStateDict(wrongShape), (e: Error) => e instanceof CheckpointError && e.message.includes(key) && /\(16, 7\)/.test(e.message));

  const missing = clone(good);
  missing.delete('encoders.1.down_sample.bias');
  assert.throws(() => model.loadStateDict(missing), (e: Error) => e instanceof CheckpointError && e.message.includes('encoders.1.down_sample.bias'));

  // The index buffers are derivable: a checkpoint without them loads.
  const missingIndex = clone(good);
  missingIndex.delete('layers.0.spaceTrans.transformer.blocks.0.attn.relative_position_index');
  model.loadStateDict(missingIndex);

  const indexShape = clone(good);
  indexShape.set('layers.0.spaceTrans.transformer.blocks.0.attn.relative_position_index', { shape: [4, 4], dtype: 'int64', data: new BigInt64Array(16) });
  assert.throws(() => model.loadStateDict(indexShape), (e: Error) => e instanceof CheckpointError && e.message.includes('blocks.0.attn.relative_position_index'));

  const extra = clone(good);
  extra.set('final_conv.weight', { shape: [1], dtype: 'float32', data: new Float32Array(1) });
  assert.throws(() => model.loadStateDict(extra), (e: Error) => e instanceof CheckpointError && e.message.includes('final_conv.weight'));

  const badIndex = clone(good);
  const idxKey = 'layers.0.spaceTrans.transformer.blocks.1.attn.relative_position_index';
  (badIndex.get(idxKey)!.data as BigInt64Array)[3] = 0n;
  assert.throws(() => model.loadStateDict(badIndex), (e: Error) => e instanceof CheckpointError && e.message.includes(idxKey));

  const wrongType = clone(good);
  wrongType.set('conv_after_trans.Conv3d.bias', { shape: [4], dtype: 'int64', data: new BigInt64Array(4) });
  assert.throws(() => model.loadStateDict(wrongType), (e: Error) => e instanceof CheckpointError && e.message.includes('conv_after_trans.Conv3d.bias'));

  // A failed load left the weights alone; the good dict loads.
  const after = model.apply(x);
  assert.deepEqual(await after.data(), await before.data());
  model.loadStateDict(good);
  tf.dispose([x, before, after]);
  model.dispose();
});

test('a checkpoint for another patchT fails on the positional embedding', async () => {
  const a = new SRDTrans({ ...TINY, patchT: 8 }, 1);
  const b = new SRDTrans({ ...TINY, patchT: 16 }, 1);
  const sd = await a.stateDict();
  assert.throws(() => b.loadStateDict(sd), (e: Error) => e instanceof CheckpointError && e.message.includes('position_embeddings'));
  a.dispose();
  b.dispose();
});
