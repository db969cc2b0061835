import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine, SRDTrans } from '../../src/node.js';
import { conv3dDown, upSample } from '../../src/model/conv.js';
import { transposeData } from '../../src/model/params.js';
import { TINY, maxAbs, maxAbsDiff, randomArray } from './helpers.js';
import { referenceConv3d, referenceConvTranspose } from './reference.js';

before(async () => {
  await initEngine('cpu');
});

test("decoder up-sampling equals PyTorch's ConvTranspose3d (4,3,3)/(2,1,1)/(1,1,1)", async (t) => {
  let worst = 0;
  for (const [b, tIn, h, w] of [[1, 1, 3, 2], [2, 2, 4, 5], [1, 3, 1, 1]] as const) {
    const model = new SRDTrans({ ...TINY, fMaps: [3, 5] }, 11);
    const sd = await model.stateDict();
    const name = 'decoders.0.up_sample'; // 5 → 5 channels
    const weight = sd.get(`${name}.weight`)!.data as Float32Array;
    const bias = sd.get(`${name}.bias`)!.data as Float32Array;
    const c = 5;
    const xTorch = randomArray(b * c * tIn * h * w, 3);
    const expected = referenceConvTranspose(xTorch, [b, c, tIn, h, w], weight, bias, c);
    // NCDHW -> NDHWC for ours, and back.
    const xOurs = transposeData(xTorch, [b, c, tIn, h, w], [0, 2, 3, 4, 1]);
    const y = tf.tidy(() => upSample(tf.tensor5d(xOurs, [b, tIn, h, w, c]), (n) => model.variables.get(n)!, name));
    assert.deepEqual(y.shape, [b, 2 * tIn, h, w, c]);
    const got = transposeData((await y.data()) as Float32Array, y.shape, [0, 4, 1, 2, 3]);
    y.dispose();
    const err = maxAbsDiff(got, expected) / maxAbs(expected);
    worst = Math.max(worst, err);
    assert.ok(err < 1e-6, `${[b, tIn, h, w]}: relative error ${err}`);
    model.dispose();
  }
  t.diagnostic(`worst relative error: ${worst.toExponential(2)} (tolerance 1e-6)`);
});

test('tf.conv3dTranspose with "same" padding gives the same numbers (forward only; it has no gradient in TF.js)', async () => {
  const model = new SRDTrans({ ...TINY, fMaps: [3, 5] }, 11);
  const v = model.variables.get('decoders.0.up_sample.weight')!; // [4,3,3,in,out]
  const x = tf.tensor5d(randomArray(2 * 3 * 4 * 5 * 5, 9), [2, 3, 4, 5, 5]);
  const ours = tf.tidy(() => upSample(x, (n) => model.variables.get(n)!, 'decoders.0.up_sample'));
  const theirs = tf.tidy(() =>
    tf.add(tf.conv3dTranspose(x, tf.transpose(v, [0, 1, 2, 4, 3]) as tf.Tensor5D, [2, 6, 4, 5, 5], [2, 1, 1], 'same'),
      model.variables.get('decoders.0.up_sample.bias')!),
  );
  const a = await ours.data();
  const bData = await theirs.data();
  assert.ok(maxAbsDiff(a, bData) < 1e-5 * maxAbs(a));
  tf.dispose([x, ours, theirs]);
  model.dispose();
});

test("encoder down-sampling equals PyTorch's Conv3d stride (2,1,1) padding 1 (TF 'same' would pad T asymmetrically)", async () => {
  const model = new SRDTrans({ ...TINY, fMaps: [3, 5] }, 12);
  const sd = await model.stateDict();
  const name = 'encoders.1.down_sample'; // 5 → 5
  const [b, c, t, h, w] = [2, 5, 4, 3, 4];
  const xTorch = randomArray(b * c * t * h * w, 4);
  const expected = referenceConv3d(xTorch, [b, c, t, h, w], sd.get(`${name}.weight`)!.data as Float32Array, sd.get(`${name}.bias`)!.data as Float32Array, c, 2);
  const y = tf.tidy(() =>
    conv3dDown(tf.tensor5d(transposeData(xTorch, [b, c, t, h, w], [0, 2, 3, 4, 1]), [b, t, h, w, c]), (n) => model.variables.get(n)!, name),
  );
  assert.deepEqual(y.shape, [b, t / 2, h, w, c]);
  const got = transposeData((await y.data()) as Float32Array, y.shape, [0, 4, 1, 2, 3]);
  y.dispose();
  assert.ok(maxAbsDiff(got, expected) < 1e-6 * maxAbs(expected));
  model.dispose();
});
