import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine, SRDTrans } from '../../src/node.js';
import { conv3dDown, conv3dS1, singleConv, upSample } from '../../src/model/conv.js';
import {
  attention,
  drawKeep,
  layerNorm,
  linear,
  mergeHeads,
  mlpResidual,
  splitQkv,
  withReleasedGradients,
  type ParamGetter,
} from '../../src/model/layers.js';
import { relativePositionOneHot, swinBlock } from '../../src/model/swin.js';
import { temporalTransformer } from '../../src/model/temporal.js';
import { Rng } from '../../src/util/rng.js';
import { TINY, maxAbs, maxAbsDiff, randomArray } from './helpers.js';

/*
 * The memory-saving layers (one tape entry each, hand-written or recomputed gradients, work in
 * pieces) against the plain TF.js op sequences they replace, differentiated by TF.js itself:
 * forward bit for bit, gradients to float32 rounding. The network-level checks (finite
 * differences, backends, PyTorch references) are in the other files.
 */

before(async () => {
  await initEngine('cpu');
});

const GRAD_TOL = 1e-5; // per input, relative to its largest gradient

function randomTensor(shape: number[], seed: number, scale = 1, mean = 0): tf.Tensor {
  const data = randomArray(shape.reduce((a, b) => a * b, 1), seed, scale);
  for (let i = 0; i < data.length; i++) data[i]! += mean;
  return tf.tensor(data, shape);
}

interface Outcome {
  value: Float32Array;
  grads: Float32Array[];
}

/** f(...inputs) and the gradients of Σ f·r for a fixed random r; the ops made inside release their gradients. */
async function evaluate(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], released: boolean): Promise<Outcome> {
  const start = tf.memory().numTensors;
  const build = (...xs: tf.Tensor[]): tf.Tensor => (released ? withReleasedGradients(() => f(...xs)) : f(...xs));
  const value = tf.tidy(() => build(...inputs));
  const r = randomTensor(value.shape, 77);
  const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(build(...xs), r)))(inputs);
  const out = { value: (await value.data()) as Float32Array, grads: await Promise.all(grads.map(async (g) => (await g.data()) as Float32Array)) };
  tf.dispose([value, r, ...grads]);
  assert.equal(tf.memory().numTensors, start, 'no tensor left behind');
  return out;
}

async function compare(name: string, fused: (...xs: tf.Tensor[]) => tf.Tensor, plain: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[]): Promise<number> {
  const a = await evaluate(fused, inputs, true);
  const b = await evaluate(plain, inputs, false);
  assert.deepEqual(a.value, b.value, `${name}: forward differs from the plain ops`);
  let worst = 0;
  b.grads.forEach((g, i) => {
    const err = maxAbsDiff(a.grads[i]!, g) / (maxAbs(g) || 1);
    worst = Math.max(worst, err);
    assert.ok(err < GRAD_TOL, `${name}: gradient of input ${i}: relative difference ${err}`);
  });
  return worst;
}

/** A getter over named tensors. */
function getter(names: string[], ts: tf.Tensor[]): ParamGetter {
  return (n) => {
    const i = names.indexOf(n);
    if (i < 0) throw new Error(`no ${n}`);
    return ts[i]!;
  };
}

// The plain versions (the op sequences of the straightforward implementation).
function plainLayerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const axis = x.rank - 1;
  const centred = tf.sub(x, tf.mean(x, axis, true));
  const normed = tf.mul(centred, tf.rsqrt(tf.add(tf.mean(tf.square(centred), axis, true), 1e-5)));
  return tf.add(tf.mul(normed, g), b);
}
function plainLinear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const [inF, outF] = w.shape as [number, number];
  let y: tf.Tensor = tf.matMul(tf.reshape(x, [-1, inF]) as tf.Tensor2D, w as tf.Tensor2D);
  if (b) y = tf.add(y, b);
  return tf.reshape(y, [...x.shape.slice(0, -1), outF]);
}
function plainGelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

test('layerNorm and linear: same forward bits and gradients as the plain ops', async (t) => {
  const x = randomTensor([2, 3, 5, 8], 1, 2, 0.5);
  const g = randomTensor([8], 2, 0.3, 1);
  const b = randomTensor([8], 3, 0.3);
  const w = randomTensor([8, 6], 4, 0.4);
  const bias = randomTensor([6], 5, 0.1);
  const names = ['n.weight', 'n.bias', 'l.weight', 'l.bias'];
  let worst = await compare('layerNorm', (xs, gs, bs) => layerNorm(xs!, getter(names, [gs!, bs!]), 'n'), plainLayerNorm, [x, g, b]);
  worst = Math.max(worst, await compare('linear', (xs, ws, bb) => linear(xs!, getter(names.slice(2), [ws!, bb!]), 'l'), plainLinear, [x, w, bias]));
  worst = Math.max(worst, await compare('linear without bias', (xs, ws) => linear(xs!, getter(['l.weight'], [ws!]), 'l', false), (xs, ws) => plainLinear(xs!, ws!), [x, w]));
  t.diagnostic(`worst gradient difference ${worst.toExponential(2)} (tolerance ${GRAD_TOL})`);
  tf.dispose([x, g, b, w, bias]);
});

test('mlpResidual (hand-written gradient, in row pieces): same forward bits and gradients as x + fc2(GELU(fc1(LN(x))))', async (t) => {
  const e = 8;
  const m = 12;
  const x = randomTensor([3, 5, e], 11, 1.5);
  const params = [randomTensor([e], 12, 0.3, 1), randomTensor([e], 13, 0.3), randomTensor([e, m], 14, 0.5), randomTensor([m], 15, 0.2), randomTensor([m, e], 16, 0.4), randomTensor([e], 17, 0.2)];
  const names = ['n.weight', 'n.bias', 'a.weight', 'a.bias', 'b.weight', 'b.bias'];
  const plain = (xs: tf.Tensor, ...ps: tf.Tensor[]): tf.Tensor =>
    tf.add(xs, plainLinear(plainGelu(plainLinear(plainLayerNorm(xs, ps[0]!, ps[1]!), ps[2]!, ps[3]!)), ps[4]!, ps[5]!));
  let worst = 0;
  // 15 tokens: one piece, pieces of 4 (the last one short) and of 1.
  for (const rows of [undefined, 4, 1]) {
    const fused = (xs: tf.Tensor, ...ps: tf.Tensor[]): tf.Tensor => mlpResidual(xs, getter(names, ps), 'n', 'a', 'b', rows);
    worst = Math.max(worst, await compare(`mlpResidual rows ${rows ?? 'all'}`, fused as never, plain as never, [x, ...params]));
  }
  t.diagnostic(`worst gradient difference ${worst.toExponential(2)} (tolerance ${GRAD_TOL})`);
  tf.dispose([x, ...params]);
});

test('attention core (bias, shifted-window mask, dropout): same forward bits and gradients as the plain ops', async (t) => {
  const [images, nW, n, heads, d] = [2, 3, 4, 2, 3];
  const e = heads * d;
  const m = images * nW;
  const qkv = randomTensor([m, n, 3 * e], 21, 1.2);
  const bias = randomTensor([heads, n, n], 22, 0.5);
  const maskValues = new Float32Array(nW * n * n).map((_, i) => (i % 5 === 2 ? -100 : 0));
  const keep = drawKeep(m * heads * n * n, 0.3, new Rng(4));
  const scale = d ** -0.5;
  const plain = (scaleQuery: boolean, withMask: boolean, withKeep: boolean) => (q3: tf.Tensor, b?: tf.Tensor): tf.Tensor => {
    const [q, k, v] = splitQkv(q3, heads);
    let s: tf.Tensor = scaleQuery ? tf.matMul(tf.mul(q, scale) as tf.Tensor4D, k, false, true) : tf.mul(tf.matMul(q, k, false, true), scale);
    if (b) s = tf.add(s, b);
    if (withMask) {
      s = tf.reshape(tf.add(tf.reshape(s, [images, nW, heads, n * n]), tf.tensor3d(maskValues, [nW, 1, n * n])), [m, heads, n, n]);
    }
    let p = tf.softmax(s);
    if (withKeep) p = tf.mul(p, tf.tensor(Float32Array.from(keep, (k01) => (k01 ? 1 / 0.7 : 0)), p.shape));
    return mergeHeads(tf.matMul(p as tf.Tensor4D, v));
  };
  let worst = 0;
  for (const [scaleQuery, withBias, withMask, withKeep] of [[true, true, true, true], [false, false, false, true], [true, true, false, false]] as const) {
    const fused = (q3: tf.Tensor, b?: tf.Tensor): tf.Tensor =>
      attention(q3 as tf.Tensor3D, {
        heads, scale, scaleQuery, bias: b, rate: 0.3,
        mask: withMask ? { values: maskValues, windows: nW } : undefined,
        keep: withKeep ? keep : undefined,
      });
    const inputs = withBias ? [qkv, bias] : [qkv];
    worst = Math.max(worst, await compare(`attention ${[scaleQuery, withBias, withMask, withKeep]}`, fused as never, plain(scaleQuery, withMask, withKeep) as never, inputs));
  }
  t.diagnostic(`worst gradient difference ${worst.toExponential(2)} (tolerance ${GRAD_TOL})`);
  tf.dispose([qkv, bias]);
});

test('convolution layers (one tape entry each, adjoint gradients): same forward bits and gradients as the plain ops', async (t) => {
  const slope = 0.1;
  const addBias = (x: tf.Tensor, b: tf.Tensor): tf.Tensor => tf.reshape(tf.add(tf.reshape(x, [-1, b.size]), b), x.shape);
  // The previous compositions: stride-1 convolutions (conv3dS1, itself differentiable) and
  // TF.js's own gradients of pad, slice, concat, add and leakyRelu.
  const plainSingle = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor =>
    tf.reshape(tf.leakyRelu(tf.reshape(addBias(conv3dS1(x as tf.Tensor5D, w as tf.Tensor5D, 'same'), b), [-1]), slope), [...x.shape.slice(0, 4), w.shape[4]!]);
  const frames = (x: tf.Tensor5D, k: number): tf.Tensor5D => {
    const [bb, tt, h, wd, c] = x.shape;
    return tf.reshape(tf.slice(tf.reshape(x, [bb, tt / 2, 2, h * wd * c]), [0, 0, k, 0], [bb, tt / 2, 1, h * wd * c]), [bb, tt / 2, h, wd, c]) as tf.Tensor5D;
  };
  const tapsOf = (w: tf.Tensor, ks: number[]): tf.Tensor5D => tf.concat(ks.map((k) => tf.slice(w, [k, 0, 0, 0, 0], [1, -1, -1, -1, -1])), 0) as tf.Tensor5D;
  const pad = (x: tf.Tensor, p: Array<[number, number]>): tf.Tensor5D => tf.pad(x, [[0, 0], ...p, [0, 0]]) as tf.Tensor5D;
  const plainDown = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor => {
    const xs = x as tf.Tensor5D;
    const fromEven = conv3dS1(frames(xs, 0), tapsOf(w, [1]), 'same');
    const fromOdd = conv3dS1(pad(frames(xs, 1), [[1, 0], [1, 1], [1, 1]]), tapsOf(w, [0, 2]), 'valid');
    return addBias(tf.add(fromEven, fromOdd), b);
  };
  const plainUp = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor => {
    const [bb, tt, h, wd] = x.shape as [number, number, number, number];
    const c = w.shape[4]!;
    const flipped = tf.reverse(w, [1, 2]);
    const padded = pad(x, [[1, 1], [1, 1], [1, 1]]);
    const even = conv3dS1(tf.slice(padded, [0, 0, 0, 0, 0], [-1, tt + 1, -1, -1, -1]), tapsOf(flipped, [3, 1]), 'valid');
    const odd = conv3dS1(tf.slice(padded, [0, 1, 0, 0, 0], [-1, tt + 1, -1, -1, -1]), tapsOf(flipped, [2, 0]), 'valid');
    const both = tf.concat([tf.reshape(even, [bb * tt, 1, -1]), tf.reshape(odd, [bb * tt, 1, -1])], 1);
    return addBias(tf.reshape(both, [bb, 2 * tt, h, wd, c]), b);
  };
  const names = ['c.weight', 'c.bias'];
  const x = randomTensor([2, 4, 5, 3, 3], 31);
  const w3 = randomTensor([3, 3, 3, 3, 4], 32, 0.3);
  const wDown = randomTensor([3, 3, 3, 3, 3], 33, 0.3);
  const wUp = randomTensor([4, 3, 3, 3, 3], 34, 0.3);
  const b4 = randomTensor([4], 35, 0.1);
  const b3 = randomTensor([3], 36, 0.1);
  let worst = await compare('singleConv', (xs, w, b) => singleConv(xs as tf.Tensor5D, getter(names, [w!, b!]), 'c'), plainSingle as never, [x, w3, b4]);
  worst = Math.max(worst, await compare('conv3dDown', (xs, w, b) => conv3dDown(xs as tf.Tensor5D, getter(names, [w!, b!]), 'c'), plainDown as never, [x, wDown, b3]));
  worst = Math.max(worst, await compare('upSample', (xs, w, b) => upSample(xs as tf.Tensor5D, getter(names, [w!, b!]), 'c'), plainUp as never, [x, wUp, b3]));
  t.diagnostic(`worst gradient difference ${worst.toExponential(2)} (tolerance ${GRAD_TOL})`);
  tf.dispose([x, w3, wDown, wUp, b4, b3]);
});

/**
 * The checkpointed attention sub-layers recomputed whole and in pieces (images for Swin,
 * sequences for the temporal transformer), with dropout: the pieces must give the same bits,
 * draw the same masks, and the same gradients.
 */
test('checkpointed sub-layers in pieces: same forward bits and gradients as in one piece (training mode)', async (t) => {
  const config = { ...TINY, patchT: 8, attnDropout: 0.3 };
  const model = new SRDTrans(config, 5);
  const under = (prefix: string): [string[], tf.Tensor[]] => {
    const names = [...model.variables.keys()].filter((n) => n.startsWith(`${prefix}.`));
    return [names, names.map((n) => model.variables.get(n)!)];
  };
  const oneHot = relativePositionOneHot(config.window);
  let worst = 0;
  for (const block of [0, 1]) {
    const prefix = `layers.0.spaceTrans.transformer.blocks.${block}`;
    const [names, vars] = under(prefix);
    const x = randomTensor([3, 5, 4, config.embedDim], 41 + block);
    const run = (chunkTokens: number) => (xs: tf.Tensor, ...ps: tf.Tensor[]): tf.Tensor =>
      swinBlock(xs as tf.Tensor4D, getter(names, ps), prefix, {
        window: config.window, shift: block === 1 ? 1 : 0, heads: config.heads, attnDropout: config.attnDropout,
        oneHot, ctx: { rng: new Rng(9) }, chunkTokens,
      });
    // 20 tokens an image: pieces of 1 image (3 pieces) and 2 images (2 pieces) against all 3.
    for (const chunkTokens of [20, 45]) {
      worst = Math.max(worst, await compare(`swin block ${block}, ${chunkTokens} tokens a piece`, run(chunkTokens) as never, run(1e9) as never, [x, ...vars]));
    }
    x.dispose();
  }
  const x5 = randomTensor([1, 2, 3, 5, config.embedDim], 45);
  const [names, vars] = under('layers.0.timeTrans');
  const temporal = (chunkTokens: number) => (xs: tf.Tensor, ...ps: tf.Tensor[]): tf.Tensor =>
    temporalTransformer(xs as tf.Tensor5D, getter(names, ps), 'layers.0.timeTrans', config.heads, config.attnDropout, { rng: new Rng(10) }, chunkTokens);
  // 15 sequences of 2 tokens: pieces of 2 and of 7 sequences.
  for (const chunkTokens of [4, 14]) {
    worst = Math.max(worst, await compare(`temporal, ${chunkTokens} tokens a piece`, temporal(chunkTokens) as never, temporal(1e9) as never, [x5, ...vars]));
  }
  t.diagnostic(`worst gradient difference ${worst.toExponential(2)} (tolerance ${GRAD_TOL})`);
  tf.dispose([x5, oneHot]);
  model.dispose();
});
