import * as tf from '@tensorflow/tfjs-core';
import {
  ATTENTION_GRAD_KERNEL, ATTENTION_KERNEL, customKernelTakes, GELU_KERNEL, packKeep, type AttentionAttrs, type GeluAttrs,
} from '../engine/custom-kernels.js';
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

/*
 * Training memory. TF.js's tape keeps, for every op, clones of the tensors its gradient reads
 * (Reshape, Add, Mul, Slice, Pad, Mean... all keep their inputs; on wasm each clone is a copy),
 * and it keeps every saved tensor and every intermediate gradient to the end of the backward
 * pass. Written with plain ops, one fwd+bwd of the default network on [1,32,32,32] peaked at
 * 1592 MiB of tensors (tf.profile peakBytes) and [1,32,64,64] overran wasm's 4 GB heap; the
 * published [1,128,64,64] patch would need ~25 GB. So the layers here are tf.customGrad ops that
 * keep only what their gradient needs (GELU/MLP: the input; LayerNorm: x̂ and 1/σ; dropout: a
 * bool mask; reshapes, adds, token moves: nothing), free their saved tensors and incoming
 * gradient once used (released), and the attention sub-layers are recomputed in the backward
 * pass in pieces (checkpoint). Peak: 91 MiB on [1,32,32,32], 693 MiB on [1,128,64,64]. The
 * forward arithmetic is the plain version's op sequence (or, in pieces, the same per-row
 * sequence), so outputs are bit-identical to it on each backend — except GELU on wasm, one
 * SIMD kernel of ours within 3e-7 of the stock ops (gelu below).
 */

type GradArgs = Array<tf.Tensor | tf.GradSaveFunc>;

/**
 * Whether ops created now free the gradient they receive once they have used it (see released);
 * on only while SRDTrans.apply builds the network (withReleasedGradients).
 */
let releaseGradients = false;

/**
 * Runs f with gradient release on for the ops it creates: only for code whose ops' output
 * gradients are all internal (not a dy a caller passed to tf.grads, which would be disposed).
 */
export function withReleasedGradients<T>(f: () => T): T {
  const before = releaseGradients;
  releaseGradients = true;
  try {
    return f();
  } finally {
    releaseGradients = before;
  }
}

/**
 * A customGrad gradient function run in a tidy that then frees its saved tensors and (see
 * withReleasedGradients) the incoming gradient dy. The engine keeps both to the end of the
 * backward pass, although a saved tensor is read only by its op's gradient and a tensor's
 * gradient only by the op that produced it: with every op of the network freeing them, a
 * backward pass holds the gradients of its frontier only instead of all of them (peak on
 * [1,128,64,64]: 1420 -> 894 MiB). Relies on TF.js calling each tape entry's gradient once.
 */
export function released<D extends tf.Tensor>(
  f: (dy: D, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
): (dy: D, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[] {
  const releaseDy = releaseGradients;
  return (dy, saved) => {
    const grads = tf.tidy(() => f(dy, saved));
    tf.dispose(saved);
    if (releaseDy) dy.dispose();
    return grads;
  };
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * Column sums of x viewed as [rows, cols], as [cols] (or `shape`): a bias-type gradient. Computed
 * as ones[1, rows]·x: tf.sum over axis 0 transposes first, and was 20-40× slower on wasm and
 * 4-14× on cpu for the [tokens, 128..512] and [voxels, C] gradients here.
 */
export function colSum(x: tf.Tensor, cols: number, shape: number[] = [cols]): tf.Tensor {
  const rows = x.size / cols;
  return tf.tidy(() => tf.reshape(tf.matMul(tf.ones([1, rows]) as tf.Tensor2D, tf.reshape(x, [rows, cols]) as tf.Tensor2D), shape));
}

/** reshape whose gradient keeps nothing (tf.reshape's keeps a clone of its input). */
export function view<T extends tf.Tensor>(x: tf.Tensor, shape: number[]): T {
  const inShape = x.shape;
  const f = tf.customGrad((...args: GradArgs) => ({
    value: tf.reshape(args[0] as tf.Tensor, shape),
    gradFunc: released((dy: tf.Tensor) => tf.reshape(dy, inShape)),
  }));
  return f(x) as T;
}

/** a + b for equal shapes, on flat views (rank ≤ 4 for WebGPU); the gradient keeps nothing. */
export function addSame<T extends tf.Tensor>(a: T, b: tf.Tensor): T {
  if (a.size !== b.size) throw new Error(`addSame: sizes ${a.size} and ${b.size} differ`);
  const shapeA = a.shape;
  const shapeB = b.shape;
  const f = tf.customGrad((...args: GradArgs) => {
    const [x, y] = args as [tf.Tensor, tf.Tensor];
    return {
      value: tf.reshape(tf.add(tf.reshape(x, [-1]), tf.reshape(y, [-1])), shapeA),
      // Two handles on dy (reshape copies nothing): the tape must not see one tensor twice.
      gradFunc: released((dy: tf.Tensor) => [tf.reshape(dy, shapeA), tf.reshape(dy, shapeB)]),
    };
  });
  return f(a, b) as T;
}

/**
 * x + b where b's shape is x's trailing dims, possibly with leading 1s (a bias [C], a positional
 * embedding [1, S, E]): the same elementwise sums as tf.add(x, b), on a rank-2 view. The
 * gradient keeps nothing.
 */
export function addTrailing<T extends tf.Tensor>(x: T, b: tf.Tensor): T {
  const inner = b.size;
  if (x.size % inner !== 0) throw new Error(`addTrailing: ${b.shape} does not broadcast over ${x.shape}`);
  const xShape = x.shape;
  const bShape = b.shape;
  const f = tf.customGrad((...args: GradArgs) => {
    const [xs, bs] = args as [tf.Tensor, tf.Tensor];
    return {
      value: tf.reshape(tf.add(tf.reshape(xs, [-1, inner]), tf.reshape(bs, [inner])), xShape),
      gradFunc: released((dy: tf.Tensor) => [tf.reshape(dy, xShape), colSum(dy, inner, bShape)]),
    };
  });
  return f(x, b) as T;
}

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

/**
 * y = x·Wᵀ + b over the last axis; W is stored internally as [in, out]. One tape entry that keeps
 * x and W. The weight gradient xᵀ·dy takes matMul's transposeA flag: the wasm kernel
 * (engine/kernels/batch-matmul.wasm.ts) reads a transposed A through strides, so no transposed
 * copy of x is made (the stock wasm kernel ran it at ~1 GFLOP/s; the copies were ~4 % of a
 * 128-frame training step).
 */
export function linear(x: tf.Tensor, p: ParamGetter, prefix: string, bias = true): tf.Tensor {
  const w = p(`${prefix}.weight`) as tf.Tensor2D;
  const [inF, outF] = w.shape;
  const outShape = [...x.shape.slice(0, -1), outF];
  const f = tf.customGrad((...args: GradArgs) => {
    const xs = args[0] as tf.Tensor;
    const ws = args[1] as tf.Tensor2D;
    (args[args.length - 1] as tf.GradSaveFunc)([xs, ws]);
    let y: tf.Tensor = tf.matMul(tf.reshape(xs, [-1, inF]) as tf.Tensor2D, ws);
    if (bias) y = tf.add(y, args[2] as tf.Tensor);
    return {
      value: tf.reshape(y, outShape),
      gradFunc: released((dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sw] = saved as [tf.Tensor, tf.Tensor2D];
        const dy2 = tf.reshape(dy, [-1, outF]) as tf.Tensor2D;
        const dx = tf.reshape(tf.matMul(dy2, tf.transpose(sw)), sx.shape);
        const dw = tf.matMul(tf.reshape(sx, [-1, inF]) as tf.Tensor2D, dy2, true, false);
        return bias ? [dx, dw, colSum(dy2, outF)] : [dx, dw];
      }),
    };
  });
  return bias ? f(x, w, p(`${prefix}.bias`)) : f(x, w);
}

/**
 * LayerNorm over the last axis (biased variance, eps 1e-5 as PyTorch's default). The tape keeps
 * x̂ and 1/σ per row; dx = (g − mean(g) − x̂·mean(g·x̂))/σ with g = dy·γ.
 */
export function layerNorm(x: tf.Tensor, p: ParamGetter, prefix: string, eps = LAYER_NORM_EPS): tf.Tensor {
  const axis = x.rank - 1;
  const c = x.shape[axis]!;
  const f = tf.customGrad((...args: GradArgs) => {
    const [xs, gamma, beta] = args as [tf.Tensor, tf.Tensor, tf.Tensor];
    const mean = tf.mean(xs, axis, true);
    const centred = tf.sub(xs, mean);
    const variance = tf.mean(tf.square(centred), axis, true);
    const rstd = tf.rsqrt(tf.add(variance, eps));
    const normed = tf.mul(centred, rstd);
    (args[3] as tf.GradSaveFunc)([normed, rstd, gamma]);
    return {
      value: tf.add(tf.mul(normed, gamma), beta),
      gradFunc: released((dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xhat, r, g] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const gy = tf.mul(dy, g);
        const dx = tf.mul(
          tf.sub(tf.sub(gy, tf.mean(gy, axis, true)), tf.mul(xhat, tf.mean(tf.mul(gy, xhat), axis, true))),
          r,
        );
        return [dx, colSum(tf.mul(dy, xhat), c), colSum(dy, c)];
      }),
    };
  });
  return f(x, p(`${prefix}.weight`), p(`${prefix}.bias`));
}

/** Rows per piece in mlpResidual: [rows, hidden] pieces of about 2 MiB. */
function mlpRows(hidden: number): number {
  return Math.max(1, Math.floor(2 ** 19 / hidden));
}

/**
 * f on consecutive row ranges [start, start + size) of n rows, each in its own tidy (so at most
 * one range's intermediates are alive at a time); returns what each call returned.
 */
function byRows<T extends tf.TensorContainer>(n: number, rows: number, f: (start: number, size: number) => T): T[] {
  const out: T[] = [];
  for (let start = 0; start < n; start += rows) {
    const size = Math.min(rows, n - start);
    out.push(tf.tidy(() => f(start, size)));
  }
  return out;
}

/** Row-wise concatenation of pieces, disposing them. */
function joinRows(parts: tf.Tensor[]): tf.Tensor {
  if (parts.length === 1) return parts[0]!;
  const joined = tf.concat(parts, 0);
  tf.dispose(parts);
  return joined;
}

/** Σ of per-piece gradients, disposing the pieces. */
function sumPieces(parts: tf.Tensor[]): tf.Tensor {
  if (parts.length === 1) return parts[0]!;
  const total = tf.addN(parts);
  tf.dispose(parts);
  return total;
}

/** LayerNorm (default eps) and fc1 of rows x [rows, E], op for op as layerNorm and linear. */
function lnFc1(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, w1: tf.Tensor2D, b1: tf.Tensor) {
  const centred = tf.sub(x, tf.mean(x, 1, true));
  const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centred), 1, true), LAYER_NORM_EPS));
  const xhat = tf.mul(centred, rstd);
  const normed = tf.add(tf.mul(xhat, gamma), beta) as tf.Tensor2D;
  return { xhat, rstd, normed, h: tf.add(tf.matMul(normed, w1), b1) };
}

/**
 * GELU(h) = h·Φ(h) (exact, erf-based, as PyTorch's nn.GELU), and with `withSlope` its derivative
 * Φ(h) + h·φ(h). One custom kernel where the engine registered one that takes h (wasm's SIMD
 * kernel, engine/kernels/gelu.wasm.ts: 6.7× faster than the twelve stock passes in
 * bench/slice-gelu.ts, within 3e-7 of them); elsewhere stock ops.
 */
function gelu(h: tf.Tensor, withSlope: boolean): { g: tf.Tensor; slope?: tf.Tensor } {
  if (customKernelTakes(GELU_KERNEL, h)) {
    const attrs: GeluAttrs = { slope: withSlope };
    const out = tf.engine().runKernel(GELU_KERNEL, { x: h }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
    return Array.isArray(out) ? { g: out[0]!, slope: out[1]! } : { g: out };
  }
  const erf1 = tf.add(tf.erf(tf.mul(h, Math.SQRT1_2)), 1);
  const g = tf.mul(tf.mul(h, 0.5), erf1);
  if (!withSlope) return { g };
  return { g, slope: tf.add(tf.mul(erf1, 0.5), tf.mul(h, tf.mul(tf.exp(tf.mul(tf.square(h), -0.5)), INV_SQRT_2PI))) };
}

/**
 * x + fc2(GELU(fc1(LN(x)))): the MLP sub-layer of both transformers, as one tape entry that keeps
 * only x (and the parameters). The backward pass recomputes LN and fc1 (not fc2, which a
 * generic recomputation would redo as well) and writes the rest of the gradient out by hand
 * (GELU'(h) = Φ(h) + h·φ(h)). Both passes go over the tokens `rows` at a time (default: ~2 MiB
 * of hidden activations): every op here is row-wise (matMul computes each row alone: the same
 * bits as on the whole matrix, checked on cpu and wasm), and the [tokens, 512] hidden tensors
 * were the largest of the transformers, about a dozen alive at once in a plain backward pass.
 */
export function mlpResidual(
  x: tf.Tensor, p: ParamGetter, norm: string, fc1: string, fc2: string, rows = mlpRows(p(`${fc1}.weight`).shape[1]!),
): tf.Tensor {
  const e = x.shape[x.rank - 1]!;
  const n = x.size / e;
  const w1 = p(`${fc1}.weight`);
  const f = tf.customGrad((...args: GradArgs) => {
    const [xs, gamma, beta, w1s, b1, w2, b2] = args as tf.Tensor[] as [
      tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor2D, tf.Tensor, tf.Tensor2D, tf.Tensor,
    ];
    (args[7] as tf.GradSaveFunc)([xs, gamma, beta, w1s, b1, w2]);
    const x2 = tf.reshape(xs, [n, e]);
    const y = joinRows(
      byRows(n, rows, (start, size) => {
        const { h } = lnFc1(tf.slice(x2, [start, 0], [size, e]), gamma, beta, w1s, b1);
        return tf.add(tf.matMul(gelu(h, false).g as tf.Tensor2D, w2), b2);
      }),
    );
    return {
      value: tf.reshape(tf.add(tf.reshape(xs, [-1]), tf.reshape(y, [-1])), xs.shape),
      gradFunc: released((dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sg, sb, sw1, sb1, sw2] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor2D, tf.Tensor, tf.Tensor2D];
        const w1t = tf.transpose(sw1);
        const w2t = tf.transpose(sw2);
        const sx2 = tf.reshape(sx, [n, e]);
        const dy2 = tf.reshape(dy, [n, e]);
        const pieces = byRows(n, rows, (start, size) => {
          const { xhat, rstd, normed, h } = lnFc1(tf.slice(sx2, [start, 0], [size, e]), sg, sb, sw1, sb1);
          const { g, slope } = gelu(h, true);
          const dyc = tf.slice(dy2, [start, 0], [size, e]) as tf.Tensor2D;
          const dh = tf.mul(tf.matMul(dyc, w2t), slope!) as tf.Tensor2D;
          const dn = tf.matMul(dh, w1t);
          const gy = tf.mul(dn, sg);
          const dln = tf.mul(tf.sub(tf.sub(gy, tf.mean(gy, 1, true)), tf.mul(xhat, tf.mean(tf.mul(gy, xhat), 1, true))), rstd);
          return {
            dx: tf.add(dyc, dln),
            dGamma: colSum(tf.mul(dn, xhat), e),
            dBeta: colSum(dn, e),
            dW1: tf.matMul(normed, dh, true, false),
            db1: colSum(dh, dh.shape[1]),
            dW2: tf.matMul(g as tf.Tensor2D, dyc, true, false),
            db2: colSum(dyc, e),
          };
        });
        const take = (k: keyof (typeof pieces)[number]): tf.Tensor[] => pieces.map((q) => q[k]);
        return [
          tf.reshape(joinRows(take('dx')), sx.shape),
          ...(['dGamma', 'dBeta', 'dW1', 'db1', 'dW2', 'db2'] as const).map((k) => sumPieces(take(k))),
        ];
      }),
    };
  });
  return f(x, p(`${norm}.weight`), p(`${norm}.bias`), w1, p(`${fc1}.bias`), p(`${fc2}.weight`), p(`${fc2}.bias`));
}

/**
 * Keep flags of an inverted-dropout mask over n values, drawn in order from the generator
 * (1 = keep). Layers that are recomputed in the backward pass draw their masks up front with
 * this and hand them down, so the recomputation uses the very same masks.
 */
export function drawKeep(n: number, rate: number, rng: Rng): Uint8Array {
  const keep = new Uint8Array(n);
  const threshold = rate * 4294967296;
  for (let i = 0; i < n; i++) if (rng.nextUint32() >= threshold) keep[i] = 1;
  return keep;
}

/** The float mask of inverted dropout from bool keep flags: exactly 0 or float32(1/(1−rate)). */
function dropoutScale(keep: tf.Tensor, rate: number): tf.Tensor {
  return tf.mul(tf.cast(keep, 'float32'), 1 / (1 - rate));
}

/**
 * Inverted dropout with the keep flags `keep` (drawKeep; undefined: none, as in eval mode or for
 * rate 0). The tape keeps the mask as bool (1 byte a value; tf.mul would keep float clones of
 * both x and the mask).
 */
export function dropoutWith(x: tf.Tensor, rate: number, keep: Uint8Array | undefined): tf.Tensor {
  if (!keep) return x;
  if (keep.length !== x.size) throw new Error(`dropout: ${keep.length} mask values for ${x.size}`);
  const f = tf.customGrad((...args: GradArgs) => {
    const xs = args[0] as tf.Tensor;
    const mask = tf.tensor(keep, xs.shape, 'bool');
    (args[1] as tf.GradSaveFunc)([mask]);
    return {
      value: tf.mul(xs, dropoutScale(mask, rate)),
      gradFunc: released((dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, dropoutScale(saved[0]!, rate))),
    };
  });
  return f(x);
}

export interface AttentionOptions {
  heads: number;
  /** (E/heads)^-0.5. */
  scale: number;
  /** Scale q before q·kᵀ (Swin's WindowAttention) or the product after it (the temporal SelfAttention). */
  scaleQuery: boolean;
  /** Additive [heads, N, N] scores bias (Swin's relative position bias); it gets a gradient. */
  bias?: tf.Tensor;
  /** Constant additive mask [windows, N·N] for groups of `windows` consecutive sequences (shifted windows). */
  mask?: { values: Float32Array; windows: number };
  /** Dropout rate on the attention probabilities. */
  rate: number;
  /** Their keep flags ([M, heads, N, N] row-major, drawKeep); undefined: no dropout. */
  keep: Uint8Array | undefined;
}

/** a·bᵀ for batched matrices, with b transposed by a copy: the stock wasm kernel was slower with
 * the transposeB flag, and our SIMD kernel (engine/kernels/batch-matmul.wasm.ts) makes the same
 * copy itself, so the explicit one costs nothing and keeps cpu and wasm bit-identical. */
function matMulBT(a: tf.Tensor4D, b: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.matMul(a, tf.transpose(b, [0, 1, 3, 2]) as tf.Tensor4D));
}

/**
 * Multi-head attention core on packed qkv [M, N, 3E] → [M, N, E]: softmax(q·kᵀ·scale + bias +
 * mask), dropout, ·v, heads merged. The fused kernels (fusedAttention) where the engine
 * registered them (webgpu), elsewhere stock ops (compositeAttention: bit for bit what the cpu
 * and wasm backends always ran).
 */
export function attention(qkv: tf.Tensor3D, o: AttentionOptions): tf.Tensor3D {
  const [m, n] = qkv.shape;
  const size = m * o.heads * n * n;
  if (o.keep && o.keep.length !== size) throw new Error(`attention: ${o.keep.length} mask values for ${size}`);
  return customKernelTakes(ATTENTION_KERNEL, qkv) ? fusedAttention(qkv, o) : compositeAttention(qkv, o);
}

/**
 * attention() with stock ops. One tape entry that keeps qkv, the probabilities and the
 * dropout mask (bool); the plain ops kept about ten [M, heads, N, N] tensors for the backward
 * pass (scores, biased and masked scores, probabilities, dropped probabilities, their reshape
 * and mask clones), the largest transient of a Swin block. Both passes free their
 * [M, heads, N, N] temporaries as soon as they are used (at most about four alive).
 */
export function compositeAttention(qkv: tf.Tensor3D, o: AttentionOptions): tf.Tensor3D {
  const [m, n, e3] = qkv.shape;
  const e = e3 / 3;
  const heads = o.heads;
  const d = e / heads;
  const rate = o.rate;
  const keep = o.keep;
  const hasBias = o.bias !== undefined;
  const f = tf.customGrad((...args: GradArgs) => {
    const qkvs = args[0] as tf.Tensor3D;
    const bias = hasBias ? (args[1] as tf.Tensor) : undefined;
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [q, k, v] = splitQkv(qkvs, heads);
    const probs = tf.tidy(() => {
      let scores: tf.Tensor = o.scaleQuery ? matMulBT(tf.mul(q, o.scale) as tf.Tensor4D, k) : tf.mul(matMulBT(q, k), o.scale);
      if (bias) scores = tf.add(scores, bias);
      if (o.mask) {
        const nW = o.mask.windows;
        const mask = tf.tensor3d(o.mask.values, [nW, 1, n * n]);
        scores = tf.reshape(tf.add(tf.reshape(scores, [m / nW, nW, heads, n * n]), mask), [m, heads, n, n]);
      }
      return tf.softmax(scores) as tf.Tensor4D;
    });
    const keepT = keep ? tf.tensor(keep, probs.shape, 'bool') : undefined;
    save(keepT ? [qkvs, probs, keepT] : [qkvs, probs]);
    const dropped = keepT ? tf.tidy(() => tf.mul(probs, dropoutScale(keepT, rate)) as tf.Tensor4D) : probs;
    return {
      value: mergeHeads(tf.matMul(dropped, v)),
      gradFunc: released((dy: tf.Tensor3D, saved: tf.Tensor[]) => {
        const [sq, sk, sv] = splitQkv(saved[0]!, heads);
        const p = saved[1] as tf.Tensor4D;
        const scaleKeep = saved[2] ? tf.tidy(() => dropoutScale(saved[2]!, rate)) : undefined;
        const dOut = tf.transpose(tf.reshape(dy, [m, n, heads, d]), [0, 2, 1, 3]) as tf.Tensor4D;
        const dv = tf.tidy(() => tf.matMul(scaleKeep ? (tf.mul(p, scaleKeep) as tf.Tensor4D) : p, dOut, true, false) as tf.Tensor4D);
        const ds = tf.tidy(() => {
          let dp = matMulBT(dOut, sv);
          if (scaleKeep) {
            const dropped = tf.mul(dp, scaleKeep) as tf.Tensor4D;
            tf.dispose([dp, scaleKeep]);
            dp = dropped;
          }
          // Softmax: ds = p·(dp − Σ_j dp·p).
          const rowDot = tf.tidy(() => tf.sum(tf.mul(dp, p), -1, true));
          const centred = tf.sub(dp, rowDot);
          dp.dispose();
          return tf.mul(p, centred) as tf.Tensor4D;
        });
        // Either order of scaling gives s = scale·q·kᵀ (+ constants).
        const dq = tf.mul(tf.matMul(ds, sk), o.scale) as tf.Tensor4D;
        const dk = tf.mul(tf.matMul(ds, sq, true, false), o.scale) as tf.Tensor4D;
        const dqkv = tf.concat([mergeHeads(dq), mergeHeads(dk), mergeHeads(dv)], 2);
        return hasBias ? [dqkv, colSum(ds, heads * n * n, [heads, n, n])] : [dqkv];
      }),
    };
  });
  return (hasBias ? f(qkv, o.bias!) : f(qkv)) as tf.Tensor3D;
}

/**
 * attention() as the fused kernels (src/engine/kernels/attention.webgpu.ts; on a backend that
 * registered them): no [M, heads, N, N] tensor in either pass. The tape keeps qkv, out, the per-row
 * log-sum-exp [M, heads, N], the bias and the bit-packed keep flags; the constant mask is
 * uploaded again for the backward pass.
 */
export function fusedAttention(qkv: tf.Tensor3D, o: AttentionOptions): tf.Tensor3D {
  const n = qkv.shape[1];
  const attrs: AttentionAttrs = { heads: o.heads, scale: o.scale, scaleQuery: o.scaleQuery, keepScale: 1 / (1 - o.rate) };
  const maskInput = (): tf.NamedTensorMap => (o.mask ? { mask: tf.tensor2d(o.mask.values, [o.mask.windows, n * n]) } : {});
  const f = tf.customGrad((...args: GradArgs) => {
    const qkvs = args[0] as tf.Tensor3D;
    const bias: tf.NamedTensorMap = o.bias ? { bias: args[1] as tf.Tensor } : {};
    const keep: tf.NamedTensorMap = o.keep ? { keep: tf.tensor1d(packKeep(o.keep), 'int32') } : {};
    const inputs = { qkv: qkvs, ...bias, ...maskInput(), ...keep };
    const [out, lse] = tf.engine().runKernel(ATTENTION_KERNEL, inputs, { ...attrs }) as [tf.Tensor3D, tf.Tensor];
    // The forward function runs in a tidy: the mask and the unsaved tensors are freed after it.
    (args[args.length - 1] as tf.GradSaveFunc)([qkvs, out, lse, ...Object.values(bias), ...Object.values(keep)]);
    return {
      value: out,
      gradFunc: released((dy: tf.Tensor3D, saved: tf.Tensor[]) => {
        const [sqkv, sout, slse, ...rest] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, ...tf.Tensor[]];
        const grad: tf.NamedTensorMap = { qkv: sqkv, out: sout, lse: slse, dy, ...maskInput() };
        if (o.bias) grad['bias'] = rest.shift()!;
        if (o.keep) grad['keep'] = rest.shift()!;
        return tf.engine().runKernel(ATTENTION_GRAD_KERNEL, grad, { ...attrs }) as tf.Tensor[];
      }),
    };
  });
  return (o.bias ? f(qkv, o.bias) : f(qkv)) as tf.Tensor3D;
}

/** Entries [start, start + size) of x along axis 0 (on a rank-2 view). */
function slice0(x: tf.Tensor, start: number, size: number): tf.Tensor {
  const rest = x.size / x.shape[0]!;
  return tf.reshape(tf.slice(tf.reshape(x, [x.shape[0]!, rest]), [start, 0], [size, rest]), [size, ...x.shape.slice(1)]);
}

/** Concatenation along axis 0 (on rank-2 views), disposing the parts. */
function concat0(parts: tf.Tensor[]): tf.Tensor {
  if (parts.length === 1) return parts[0]!;
  const inner = parts[0]!.shape.slice(1);
  const rest = parts[0]!.size / parts[0]!.shape[0]!;
  const joined = tf.concat(parts.map((t) => tf.reshape(t, [t.shape[0]!, rest])), 0);
  const total = parts.reduce((a, t) => a + t.shape[0]!, 0);
  const out = tf.reshape(joined, [total, ...inner]);
  tf.dispose(parts);
  return out;
}

/**
 * Gradient checkpointing: y = fn(x, p, 0) as one tape entry that keeps only x and the named
 * parameters; the backward pass runs fn again under its own tape and returns the input and
 * parameter gradients. fn must compute the same thing both times: dropout masks are drawn
 * before (drawKeep) and captured. The engine keeps every gradient of a backward pass to its
 * end, so recomputing the attention sub-layers this way is what brings their cost down to one
 * token tensor each. Every parameter fn reads must be in `names` (checked).
 *
 * With `chunk`, fn runs on pieces x[start, start + chunk) along axis 0 in turn (forward and
 * recomputation; fn gets `start` to pick its part of the masks), so only one piece's
 * intermediates and gradients are alive at a time. That is exact only where fn treats the
 * axis-0 entries independently (sequences, images): the pieces give the same bits as the whole.
 */
export function checkpoint<T extends tf.Tensor>(
  fn: (x: tf.Tensor, p: ParamGetter, start: number) => T,
  x: tf.Tensor,
  p: ParamGetter,
  names: readonly string[],
  chunk = x.shape[0]!,
): T {
  const params = names.map((n) => p(n));
  const getterOf = (ts: readonly tf.Tensor[]): ParamGetter => {
    const byName = new Map(names.map((n, i) => [n, ts[i]!]));
    return (name) => {
      const t = byName.get(name);
      if (!t) throw new Error(`internal: checkpointed layer reads ${name}, which is not in its parameter list`);
      return t;
    };
  };
  const total = x.shape[0]!;
  const pieces: Array<[number, number]> = [];
  for (let start = 0; start < total; start += chunk) pieces.push([start, Math.min(chunk, total - start)]);
  const whole = pieces.length === 1;
  const release = releaseGradients;
  const f = tf.customGrad((...args: GradArgs) => {
    const inputs = args.slice(0, -1) as tf.Tensor[];
    (args[args.length - 1] as tf.GradSaveFunc)(inputs);
    const [xs, ...ps] = inputs as [tf.Tensor, ...tf.Tensor[]];
    const getter = getterOf(ps);
    const value = whole
      ? fn(xs, getter, 0)
      : concat0(pieces.map(([start, size]) => tf.tidy(() => fn(slice0(xs, start, size), getter, start))));
    return {
      value,
      gradFunc: released((dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, ...sp] = saved as [tf.Tensor, ...tf.Tensor[]];
        // A gradient computation started here replaces the engine's tape, which the outer
        // backward pass still has to dispose at its end: put it back afterwards.
        const engine = tf.engine();
        const outer = engine.state.activeTape;
        const gradsOf = (xPiece: tf.Tensor, dyPiece: tf.Tensor, start: number): tf.Tensor[] => {
          // The recomputed ops' gradients are internal too (dy is this op's own).
          const run = (...ts: tf.Tensor[]): tf.Tensor => {
            const once = (): tf.Tensor => fn(ts[0]!, getterOf(ts.slice(1)), start);
            return release ? withReleasedGradients(once) : once();
          };
          try {
            return tf.grads(run)([xPiece, ...sp], dyPiece);
          } finally {
            engine.state.activeTape = outer;
          }
        };
        if (whole) return gradsOf(sx, dy, 0);
        const perPiece = pieces.map(([start, size]) =>
          tf.tidy(() => gradsOf(slice0(sx, start, size), slice0(dy, start, size), start)),
        );
        return [concat0(perPiece.map((g) => g[0]!)), ...sp.map((_, i) => sumPieces(perPiece.map((g) => g[i + 1]!)))];
      }),
    };
  });
  return f(x, ...params) as T;
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
