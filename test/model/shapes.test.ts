import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigError, DEFAULT_MODEL_CONFIG, initEngine, type ModelConfig, SRDTrans, validateModelConfig,
} from '../../src/node.js';
import { TINY, maxAbs, maxAbsDiff, randomArray, randomInput } from './helpers.js';
import { randomise, referenceSRDTrans } from './reference.js';

before(async () => {
  await initEngine('cpu');
});

test('output shape equals input shape for several T, H, W (padding and shifted-mask paths)', async () => {
  const cases: Array<{ config: ModelConfig; shapes: Array<[number, number, number, number]> }> = [
    // window 3: 5×7 pads to 6×9; 6×6 has 2×2 windows (mask between regions); 1×1 pads to 3×3.
    { config: TINY, shapes: [[1, 4, 5, 7], [2, 4, 6, 6], [1, 4, 1, 1], [1, 4, 3, 10]] },
    // T = 8 (S = 2), window 7 with images smaller and larger than one window.
    { config: { ...TINY, patchT: 8, window: 7 }, shapes: [[1, 8, 4, 9], [1, 8, 15, 8]] },
    // three levels, two transformer pairs.
    { config: { ...TINY, fMaps: [2, 4, 4], patchT: 16, blocks: 2 }, shapes: [[1, 16, 4, 5]] },
  ];
  for (const { config, shapes } of cases) {
    const model = new SRDTrans(config, 1);
    for (const shape of shapes) {
      const x = randomInput(shape, 7);
      const y = model.apply(x);
      assert.deepEqual(y.shape, shape);
      const data = await y.data();
      assert.ok(data.every(Number.isFinite), `finite output for ${shape}`);
      x.dispose();
      y.dispose();
    }
    model.dispose();
  }
});

test('apply rejects an input whose T differs from patchT', () => {
  const model = new SRDTrans(TINY, 1);
  const x = tf.zeros([1, 8, 4, 4]) as tf.Tensor4D;
  assert.throws(() => model.apply(x), ConfigError);
  x.dispose();
  model.dispose();
});

test('validateModelConfig names the problem', () => {
  assert.throws(() => validateModelConfig({ ...TINY, patchT: 6 }), (e: Error) => e instanceof ConfigError && /multiple of 2\^levels/.test(e.message));
  assert.throws(() => validateModelConfig({ ...TINY, embedDim: 9 }), (e: Error) => e instanceof ConfigError && /divisible by heads/.test(e.message));
  assert.throws(() => validateModelConfig({ ...TINY, fMaps: [] }), ConfigError);
  assert.throws(() => validateModelConfig({ ...TINY, attnDropout: 1 }), ConfigError);
  assert.throws(() => new SRDTrans({ ...TINY, window: 0 }, 1), ConfigError);
  validateModelConfig(DEFAULT_MODEL_CONFIG);
});

function parseKeys(): Array<{ name: string; shape: number[]; dtype: string }> {
  const text = readFileSync(new URL('../fixtures/pth/srdtrans-state-dict-keys.txt', import.meta.url), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => {
      const [name, shape, dtype] = l.split('\t');
      const dims = shape!.replace(/[()\s]/g, '').split(',').filter((s) => s !== '').map(Number);
      return { name: name!, shape: dims, dtype: dtype!.trim() };
    });
}

test('default config (patchT 32): ≈1.8 M parameters, state-dict names/shapes/dtypes equal the published list in order', async () => {
  const model = new SRDTrans({ ...DEFAULT_MODEL_CONFIG, patchT: 32 }, 0);
  const count = model.parameterCount();
  assert.ok(count > 1.75e6 && count < 1.85e6, `parameter count ${count}`);
  const expected = parseKeys();
  assert.equal(expected.length, 105);
  const sd = await model.stateDict();
  const got = [...sd.entries()].map(([name, t]) => ({ name, shape: t.shape, dtype: t.dtype }));
  assert.deepEqual(got, expected);
  // Trainable parameter count = sum over float32 entries of the published list.
  const floats = expected.filter((e) => e.dtype === 'float32').reduce((s, e) => s + e.shape.reduce((a, b) => a * b, 1), 0);
  assert.equal(count, floats);
  // Variables: every float32 name, none of the int64 buffers.
  assert.deepEqual([...model.variables.keys()], expected.filter((e) => e.dtype === 'float32').map((e) => e.name));
  model.dispose();
});

test('initialisation follows PyTorch defaults and the published explicit inits', async () => {
  const model = new SRDTrans({ ...DEFAULT_MODEL_CONFIG, patchT: 32 }, 5);
  const sd = await model.stateDict();
  const data = (n: string): Float32Array => sd.get(n)!.data as Float32Array;
  const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const std = (a: Float32Array): number => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
  // Conv3d 32→64: bound 1/sqrt(32·27).
  const b1 = 1 / Math.sqrt(32 * 27);
  const w1 = data('encoders.3.conv_net.SingleConv2.Conv3d.weight');
  assert.ok(maxAbs(w1) <= b1 && maxAbs(w1) > 0.95 * b1);
  assert.ok(Math.abs(std(w1) - b1 / Math.sqrt(3)) < 0.02 * b1);
  // ConvTranspose3d (64, 64, 4, 3, 3): fan_in = weight.size(1)·36.
  const b2 = 1 / Math.sqrt(64 * 36);
  const w2 = data('decoders.0.up_sample.weight');
  assert.ok(maxAbs(w2) <= b2 && maxAbs(w2) > 0.95 * b2);
  assert.ok(maxAbs(data('decoders.0.up_sample.bias')) <= b2);
  // Linear 512→128: 1/sqrt(512).
  const w3 = data('layers.0.spaceTrans.transformer.blocks.1.mlp.fc2.weight');
  assert.ok(maxAbs(w3) <= 1 / Math.sqrt(512) && maxAbs(w3) > 0.95 / Math.sqrt(512));
  // Bias table trunc_normal(std 0.02); positional embedding zeros; LayerNorm 1 / 0.
  const table = data('layers.0.spaceTrans.transformer.blocks.0.attn.relative_position_bias_table');
  assert.ok(Math.abs(std(table) - 0.02) < 0.003, `table std ${std(table)}`);
  assert.ok(data('layers.0.timeTrans.position_encoding.position_embeddings').every((v) => v === 0));
  assert.ok(data('layers.0.timeTrans.pre_head_ln.weight').every((v) => v === 1));
  assert.ok(data('layers.0.spaceTrans.transformer.blocks.0.norm2.bias').every((v) => v === 0));
  // Same seed, same weights; another seed, other weights.
  const again = new SRDTrans({ ...DEFAULT_MODEL_CONFIG, patchT: 32 }, 5);
  const other = new SRDTrans({ ...DEFAULT_MODEL_CONFIG, patchT: 32 }, 6);
  const n = 'conv_before_trans.Conv3d.weight';
  assert.deepEqual((await again.stateDict()).get(n)!.data, sd.get(n)!.data);
  assert.notDeepEqual((await other.stateDict()).get(n)!.data, sd.get(n)!.data);
  model.dispose();
  again.dispose();
  other.dispose();
});

test('whole network (eval) equals a plain-TS reference built from the published module structure', async (t) => {
  let worst = 0;
  for (const [config, shape] of [
    [{ ...TINY, patchT: 8 }, [1, 8, 5, 4]],
    [{ ...TINY, fMaps: [2, 3, 4], patchT: 16, embedDim: 6, heads: 3, window: 2, blocks: 2 }, [2, 16, 3, 5]],
  ] as Array<[ModelConfig, [number, number, number, number]]>) {
    const model = new SRDTrans(config, 8);
    const sd = await model.stateDict();
    randomise(sd, 77);
    model.loadStateDict(sd);
    const xData = randomArray(shape.reduce((a, b) => a * b, 1), 4);
    const y = tf.tidy(() => model.apply(tf.tensor4d(xData, shape)));
    const got = await y.data();
    y.dispose();
    const expected = referenceSRDTrans(sd, config, xData, shape);
    const err = maxAbsDiff(got, expected) / maxAbs(expected);
    worst = Math.max(worst, err);
    assert.ok(err < 1e-4, `relative error ${err}`);
    model.dispose();
  }
  t.diagnostic(`worst relative error vs reference: ${worst.toExponential(2)} (tolerance 1e-4)`);
});
