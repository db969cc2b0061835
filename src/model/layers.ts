import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../util/rng.js';
import { fanInBound, ONES, ZEROS } from './init.js';
import type { ParamSpec } from './params.js';

/** Looks a parameter up by its published name (internal layout). */
export type ParamGetter = (name: string) => tf.Tensor;

/** Training-time randomness; undefined in eval mode (no dropout). */
export interface DropoutContext {
  rng: Rng;
}

export const LAYER_NORM_EPS = 1e-5;
export const LEAKY_SLOPE = 0.1;

export function linearSpecs(prefix: string, inF: number, outF: number, bias = true): ParamSpec[] {
  const specs: ParamSpec[] = [{ name: `${prefix}.weight`, shape: [outF, inF], layout: 'linear', init: fanInBound(inF) }];
  if (bias) specs.push({ name: `${prefix}.bias`, shape: [outF], layout: 'plain', init: fanInBound(inF) });
  return specs;
}

export function layerNormSpecs(prefix: string, dim: number): ParamSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [dim], layout: 'plain', init: ONES },
    { name: `${prefix}.bias`, shape: [dim], layout: 'plain', init: ZEROS },
  ];
}

/** y = x·Wᵀ + b over the last axis; W is stored internally as [in, out]. */
export function linear(x: tf.Tensor, p: ParamGetter, prefix: string, bias = true): tf.Tensor {
  const w = p(`${prefix}.weight`);
  const [inF, outF] = w.shape as [number, number];
  const lead = x.shape.slice(0, -1);
  let y: tf.Tensor = plainMatMul(tf.reshape(x, [-1, inF]) as tf.Tensor2D, w as tf.Tensor2D);
  if (bias) y = tf.add(y, p(`${prefix}.bias`));
  return tf.reshape(y, [...lead, outF]);
}

/**
 * a·b whose gradients take explicit transposes instead of matMul's transpose flags: the wasm
 * backend's matMul is fast (XNNPACK) only without them, and the weight gradient aᵀ·dy ran at
 * about 1 GFLOP/s against ~15 with the copy (measured on the default network's MLPs).
 */
export function plainMatMul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, y] = args as [tf.Tensor2D, tf.Tensor2D];
    (args[2] as tf.GradSaveFunc)([x, y]);
    return {
      value: tf.matMul(x, y) as tf.Tensor2D,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [sx, sy] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [tf.matMul(dy, tf.transpose(sy)), tf.matMul(tf.transpose(sx), dy)];
      },
    };
  });
  return f(a, b) as tf.Tensor2D;
}

/** LayerNorm over the last axis (biased variance, eps 1e-5 as PyTorch's default). */
export function layerNorm(x: tf.Tensor, p: ParamGetter, prefix: string, eps = LAYER_NORM_EPS): tf.Tensor {
  const axis = x.rank - 1;
  const mean = tf.mean(x, axis, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), axis, true);
  const normed = tf.mul(centred, tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(normed, p(`${prefix}.weight`)), p(`${prefix}.bias`));
}

/** GELU, exact (erf) form as torch.nn.GELU(). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

/**
 * Inverted dropout with a mask drawn from the seeded generator (deterministic for a given seed
 * and the same on every backend). No-op in eval mode or for rate 0.
 */
export function dropout(x: tf.Tensor, rate: number, ctx: DropoutContext | undefined): tf.Tensor {
  if (!ctx || rate <= 0) return x;
  const n = x.size;
  const mask = new Float32Array(n);
  const keepValue = 1 / (1 - rate);
  const threshold = rate * 4294967296;
  const rng = ctx.rng;
  for (let i = 0; i < n; i++) if (rng.nextUint32() >= threshold) mask[i] = keepValue;
  return tf.mul(x, tf.tensor(mask, x.shape, 'float32'));
}

/**
 * Splits the packed qkv projection [N, L, 3E] (PyTorch's reshape (N, L, 3, heads, d)) into
 * q, k, v, each [N, heads, L, d].
 */
export function splitQkv(qkv: tf.Tensor, heads: number): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
  const [n, l, e3] = qkv.shape as [number, number, number];
  const e = e3 / 3;
  const part = (i: number): tf.Tensor4D =>
    tf.transpose(tf.reshape(tf.slice(qkv, [0, 0, i * e], [n, l, e]), [n, l, heads, e / heads]), [0, 2, 1, 3]);
  return [part(0), part(1), part(2)];
}

/** [N, heads, L, d] -> [N, L, heads·d] (PyTorch's transpose(1, 2).reshape(N, L, C)). */
export function mergeHeads(x: tf.Tensor4D): tf.Tensor3D {
  const [n, heads, l, d] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [n, l, heads * d]);
}
