/**
 * The custom kernels the network can call by name, and whether the active backend runs one. The
 * model asks `customKernelTakes` and otherwise runs stock ops, so it never names a backend and
 * importing it pulls in none: each backend's kernels are registered by its own module
 * (engine/wasm.ts, engine/webgpu.ts) when the engine starts that backend.
 */
import * as tf from '@tensorflow/tfjs-core';

/** GELU, and with attrs.slope its derivative too (wasm: kernels/gelu.wasm.ts). */
export const GELU_KERNEL = 'SrdGelu';

export interface GeluAttrs {
  /** Also return GELU's derivative at each value (second output). */
  slope: boolean;
}

/** Fused multi-head attention and its gradient (webgpu: kernels/attention.webgpu.ts). */
export const ATTENTION_KERNEL = 'SrdAttention';
export const ATTENTION_GRAD_KERNEL = 'SrdAttentionGrad';

/**
 * Attributes of both kernels. Inputs of SrdAttention: qkv [M, N, 3E] and optionally bias
 * [heads, N, N], mask [windows, N·N] (sequence m takes row m mod windows) and keep (packKeep of
 * [M, heads, N, N] flags); outputs out [M, N, E] and lse [M, heads, N]. SrdAttentionGrad takes
 * the same plus out, lse and dy [M, N, E]; outputs dqkv [M, N, 3E] and, with a bias, dbias.
 */
export interface AttentionAttrs {
  heads: number;
  /** (E/heads)^-0.5. */
  scale: number;
  /** Scale q before q·kᵀ (else the product after it): the same math, different rounding. */
  scaleQuery: boolean;
  /** 1/(1 − rate): the factor of kept probabilities (unused without keep). */
  keepScale: number;
}

/** Keep flags (0/1 bytes) as int32 words, flag t in bit t mod 32 of word ⌊t/32⌋. */
export function packKeep(keep: Uint8Array): Int32Array {
  const words = new Int32Array(Math.ceil(keep.length / 32));
  for (let t = 0; t < keep.length; t++) if (keep[t]) words[t >>> 5]! |= 1 << (t & 31);
  return words;
}

const conditions = new Map<string, (x: tf.Tensor) => boolean>();

/** Limits a backend's kernel to the inputs it is fast at (by default it takes every input). */
export function setKernelCondition(kernelName: string, backendName: string, takes: (x: tf.Tensor) => boolean): void {
  conditions.set(`${kernelName}/${backendName}`, takes);
}

/** Whether the active backend has `kernelName` registered and it takes `x` (the main input). */
export function customKernelTakes(kernelName: string, x: tf.Tensor): boolean {
  const backend = tf.getBackend();
  if (!tf.getKernel(kernelName, backend)) return false;
  return conditions.get(`${kernelName}/${backend}`)?.(x) ?? true;
}
