import * as tf from '@tensorflow/tfjs-core';
import { truncNormal } from './init.js';
import {
  dropout,
  gelu,
  layerNorm,
  layerNormSpecs,
  linear,
  linearSpecs,
  mergeHeads,
  splitQkv,
  type DropoutContext,
  type ParamGetter,
} from './layers.js';
import type { Entry, ParamSpec } from './params.js';

/** Depth of the spatial (Swin) transformer: block 0 unshifted, block 1 shifted. */
export const SWIN_DEPTH = 2;

export interface SwinDims {
  embedDim: number;
  heads: number;
  mlpDim: number;
  window: number;
}

/** Shift of block j: 0 for even j, floor(w/2) for odd j. */
export function shiftOf(block: number, window: number): number {
  return block % 2 === 0 ? 0 : Math.floor(window / 2);
}

/**
 * Swin's relative position index for a w×w window: for tokens i = (ri, ci), j = (rj, cj) in
 * row-major order, (ri − rj + w − 1)·(2w − 1) + (ci − cj + w − 1). Shape [w², w²].
 */
export function relativePositionIndex(w: number): Int32Array {
  const n = w * w;
  const out = new Int32Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = Math.floor(i / w);
    const ci = i % w;
    for (let j = 0; j < n; j++) {
      const rj = Math.floor(j / w);
      const cj = j % w;
      out[i * n + j] = (ri - rj + w - 1) * (2 * w - 1) + (ci - cj + w - 1);
    }
  }
  return out;
}

/**
 * One-hot matrix [w²·w², (2w−1)²] that turns the bias table into the per-pair bias with a
 * matMul (a gather's gradient needs UnsortedSegmentSum, which the wasm backend lacks).
 */
export function relativePositionOneHot(w: number): tf.Tensor2D {
  const index = relativePositionIndex(w);
  const tableSize = (2 * w - 1) ** 2;
  const data = new Float32Array(index.length * tableSize);
  for (let r = 0; r < index.length; r++) data[r * tableSize + index[r]!] = 1;
  return tf.tensor2d(data, [index.length, tableSize]);
}

/**
 * The shifted-window attention mask on the padded Hp×Wp grid, as the published code builds it:
 * regions split at Hp − w and Hp − s (same for W), windows in row-major order, −100 between
 * tokens of different regions. Returns [nW, w², w²] row-major.
 */
export function shiftMask(hp: number, wp: number, w: number, s: number): Float32Array {
  const region = (v: number, len: number): number => (v < len - w ? 0 : v < len - s ? 1 : 2);
  const nh = hp / w;
  const nw = wp / w;
  const n = w * w;
  const out = new Float32Array(nh * nw * n * n);
  const labels = new Int32Array(n);
  for (let a = 0; a < nh; a++) {
    for (let bw = 0; bw < nw; bw++) {
      for (let t = 0; t < n; t++) {
        const y = a * w + Math.floor(t / w);
        const x = bw * w + (t % w);
        labels[t] = 3 * region(y, hp) + region(x, wp);
      }
      const base = (a * nw + bw) * n * n;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (labels[i] !== labels[j]) out[base + i * n + j] = -100;
    }
  }
  return out;
}

/** spaceTrans.transformer.blocks.{j}, in published order (the int64 index buffer included). */
export function swinEntries(prefix: string, d: SwinDims): Entry[] {
  const e = d.embedDim;
  const n = d.window * d.window;
  const entries: Entry[] = [];
  const params = (specs: ParamSpec[]): void => specs.forEach((spec) => entries.push({ kind: 'param', spec }));
  for (let j = 0; j < SWIN_DEPTH; j++) {
    const blk = `${prefix}.blocks.${j}`;
    params(layerNormSpecs(`${blk}.norm1`, e));
    params([
      {
        name: `${blk}.attn.relative_position_bias_table`,
        shape: [(2 * d.window - 1) ** 2, d.heads],
        layout: 'plain',
        init: truncNormal(0.02),
      },
    ]);
    entries.push({
      kind: 'buffer',
      spec: {
        name: `${blk}.attn.relative_position_index`,
        shape: [n, n],
        values: () => BigInt64Array.from(relativePositionIndex(d.window), (v) => BigInt(v)),
      },
    });
    params([
      ...linearSpecs(`${blk}.attn.qkv`, e, 3 * e),
      ...linearSpecs(`${blk}.attn.proj`, e, e),
      ...layerNormSpecs(`${blk}.norm2`, e),
      ...linearSpecs(`${blk}.mlp.fc1`, e, d.mlpDim),
      ...linearSpecs(`${blk}.mlp.fc2`, d.mlpDim, e),
    ]);
  }
  return entries;
}

/** torch.roll along one axis: out[i] = x[(i − shift) mod n]. */
function roll(x: tf.Tensor4D, shift: number, axis: 1 | 2): tf.Tensor4D {
  const n = x.shape[axis];
  const k = (((-shift) % n) + n) % n;
  if (k === 0) return x;
  const begin = [0, 0, 0, 0];
  const sizeA = [...x.shape];
  const sizeB = [...x.shape];
  const beginA = [...begin];
  beginA[axis] = k;
  sizeA[axis] = n - k;
  sizeB[axis] = k;
  return tf.concat([tf.slice(x, beginA, sizeA), tf.slice(x, begin, sizeB)], axis);
}

/** [B, Hp, Wp, C] -> [B·nW, w², C], windows row-major (published window_partition), rank ≤ 4 ops. */
function partition(x: tf.Tensor4D, w: number): tf.Tensor3D {
  const [b, hp, wp, c] = x.shape;
  const nh = hp / w;
  const nw = wp / w;
  const t = tf.transpose(tf.reshape(x, [b * nh, w, nw, w * c]), [0, 2, 1, 3]);
  return tf.reshape(t, [b * nh * nw, w * w, c]);
}

/** Inverse of partition. */
function reverseWindows(x: tf.Tensor3D, w: number, b: number, hp: number, wp: number): tf.Tensor4D {
  const c = x.shape[2];
  const nh = hp / w;
  const nw = wp / w;
  const t = tf.transpose(tf.reshape(x, [b * nh, nw, w, w * c]), [0, 2, 1, 3]);
  return tf.reshape(t, [b, hp, wp, c]);
}

export interface SwinBlockArgs {
  window: number;
  shift: number;
  heads: number;
  attnDropout: number;
  /** relativePositionOneHot(window). */
  oneHot: tf.Tensor2D;
  ctx: DropoutContext | undefined;
}

/** One Swin block on images x [B, H, W, E] (any H, W ≥ 1); returns [B, H, W, E]. */
export function swinBlock(x: tf.Tensor4D, p: ParamGetter, prefix: string, a: SwinBlockArgs): tf.Tensor4D {
  const [b, h, wd, e] = x.shape;
  const w = a.window;
  const n = w * w;
  const padB = (w - (h % w)) % w;
  const padR = (w - (wd % w)) % w;
  const hp = h + padB;
  const wp = wd + padR;
  const nW = (hp / w) * (wp / w);

  let y = layerNorm(x, p, `${prefix}.norm1`) as tf.Tensor4D;
  if (padB > 0 || padR > 0) y = tf.pad(y, [[0, 0], [0, padB], [0, padR], [0, 0]]);
  if (a.shift > 0) y = roll(roll(y, -a.shift, 1), -a.shift, 2);
  const windows = partition(y, w);

  // Window attention.
  const [q, k, v] = splitQkv(linear(windows, p, `${prefix}.attn.qkv`), a.heads);
  const scale = (e / a.heads) ** -0.5;
  let scores: tf.Tensor = tf.matMul(tf.mul(q, scale) as tf.Tensor4D, k, false, true); // [B·nW, heads, N, N]
  const table = p(`${prefix}.attn.relative_position_bias_table`) as tf.Tensor2D;
  const bias = tf.reshape(tf.transpose(tf.matMul(a.oneHot, table)), [a.heads, n, n]);
  scores = tf.add(scores, bias);
  if (a.shift > 0) {
    const mask = tf.tensor3d(shiftMask(hp, wp, w, a.shift), [nW, 1, n * n]);
    scores = tf.reshape(tf.add(tf.reshape(scores, [b, nW, a.heads, n * n]), mask), [b * nW, a.heads, n, n]);
  }
  let attn = tf.softmax(scores);
  attn = dropout(attn, a.attnDropout, a.ctx);
  const out = linear(mergeHeads(tf.matMul(attn as tf.Tensor4D, v)), p, `${prefix}.attn.proj`) as tf.Tensor3D;

  y = reverseWindows(out, w, b, hp, wp);
  if (a.shift > 0) y = roll(roll(y, a.shift, 1), a.shift, 2);
  if (padB > 0 || padR > 0) y = tf.slice(y, [0, 0, 0, 0], [b, h, wd, e]);
  const x1 = tf.add(x, y);
  const hidden = gelu(linear(layerNorm(x1, p, `${prefix}.norm2`), p, `${prefix}.mlp.fc1`));
  return tf.add(x1, linear(hidden, p, `${prefix}.mlp.fc2`));
}

/**
 * The spatial transformer on [B, S, H, W, E]: (B·S) images of H×W tokens (published rearrange
 * 'b c s h w -> (b s) (h w) c'), 2 Swin blocks; returns [B, S, H, W, E].
 */
export function swinTransformer(
  x: tf.Tensor5D,
  p: ParamGetter,
  prefix: string,
  d: { window: number; heads: number; attnDropout: number; oneHot: tf.Tensor2D; ctx: DropoutContext | undefined },
): tf.Tensor5D {
  const [b, s, h, w, e] = x.shape;
  let y = tf.reshape(x, [b * s, h, w, e]) as tf.Tensor4D;
  for (let j = 0; j < SWIN_DEPTH; j++) {
    y = swinBlock(y, p, `${prefix}.blocks.${j}`, {
      window: d.window,
      shift: shiftOf(j, d.window),
      heads: d.heads,
      attnDropout: d.attnDropout,
      oneHot: d.oneHot,
      ctx: d.ctx,
    });
  }
  return tf.reshape(y, [b, s, h, w, e]);
}
