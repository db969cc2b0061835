import * as tf from '@tensorflow/tfjs-core';
import { truncNormal } from './init.js';
import {
  addSame,
  attention,
  checkpoint,
  drawKeep,
  layerNorm,
  layerNormSpecs,
  linear,
  linearSpecs,
  mlpResidual,
  released,
  view,
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
  /** Tokens per piece of the checkpointed attention half (default SWIN_CHUNK_TOKENS; whole images). */
  chunkTokens?: number;
}

/**
 * Tokens per piece of the checkpointed attention half (whole images, see checkpoint): the
 * recomputation of a half kept ~32 KiB per token alive (the whole [8, 64, 64] bottleneck of the
 * published [1, 128, 64, 64] patch: about 1 GiB, the peak of a training step).
 */
export const SWIN_CHUNK_TOKENS = 4096;

/** Parameters (suffixes after the block prefix) of a block's attention half. */
const ATTENTION_PARAMS = [
  'norm1.weight',
  'norm1.bias',
  'attn.relative_position_bias_table',
  'attn.qkv.weight',
  'attn.qkv.bias',
  'attn.proj.weight',
  'attn.proj.bias',
];

/** Where a block's tokens go: the padded grid, the shift and the window size. */
interface WindowGeometry {
  b: number;
  h: number;
  wd: number;
  hp: number;
  wp: number;
  w: number;
  shift: number;
}

/** [B, H, W, E] -> [B·nW, w², E]: zero padding to Hp×Wp, roll by −shift, window partition. */
function toWindowsPlain(y: tf.Tensor4D, g: WindowGeometry): tf.Tensor3D {
  if (g.hp > g.h || g.wp > g.wd) y = tf.pad(y, [[0, 0], [0, g.hp - g.h], [0, g.wp - g.wd], [0, 0]]);
  if (g.shift > 0) y = roll(roll(y, -g.shift, 1), -g.shift, 2);
  return partition(y, g.w);
}

/** Inverse of toWindowsPlain (and its adjoint: the padding's adjoint is the crop). */
function fromWindowsPlain(x: tf.Tensor3D, g: WindowGeometry): tf.Tensor4D {
  let y = reverseWindows(x, g.w, g.b, g.hp, g.wp);
  if (g.shift > 0) y = roll(roll(y, g.shift, 1), g.shift, 2);
  if (g.hp > g.h || g.wp > g.wd) y = tf.slice(y, [0, 0, 0, 0], [g.b, g.h, g.wd, y.shape[3]]);
  return y;
}

/*
 * The two token moves as tape entries that keep nothing: each is a linear map whose adjoint is
 * the other (pad ↔ crop, roll ↔ roll back, partition ↔ merge). As plain ops the pads, slices and
 * concats of the rolls kept about twenty clones of the padded image in a block's backward pass.
 */
function toWindows(y: tf.Tensor4D, g: WindowGeometry): tf.Tensor3D {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: toWindowsPlain(args[0] as tf.Tensor4D, g),
    gradFunc: released((dy: tf.Tensor3D) => fromWindowsPlain(dy, g)),
  }));
  return f(y) as tf.Tensor3D;
}

function fromWindows(x: tf.Tensor3D, g: WindowGeometry): tf.Tensor4D {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: fromWindowsPlain(args[0] as tf.Tensor3D, g),
    gradFunc: released((dy: tf.Tensor4D) => toWindowsPlain(dy, g)),
  }));
  return f(x) as tf.Tensor4D;
}

/** Windows of an image: ⌈H/w⌉·⌈W/w⌉. */
function windowCount(h: number, wd: number, w: number): number {
  return Math.ceil(h / w) * Math.ceil(wd / w);
}

/**
 * x + WindowAttention(LN(x)) (padding, shift, partition and their inverses included); `keep`:
 * the attention dropout's keep flags for these images, or undefined.
 */
function attentionResidual(x: tf.Tensor4D, p: ParamGetter, prefix: string, a: SwinBlockArgs, keep: Uint8Array | undefined): tf.Tensor4D {
  const [b, h, wd, e] = x.shape;
  const w = a.window;
  const n = w * w;
  const hp = Math.ceil(h / w) * w;
  const wp = Math.ceil(wd / w) * w;
  const g: WindowGeometry = { b, h, wd, hp, wp, w, shift: a.shift };

  const windows = toWindows(layerNorm(x, p, `${prefix}.norm1`) as tf.Tensor4D, g);
  const qkv = linear(windows, p, `${prefix}.attn.qkv`) as tf.Tensor3D;
  const table = p(`${prefix}.attn.relative_position_bias_table`) as tf.Tensor2D;
  const bias = tf.reshape(tf.transpose(tf.matMul(a.oneHot, table)), [a.heads, n, n]);
  const attended = attention(qkv, {
    heads: a.heads,
    scale: (e / a.heads) ** -0.5,
    scaleQuery: true,
    bias,
    mask: a.shift > 0 ? { values: shiftMask(hp, wp, w, a.shift), windows: windowCount(h, wd, w) } : undefined,
    rate: a.attnDropout,
    keep,
  });
  const out = linear(attended, p, `${prefix}.attn.proj`) as tf.Tensor3D;
  return addSame(x, fromWindows(out, g));
}

/**
 * One Swin block on images x [B, H, W, E] (any H, W ≥ 1); returns [B, H, W, E]. Both halves
 * keep only their input for the backward pass: the attention half is checkpointed (recomputed
 * in the backward pass, a few images at a time), the MLP half recomputes what it needs itself
 * (mlpResidual).
 */
export function swinBlock(x: tf.Tensor4D, p: ParamGetter, prefix: string, a: SwinBlockArgs): tf.Tensor4D {
  const [b, h, wd] = x.shape;
  const perImage = windowCount(h, wd, a.window) * a.heads * a.window ** 4;
  const keep = a.ctx && a.attnDropout > 0 ? drawKeep(b * perImage, a.attnDropout, a.ctx.rng) : undefined;
  const x1 = checkpoint(
    (xi, pi, start) =>
      attentionResidual(xi as tf.Tensor4D, pi, prefix, a, keep?.subarray(start * perImage, (start + xi.shape[0]!) * perImage)),
    x,
    p,
    ATTENTION_PARAMS.map((s) => `${prefix}.${s}`),
    Math.max(1, Math.floor((a.chunkTokens ?? SWIN_CHUNK_TOKENS) / (h * wd))),
  );
  return mlpResidual(x1, p, `${prefix}.norm2`, `${prefix}.mlp.fc1`, `${prefix}.mlp.fc2`) as tf.Tensor4D;
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
  let y = view<tf.Tensor4D>(x, [b * s, h, w, e]);
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
  return view<tf.Tensor5D>(y, [b, s, h, w, e]);
}
