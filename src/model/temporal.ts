import * as tf from '@tensorflow/tfjs-core';
import { ZEROS } from './init.js';
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
import type { ParamSpec } from './params.js';

/** Depth of the temporal transformer (num_time_trans_layer in the published code). */
export const TEMPORAL_DEPTH = 2;

export interface TemporalDims {
  embedDim: number;
  heads: number;
  mlpDim: number;
  seqLength: number;
}

/** layers.{i}.timeTrans: transformer.net.{2l}/{2l+1}, position_encoding, pre_head_ln (published order). */
export function temporalSpecs(prefix: string, d: TemporalDims): ParamSpec[] {
  const e = d.embedDim;
  const specs: ParamSpec[] = [];
  for (let l = 0; l < TEMPORAL_DEPTH; l++) {
    const att = `${prefix}.transformer.net.${2 * l}.fn`;
    const mlp = `${prefix}.transformer.net.${2 * l + 1}.fn`;
    specs.push(
      ...layerNormSpecs(`${att}.norm`, e),
      ...linearSpecs(`${att}.fn.qkv`, e, 3 * e, false),
      ...linearSpecs(`${att}.fn.proj`, e, e),
      ...layerNormSpecs(`${mlp}.norm`, e),
      ...linearSpecs(`${mlp}.fn.net.0`, e, d.mlpDim),
      ...linearSpecs(`${mlp}.fn.net.3`, d.mlpDim, e),
    );
  }
  specs.push(
    { name: `${prefix}.position_encoding.position_embeddings`, shape: [1, d.seqLength, e], layout: 'plain', init: ZEROS },
    ...layerNormSpecs(`${prefix}.pre_head_ln`, e),
  );
  return specs;
}

/**
 * Multi-head self-attention over sequences x [N, L, E]: qkv without bias, scores·(E/heads)^-0.5
 * (scaled after the product, as the published SelfAttention), softmax, dropout on the
 * probabilities and on the projection output, both at the attention dropout rate.
 */
function selfAttention(
  x: tf.Tensor3D, p: ParamGetter, prefix: string, heads: number, rate: number, ctx: DropoutContext | undefined,
): tf.Tensor3D {
  const e = x.shape[2];
  const [q, k, v] = splitQkv(linear(x, p, `${prefix}.qkv`, false), heads);
  const scale = (e / heads) ** -0.5;
  let attn: tf.Tensor = tf.softmax(tf.mul(tf.matMul(q, k, false, true), scale));
  attn = dropout(attn, rate, ctx);
  const merged = mergeHeads(tf.matMul(attn as tf.Tensor4D, v));
  return dropout(linear(merged, p, `${prefix}.proj`), rate, ctx) as tf.Tensor3D;
}

/**
 * The temporal transformer on the bottleneck feature [B, S, H, W, E]: one sequence of length S
 * per (b, h, w) — the published rearrange 'b c s h w -> (b h w) s c' — with a learned positional
 * embedding, 2 pre-LN layers and a final LayerNorm; returns [B, S, H, W, E].
 */
export function temporalTransformer(
  x: tf.Tensor5D, p: ParamGetter, prefix: string, heads: number, rate: number, ctx: DropoutContext | undefined,
): tf.Tensor5D {
  const [b, s, h, w, e] = x.shape;
  const pos = p(`${prefix}.position_encoding.position_embeddings`);
  if (pos.shape[1] !== s) {
    throw new Error(`temporal length ${s} does not match the positional embedding length ${pos.shape[1]}`);
  }
  let seq = tf.reshape(tf.transpose(tf.reshape(x, [b, s, h * w, e]), [0, 2, 1, 3]), [b * h * w, s, e]) as tf.Tensor3D;
  seq = tf.add(seq, pos);
  for (let l = 0; l < TEMPORAL_DEPTH; l++) {
    const att = `${prefix}.transformer.net.${2 * l}.fn`;
    const mlp = `${prefix}.transformer.net.${2 * l + 1}.fn`;
    seq = tf.add(seq, selfAttention(layerNorm(seq, p, `${att}.norm`) as tf.Tensor3D, p, `${att}.fn`, heads, rate, ctx));
    const hidden = gelu(linear(layerNorm(seq, p, `${mlp}.norm`), p, `${mlp}.fn.net.0`));
    seq = tf.add(seq, linear(hidden, p, `${mlp}.fn.net.3`));
  }
  seq = layerNorm(seq, p, `${prefix}.pre_head_ln`) as tf.Tensor3D;
  return tf.reshape(tf.transpose(tf.reshape(seq, [b, h * w, s, e]), [0, 2, 1, 3]), [b, s, h, w, e]);
}
