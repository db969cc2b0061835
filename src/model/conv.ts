import * as tf from '@tensorflow/tfjs-core';
import { fanInBound } from './init.js';
import { LEAKY_SLOPE, type ParamGetter } from './layers.js';
import type { ParamSpec } from './params.js';

/**
 * 3D convolutions in channels-last NDHWC ([B, T, H, W, C]); filters are stored
 * [kt, kh, kw, in, out]. Only ops with kernels and gradients on cpu, wasm and webgpu are used.
 */

/** Conv3d(cin → cout, kernel 3) with PyTorch default initialisation. */
export function conv3dSpecs(prefix: string, cin: number, cout: number, k = 3): ParamSpec[] {
  const fanIn = cin * k * k * k;
  return [
    { name: `${prefix}.weight`, shape: [cout, cin, k, k, k], layout: 'conv3d', init: fanInBound(fanIn) },
    { name: `${prefix}.bias`, shape: [cout], layout: 'plain', init: fanInBound(fanIn) },
  ];
}

/** ConvTranspose3d(c → c, kernel (4,3,3)); PyTorch's fan_in uses weight dim 1 (output channels). */
export function convTranspose3dSpecs(prefix: string, cin: number, cout: number): ParamSpec[] {
  const fanIn = cout * 4 * 3 * 3;
  return [
    { name: `${prefix}.weight`, shape: [cin, cout, 4, 3, 3], layout: 'convT3d', init: fanInBound(fanIn) },
    { name: `${prefix}.bias`, shape: [cout], layout: 'plain', init: fanInBound(fanIn) },
  ];
}

/*
 * Rank-5 caution: TF.js's WebGPU shaders store rank-5 coordinates in a struct that some
 * programs (broadcasting binary ops, pad) index dynamically, which current WGSL rejects. So
 * every elementwise op, pad, slice, reverse and concat below runs on a rank ≤ 4 view (a reshape,
 * which copies nothing); only conv3d itself sees rank 5.
 */

/** LeakyReLU(0.1) on a flat view. */
export function leaky<T extends tf.Tensor>(x: T): T {
  return tf.reshape(tf.leakyRelu(tf.reshape(x, [-1]), LEAKY_SLOPE), x.shape) as T;
}

/** a + b for equal shapes, on flat views. */
export function addSame<T extends tf.Tensor>(a: T, b: tf.Tensor): T {
  return tf.reshape(tf.add(tf.reshape(a, [-1]), tf.reshape(b, [-1])), a.shape) as T;
}

/** x [..., C] + bias [C], on a rank-2 view. */
export function addBias<T extends tf.Tensor>(x: T, bias: tf.Tensor): T {
  const c = x.shape[x.rank - 1]!;
  return tf.reshape(tf.add(tf.reshape(x, [-1, c]), bias), x.shape) as T;
}

/** Zero padding of [B, T, H, W, C] along T, H and W (two rank ≤ 4 pads). */
export function pad5(x: tf.Tensor5D, t: [number, number], h: [number, number], w: [number, number]): tf.Tensor5D {
  const [b, nt, nh, nw, c] = x.shape;
  let y = x;
  const t2 = nt + t[0] + t[1];
  if (t[0] > 0 || t[1] > 0) {
    y = tf.reshape(tf.pad(tf.reshape(y, [b, nt, nh * nw * c]), [[0, 0], t, [0, 0]]), [b, t2, nh, nw, c]);
  }
  if (h[0] > 0 || h[1] > 0 || w[0] > 0 || w[1] > 0) {
    const h2 = nh + h[0] + h[1];
    const w2 = nw + w[0] + w[1];
    y = tf.reshape(tf.pad(tf.reshape(y, [b * t2, nh, nw, c]), [[0, 0], h, w, [0, 0]]), [b, t2, h2, w2, c]);
  }
  return y;
}

/** Frames [start, start + length) of [B, T, H, W, C] along T. */
function sliceT(x: tf.Tensor5D, start: number, length: number): tf.Tensor5D {
  const [b, t, h, w, c] = x.shape;
  const rest = h * w * c;
  return tf.reshape(tf.slice(tf.reshape(x, [b, t, rest]), [0, start, 0], [b, length, rest]), [b, length, h, w, c]);
}

/** Filter frames k (along kt) of [kt, kh, kw, in, out], concatenated in the given order. */
function taps(w: tf.Tensor5D, ks: number[]): tf.Tensor5D {
  const [kt, kh, kw, cin, cout] = w.shape;
  const rest = kh * kw * cin * cout;
  const flat = tf.reshape(w, [kt, rest]);
  const parts = ks.map((k) => tf.slice(flat, [k, 0], [1, rest]));
  const joined = parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
  return tf.reshape(joined, [ks.length, kh, kw, cin, cout]);
}

/** Reverses the spatial kernel axes (kh, kw) of [kt, kh, kw, in, out]. */
function flipHW(w: tf.Tensor5D): tf.Tensor5D {
  const [kt, kh, kw, cin, cout] = w.shape;
  return tf.reshape(tf.reverse(tf.reshape(w, [kt, kh, kw, cin * cout]), [1, 2]), w.shape);
}

/** The filter of the adjoint convolution: all kernel axes reversed, in/out swapped. */
function adjointFilter(w: tf.Tensor5D): tf.Tensor5D {
  const [kt, kh, kw, cin, cout] = w.shape;
  const flipped = tf.reverse(tf.reshape(w, [kt, kh, kw, cin * cout]), [0, 1, 2]);
  const swapped = tf.transpose(tf.reshape(flipped, [kt * kh * kw, cin, cout]), [0, 2, 1]);
  return tf.reshape(swapped, [kt, kh, kw, cout, cin]);
}

/**
 * Stride-1 conv3d with its own gradient. TF.js's wasm backend computes Conv3DBackpropInputV2
 * wrongly (its depth loop bound ignores the frame offset) and Conv3DBackpropFilterV2 wrongly for
 * strides > 1 (integer ceil of negative numbers), so: dx is a forward conv3d of dy with the
 * adjoint filter, and dW uses Conv3DBackpropFilterV2 at stride 1 only, which is correct on every
 * backend. 'same' is used only with odd kernels (symmetric padding).
 */
export function conv3dS1(x: tf.Tensor5D, w: tf.Tensor5D, pad: 'same' | 'valid'): tf.Tensor5D {
  const [kt, kh, kw] = w.shape;
  if (pad === 'same' && (kt % 2 === 0 || kh % 2 === 0 || kw % 2 === 0)) {
    throw new Error(`conv3dS1: 'same' needs an odd kernel, got (${kt},${kh},${kw})`);
  }
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const xs = args[0] as tf.Tensor5D;
    const ws = args[1] as tf.Tensor5D;
    (args[2] as tf.GradSaveFunc)([xs, ws]);
    return {
      value: tf.conv3d(xs, ws, [1, 1, 1], pad),
      gradFunc: (dy: tf.Tensor5D, saved: tf.Tensor[]) => {
        const [sx, sw] = saved as [tf.Tensor5D, tf.Tensor5D];
        const dyIn = pad === 'valid' ? pad5(dy, [kt - 1, kt - 1], [kh - 1, kh - 1], [kw - 1, kw - 1]) : dy;
        const dx = tf.conv3d(dyIn, adjointFilter(sw), [1, 1, 1], pad);
        const dw = tf.engine().runKernel('Conv3DBackpropFilterV2', { x: sx, dy }, {
          strides: [1, 1, 1],
          pad,
          filterShape: sw.shape,
        }) as tf.Tensor;
        return [dx, dw];
      },
    };
  });
  return f(x, w);
}

/** Conv3d kernel 3, stride 1, padding 1 (symmetric, so 'same' is exact), plus bias. */
export function conv3dSame(x: tf.Tensor5D, p: ParamGetter, prefix: string): tf.Tensor5D {
  return addBias(conv3dS1(x, p(`${prefix}.weight`) as tf.Tensor5D, 'same'), p(`${prefix}.bias`));
}

/** The SingleConv block: Conv3d(k3, p1) + LeakyReLU(0.1). */
export function singleConv(x: tf.Tensor5D, p: ParamGetter, prefix: string): tf.Tensor5D {
  return leaky(conv3dSame(x, p, prefix));
}

/**
 * Conv3d kernel 3, stride (2,1,1), padding 1 on every side (PyTorch semantics; TF's 'same'
 * would pad T asymmetrically for stride 2), plus bias; no activation. T must be even.
 *
 * Built from stride-1 convolutions on the even and odd frames (the same arithmetic as the
 * strided conv, see conv3dS1 for why): out[m] = x[2m−1]·W[0] + x[2m]·W[1] + x[2m+1]·W[2]
 *                                             = odd[m−1]·W[0] + even[m]·W[1] + odd[m]·W[2].
 */
export function conv3dDown(x: tf.Tensor5D, p: ParamGetter, prefix: string): tf.Tensor5D {
  const w = p(`${prefix}.weight`) as tf.Tensor5D;
  const [b, t, h, wd, c] = x.shape;
  if (t % 2 !== 0) throw new Error(`conv3dDown expects an even T, got ${t}`);
  const half = t / 2;
  const frame = h * wd * c;
  const pairs = tf.reshape(x, [b, half, 2, frame]);
  const even = tf.reshape(tf.slice(pairs, [0, 0, 0, 0], [b, half, 1, frame]), [b, half, h, wd, c]) as tf.Tensor5D;
  const odd = tf.reshape(tf.slice(pairs, [0, 0, 1, 0], [b, half, 1, frame]), [b, half, h, wd, c]) as tf.Tensor5D;
  const fromEven = conv3dS1(even, taps(w, [1]), 'same');
  const fromOdd = conv3dS1(pad5(odd, [1, 0], [1, 1], [1, 1]), taps(w, [0, 2]), 'valid');
  return addBias(addSame(fromEven, fromOdd), p(`${prefix}.bias`));
}

/**
 * ConvTranspose3d with kernel (4,3,3), stride (2,1,1), padding (1,1,1): output T = 2·T_in,
 * same H and W. `w` is [4, 3, 3, in, out] (PyTorch (in,out,kt,kh,kw) permuted), `bias` [out].
 *
 * Built from two stride-1 convolutions (one per output phase) so that it is differentiable on
 * every backend (TF.js registers no gradient for Conv3DBackpropInputV2). With PyTorch's
 * definition out[o] = Σ_{o = 2t − 1 + k} x[t]·W[k] along T:
 *   out[2m]   = x[m−1]·W[3] + x[m]·W[1]
 *   out[2m+1] = x[m]·W[2]   + x[m+1]·W[0]
 * and along H, W (stride 1, padding 1, kernel 3) a correlation with the flipped kernel.
 */
export function convTranspose3dUp(x: tf.Tensor5D, w: tf.Tensor5D, bias: tf.Tensor1D): tf.Tensor5D {
  const [b, t, h, wd] = x.shape;
  const [kt, kh, kw, , cout] = w.shape;
  if (kt !== 4 || kh !== 3 || kw !== 3) throw new Error(`convTranspose3dUp expects a (4,3,3) kernel, got (${kt},${kh},${kw})`);
  const flipped = flipHW(w);
  const padded = pad5(x, [1, 1], [1, 1], [1, 1]);
  const even = conv3dS1(sliceT(padded, 0, t + 1), taps(flipped, [3, 1]), 'valid');
  const odd = conv3dS1(sliceT(padded, 1, t + 1), taps(flipped, [2, 0]), 'valid');
  // Interleave along T: [B·T, 1, H·W·C] twice -> [B·T, 2, H·W·C] -> [B, 2T, H, W, C].
  const frame = h * wd * cout;
  const both = tf.concat([tf.reshape(even, [b * t, 1, frame]), tf.reshape(odd, [b * t, 1, frame])], 1);
  return addBias(tf.reshape(both, [b, 2 * t, h, wd, cout]) as tf.Tensor5D, bias);
}

export function upSample(x: tf.Tensor5D, p: ParamGetter, prefix: string): tf.Tensor5D {
  return convTranspose3dUp(x, p(`${prefix}.weight`) as tf.Tensor5D, p(`${prefix}.bias`) as tf.Tensor1D);
}
