import * as tf from '@tensorflow/tfjs-core';
import { ZEROS } from './init.js';
import {
  addSame,
  addTrailing,
  attention,
  checkpoint,
  drawKeep,
  dropoutWith,
  layerNorm,
  layerNormSpecs,
  linear,
  linearSpecs,
  mlpResidual,
  view,
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
 * probabilities and on the projection output, both at the attention dropout rate (keep flags
 * given: `masks`, or undefined for none).
 */
function selfAttention(
  x: tf.Tensor3D, p: ParamGetter, prefix: string, heads: number, rate: number,
  masks: { probs: Uint8Array; out: Uint8Array } | undefined,
): tf.Tensor3D {
  const e = x.shape[2];
  const qkv = linear(x, p, `${prefix}.qkv`, false) as tf.Tensor3D;
  const merged = attention(qkv, { heads, scale: (e / heads) ** -0.5, scaleQuery: false, rate, keep: masks?.probs });
  return dropoutWith(linear(merged, p, `${prefix}.proj`), rate, masks?.out) as tf.Tensor3D;
}

/**
 * Tokens per piece of a checkpointed attention sub-layer (whole sequences, see checkpoint): its
 * recomputation kept ~20 KiB per token alive, 640 MiB for the 32768 tokens of the published
 * [1, 128, 64, 64] patch, the peak of a training step once the Swin halves were in pieces.
 */
export const TEMPORAL_CHUNK_TOKENS = 4096;

/**
 * The temporal transformer on the bottleneck feature [B, S, H, W, E]: one sequence of length S
 * per (b, h, w) — the published rearrange 'b c s h w -> (b h w) s c' — with a learned positional
 * embedding, 2 pre-LN layers and a final LayerNorm; returns [B, S, H, W, E]. The attention
 * sub-layers are checkpointed (the tape keeps their input only and recomputes them in the
 * backward pass, a few sequences at a time), the MLP sub-layers recompute what they need
 * themselves (mlpResidual).
 */
export function temporalTransformer(
  x: tf.Tensor5D, p: ParamGetter, prefix: string, heads: number, rate: number, ctx: DropoutContext | undefined,
  chunkTokens = TEMPORAL_CHUNK_TOKENS,
): tf.Tensor5D {
  const [b, s, h, w, e] = x.shape;
  const pos = p(`${prefix}.position_encoding.position_embeddings`);
  if (pos.shape[1] !== s) {
    throw new Error(`temporal length ${s} does not match the positional embedding length ${pos.shape[1]}`);
  }
  const n = b * h * w;
  let seq = view<tf.Tensor3D>(tf.transpose(view(x, [b, s, h * w, e]), [0, 2, 1, 3]), [n, s, e]);
  seq = addTrailing(seq, pos);
  // Per sequence: heads·S² attention probabilities, then S·E projection outputs (drawn in that order).
  const perProbs = heads * s * s;
  const perOut = s * e;
  for (let l = 0; l < TEMPORAL_DEPTH; l++) {
    const att = `${prefix}.transformer.net.${2 * l}.fn`;
    const mlp = `${prefix}.transformer.net.${2 * l + 1}.fn`;
    const masks =
      ctx && rate > 0 ? { probs: drawKeep(n * perProbs, rate, ctx.rng), out: drawKeep(n * perOut, rate, ctx.rng) } : undefined;
    seq = checkpoint(
      (xi, pi, start) => {
        const end = start + xi.shape[0]!;
        const piece = masks && {
          probs: masks.probs.subarray(start * perProbs, end * perProbs),
          out: masks.out.subarray(start * perOut, end * perOut),
        };
        return addSame(xi as tf.Tensor3D, selfAttention(layerNorm(xi, pi, `${att}.norm`) as tf.Tensor3D, pi, `${att}.fn`, heads, rate, piece));
      },
      seq,
      p,
      [`${att}.norm.weight`, `${att}.norm.bias`, `${att}.fn.qkv.weight`, `${att}.fn.proj.weight`, `${att}.fn.proj.bias`],
      Math.max(1, Math.floor(chunkTokens / s)),
    );
    seq = mlpResidual(seq, p, `${mlp}.norm`, `${mlp}.fn.net.0`, `${mlp}.fn.net.3`) as tf.Tensor3D;
  }
  seq = layerNorm(seq, p, `${prefix}.pre_head_ln`) as tf.Tensor3D;
  return view<tf.Tensor5D>(tf.transpose(view(seq, [b, h * w, s, e]), [0, 2, 1, 3]), [b, s, h, w, e]);
}
