import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine, SRDTrans } from '../../src/node.js';
import { relativePositionIndex, swinBlock, relativePositionOneHot } from '../../src/model/swin.js';
import { TINY, maxAbs, maxAbsDiff, randomArray } from './helpers.js';
import { type BlockWeights, randomise, referenceSwinBlock } from './reference.js';

before(async () => {
  await initEngine('cpu');
});

test('relative position index matches Swin for w = 3', () => {
  const idx = relativePositionIndex(3);
  assert.equal(idx.length, 81);
  assert.equal(idx[0], 12); // same token: centre of the 5×5 table
  assert.equal(idx[8], 0); // token 0 vs token 8 (offset −2, −2)
  assert.equal(idx[8 * 9], 24); // token 8 vs token 0 (offset +2, +2)
  assert.equal(idx[1], 11); // (0,0) vs (0,1): column offset −1
  const oneHot = relativePositionOneHot(3);
  assert.deepEqual(oneHot.shape, [81, 25]);
  oneHot.dispose();
});

test('Swin block (shift, padding, mask, relative bias) matches a plain-TS reference', async (t) => {
  const config = { ...TINY, embedDim: 8, heads: 2, mlpDim: 12 };
  const cases = [
    { w: 3, h: 5, wd: 7, b: 2 }, // padding bottom and right, 2×3 windows
    { w: 3, h: 6, wd: 6, b: 1 }, // no padding, 2×2 windows: the mask separates regions
    { w: 3, h: 2, wd: 4, b: 1 }, // image smaller than a window vertically
    { w: 4, h: 9, wd: 5, b: 1 }, // even window (shift 2)
  ];
  let worst = 0;
  for (const { w, h, wd, b } of cases) {
    const model = new SRDTrans({ ...config, window: w }, 3);
    const sd = await model.stateDict();
    randomise(sd, 100 + w);
    model.loadStateDict(sd);
    for (const block of [0, 1]) {
      const prefix = `layers.0.spaceTrans.transformer.blocks.${block}`;
      const get = (n: string): Float32Array => sd.get(`${prefix}.${n}`)!.data as Float32Array;
      const weights: BlockWeights = {
        e: config.embedDim, heads: config.heads, m: config.mlpDim, w, shift: block === 1 ? Math.floor(w / 2) : 0,
        norm1w: get('norm1.weight'), norm1b: get('norm1.bias'), table: get('attn.relative_position_bias_table'),
        qkvW: get('attn.qkv.weight'), qkvB: get('attn.qkv.bias'), projW: get('attn.proj.weight'), projB: get('attn.proj.bias'),
        norm2w: get('norm2.weight'), norm2b: get('norm2.bias'), fc1W: get('mlp.fc1.weight'), fc1B: get('mlp.fc1.bias'),
        fc2W: get('mlp.fc2.weight'), fc2B: get('mlp.fc2.bias'),
      };
      const xData = randomArray(b * h * wd * config.embedDim, 7 + block);
      const expected = referenceSwinBlock(xData, b, h, wd, weights);
      const oneHot = relativePositionOneHot(w);
      const y = tf.tidy(() =>
        swinBlock(tf.tensor4d(xData, [b, h, wd, config.embedDim]), (n) => model.variables.get(n)!, prefix, {
          window: w, shift: weights.shift, heads: config.heads, attnDropout: 0, oneHot, ctx: undefined,
        }),
      );
      const got = await y.data();
      y.dispose();
      oneHot.dispose();
      const err = maxAbsDiff(got, expected) / Math.max(1, maxAbs(expected));
      worst = Math.max(worst, err);
      assert.ok(err < 1e-5, `w=${w} ${h}×${wd} block ${block}: error ${err}`);
      // The comparison is sensitive to the details: dropping the mask, or padding before the
      // LayerNorm, changes the result far beyond the tolerance.
      if (block === 1 && h === 6) {
        const off = maxAbsDiff(got, referenceSwinBlock(xData, b, h, wd, weights, { noMask: true }));
        assert.ok(off > 1e-2, `mask matters (${off})`);
      }
      if (block === 0 && h === 5) {
        const off = maxAbsDiff(got, referenceSwinBlock(xData, b, h, wd, weights, { lnAfterPad: true }));
        assert.ok(off > 1e-2, `padding after LN matters (${off})`);
      }
    }
    model.dispose();
  }
  t.diagnostic(`worst relative error vs reference: ${worst.toExponential(2)} (tolerance 1e-5)`);
});
