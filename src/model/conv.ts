import * as tf from '@tensorflow/tfjs-core';
import { fanInBound } from './init.js';
import { addSame, addTrailing, colSum, LEAKY_SLOPE, type ParamGetter, released } from './layers.js';
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

export { addSame };

type GradArgs = Array<tf.Tensor | tf.GradSaveFunc>;

/** LeakyReLU(0.1) on a flat view. */
export function leaky<T extends tf.Tensor>(x: T): T {
  return tf.reshape(tf.leakyRelu(tf.reshape(x, [-1]), LEAKY_SLOPE), x.shape) as T;
}

/** x [..., C] + bias [C], on a rank-2 view (no gradient bookkeeping of its own: use inside customGrad). */
function plainAddBias<T extends tf.Tensor>(x: T, bias: tf.Tensor): T {
  const c = x.shape[x.rank - 1]!;
  return tf.reshape(tf.add(tf.reshape(x, [-1, c]), bias), x.shape) as T;
}

/** x [..., C] + bias [C]; the gradient keeps nothing. */
export function addBias<T extends tf.Tensor>(x: T, bias: tf.Tensor): T {
  return addTrailing(x, bias);
}

/** Σ over everything but the channel axis of dy [..., C]: a bias gradient. */
function biasGrad(dy: tf.Tensor): tf.Tensor1D {
  return colSum(dy, dy.shape[dy.rank - 1]!) as tf.Tensor1D;
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

/** x[:, t0:t0+t, h0:h0+h, w0:w0+w, :] of [B, T, H, W, C] (two rank ≤ 4 slices). */
function crop5(x: tf.Tensor5D, begin: [number, number, number], size: [number, number, number]): tf.Tensor5D {
  const [b, , nh, nw, c] = x.shape;
  const [t, h, w] = size;
  const y = sliceT(x, begin[0], t);
  const s = tf.slice(tf.reshape(y, [b * t, nh, nw, c]), [0, begin[1], begin[2], 0], [b * t, h, w, c]);
  return tf.reshape(s, [b, t, h, w, c]);
}

/** Tap k of each filter gradient [n, kh, kw, in, out], joined in the given order along the tap axis. */
function joinTaps(parts: Array<[tf.Tensor5D, number]>, like: tf.Tensor5D): tf.Tensor5D {
  const [, kh, kw, cin, cout] = like.shape;
  const rest = kh * kw * cin * cout;
  const frames = parts.map(([g, k]) => tf.slice(tf.reshape(g, [g.shape[0], rest]), [k, 0], [1, rest]));
  return tf.reshape(tf.concat(frames, 0), [parts.length, kh, kw, cin, cout]);
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
 * Gradients of a stride-1 conv3d y = conv3d(x, w, pad) for dy: dx as a forward conv3d of dy with
 * the adjoint filter, dW through Conv3DBackpropFilterV2 at stride 1. TF.js's wasm backend
 * computes Conv3DBackpropInputV2 wrongly (its depth loop bound ignores the frame offset) and
 * Conv3DBackpropFilterV2 wrongly for strides > 1 (integer ceil of negative numbers); these two
 * are correct on every backend. 'same' is used only with odd kernels (symmetric padding).
 */
function conv3dS1Grads(x: tf.Tensor5D, w: tf.Tensor5D, dy: tf.Tensor5D, pad: 'same' | 'valid'): [tf.Tensor5D, tf.Tensor5D] {
  const [kt, kh, kw] = w.shape;
  const dyIn = pad === 'valid' ? pad5(dy, [kt - 1, kt - 1], [kh - 1, kh - 1], [kw - 1, kw - 1]) : dy;
  const dx = tf.conv3d(dyIn, adjointFilter(w), [1, 1, 1], pad);
  const dw = tf.engine().runKernel('Conv3DBackpropFilterV2', { x, dy }, {
    strides: [1, 1, 1],
    pad,
    filterShape: w.shape,
  }) as tf.Tensor5D;
  return [dx, dw];
}

function checkOddKernel(w: tf.Tensor5D, pad: 'same' | 'valid'): void {
  const [kt, kh, kw] = w.shape;
  if (pad === 'same' && (kt % 2 === 0 || kh % 2 === 0 || kw % 2 === 0)) {
    throw new Error(`conv3dS1: 'same' needs an odd kernel, got (${kt},${kh},${kw})`);
  }
}

/** Stride-1 conv3d with its own gradient (conv3dS1Grads says why). */
export function conv3dS1(x: tf.Tensor5D, w: tf.Tensor5D, pad: 'same' | 'valid'): tf.Tensor5D {
  checkOddKernel(w, pad);
  const f = tf.customGrad((...args: GradArgs) => {
    const xs = args[0] as tf.Tensor5D;
    const ws = args[1] as tf.Tensor5D;
    (args[2] as tf.GradSaveFunc)([xs, ws]);
    return {
      value: tf.conv3d(xs, ws, [1, 1, 1], pad),
      gradFunc: released((dy: tf.Tensor5D, saved: tf.Tensor[]) =>
        conv3dS1Grads(saved[0] as tf.Tensor5D, saved[1] as tf.Tensor5D, dy, pad),
      ),
    };
  });
  return f(x, w);
}

/** Conv3d kernel 3, stride 1, padding 1 (symmetric, so 'same' is exact), plus bias. */
export function conv3dSame(x: tf.Tensor5D, p: ParamGetter, prefix: string): tf.Tensor5D {
  return addBias(conv3dS1(x, p(`${prefix}.weight`) as tf.Tensor5D, 'same'), p(`${prefix}.bias`));
}

/**
 * The SingleConv block: Conv3d(k3, p1) + bias + LeakyReLU(0.1), one tape entry that keeps x, W
 * and where the output is positive, as bool (LeakyReLU's slope is positive, so that is where
 * its input is): saving y instead would keep a float copy of what the next layer saves as its x.
 */
export function singleConv(x: tf.Tensor5D, p: ParamGetter, prefix: string): tf.Tensor5D {
  const f = tf.customGrad((...args: GradArgs) => {
    const [xs, ws, bs] = args as [tf.Tensor5D, tf.Tensor5D, tf.Tensor1D];
    const y = leaky(plainAddBias(tf.conv3d(xs, ws, [1, 1, 1], 'same'), bs));
    (args[3] as tf.GradSaveFunc)([xs, ws, tf.greater(tf.reshape(y, [-1]), 0)]);
    return {
      value: y,
      gradFunc: released((dy: tf.Tensor5D, saved: tf.Tensor[]) => {
        const [sx, sw, positive] = saved as [tf.Tensor5D, tf.Tensor5D, tf.Tensor];
        // LeakyRelu's own gradient: where(x > 0, dy, dy·slope).
        const flat = tf.reshape(dy, [-1]);
        const dz = tf.reshape(tf.where(positive, flat, tf.mul(flat, LEAKY_SLOPE)), dy.shape) as tf.Tensor5D;
        const [dx, dw] = conv3dS1Grads(sx, sw, dz, 'same');
        return [dx, dw, biasGrad(dz)];
      }),
    };
  });
  return f(x, p(`${prefix}.weight`), p(`${prefix}.bias`)) as tf.Tensor5D;
}

/** Frames 2m + k (k = 0: even, 1: odd) of [B, T, H, W, C], as [B, T/2, H, W, C]. */
function framesOf(x: tf.Tensor5D, k: 0 | 1): tf.Tensor5D {
  const [b, t, h, wd, c] = x.shape;
  const half = t / 2;
  const frame = h * wd * c;
  return tf.reshape(tf.slice(tf.reshape(x, [b, half, 2, frame]), [0, 0, k, 0], [b, half, 1, frame]), [b, half, h, wd, c]) as tf.Tensor5D;
}

/** Even and odd frames of [B, T, H, W, C], each [B, T/2, H, W, C]. */
function evenOdd(x: tf.Tensor5D): [tf.Tensor5D, tf.Tensor5D] {
  return [framesOf(x, 0), framesOf(x, 1)];
}

/** Inverse of evenOdd: frames interleaved along T. */
function interleave(even: tf.Tensor5D, odd: tf.Tensor5D): tf.Tensor5D {
  const [b, half, h, wd, c] = even.shape;
  const frame = h * wd * c;
  const both = tf.concat([tf.reshape(even, [b * half, 1, frame]), tf.reshape(odd, [b * half, 1, frame])], 1);
  return tf.reshape(both, [b, 2 * half, h, wd, c]);
}

/**
 * Conv3d kernel 3, stride (2,1,1), padding 1 on every side (PyTorch semantics; TF's 'same'
 * would pad T asymmetrically for stride 2), plus bias; no activation. T must be even.
 *
 * Built from stride-1 convolutions on the even and odd frames (the same arithmetic as the
 * strided conv, see conv3dS1Grads for why): out[m] = x[2m−1]·W[0] + x[2m]·W[1] + x[2m+1]·W[2]
 *                                                  = odd[m−1]·W[0] + even[m]·W[1] + odd[m]·W[2].
 * One tape entry that keeps x and W; its gradient is the adjoint of each step.
 */
export function conv3dDown(x: tf.Tensor5D, p: ParamGetter, prefix: string): tf.Tensor5D {
  const t = x.shape[1];
  if (t % 2 !== 0) throw new Error(`conv3dDown expects an even T, got ${t}`);
  const f = tf.customGrad((...args: GradArgs) => {
    const [xs, w, bias] = args as [tf.Tensor5D, tf.Tensor5D, tf.Tensor1D];
    (args[3] as tf.GradSaveFunc)([xs, w]);
    const [even, odd] = evenOdd(xs);
    const fromEven = tf.conv3d(even, taps(w, [1]), [1, 1, 1], 'same');
    const fromOdd = tf.conv3d(pad5(odd, [1, 0], [1, 1], [1, 1]), taps(w, [0, 2]), [1, 1, 1], 'valid');
    const sum = tf.reshape(tf.add(tf.reshape(fromEven, [-1]), tf.reshape(fromOdd, [-1])), fromEven.shape) as tf.Tensor5D;
    return {
      value: plainAddBias(sum, bias),
      gradFunc: released((dy: tf.Tensor5D, saved: tf.Tensor[]) => {
        const [sx, sw] = saved as [tf.Tensor5D, tf.Tensor5D];
        const [, , h, wd] = sx.shape;
        // One phase at a time (each has its temporaries: frame copies, padding).
        const [dEven, dW1] = tf.tidy(() => conv3dS1Grads(framesOf(sx, 0), taps(sw, [1]), dy, 'same'));
        const [dOdd, dW02] = tf.tidy(() => {
          const [dPadded, dTaps] = conv3dS1Grads(pad5(framesOf(sx, 1), [1, 0], [1, 1], [1, 1]), taps(sw, [0, 2]), dy, 'valid');
          return [crop5(dPadded, [1, 1, 1], [t / 2, h, wd]), dTaps];
        });
        const dw = joinTaps([[dW02, 0], [dW1, 0], [dW02, 1]], sw);
        return [interleave(dEven, dOdd), dw, biasGrad(dy)];
      }),
    };
  });
  return f(x, p(`${prefix}.weight`), p(`${prefix}.bias`)) as tf.Tensor5D;
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
 * One tape entry that keeps x and W; its gradient is the adjoint of each step.
 */
export function convTranspose3dUp(x: tf.Tensor5D, w: tf.Tensor5D, bias: tf.Tensor1D): tf.Tensor5D {
  const [, t, h, wd] = x.shape;
  const [kt, kh, kw] = w.shape;
  if (kt !== 4 || kh !== 3 || kw !== 3) throw new Error(`convTranspose3dUp expects a (4,3,3) kernel, got (${kt},${kh},${kw})`);
  // Frames of the T-padded input each phase reads: [0, t+1) (a zero frame first) and [1, t+2)
  // (a zero frame last), with the H, W padding.
  const padOf = (xs: tf.Tensor5D, phase: 0 | 1): tf.Tensor5D => pad5(xs, phase === 0 ? [1, 0] : [0, 1], [1, 1], [1, 1]);
  const TAPS: [number[], number[]] = [[3, 1], [2, 0]];
  const f = tf.customGrad((...args: GradArgs) => {
    const [xs, ws, bs] = args as [tf.Tensor5D, tf.Tensor5D, tf.Tensor1D];
    (args[3] as tf.GradSaveFunc)([xs, ws]);
    const flipped = flipHW(ws);
    const even = tf.conv3d(padOf(xs, 0), taps(flipped, TAPS[0]), [1, 1, 1], 'valid');
    const odd = tf.conv3d(padOf(xs, 1), taps(flipped, TAPS[1]), [1, 1, 1], 'valid');
    return {
      value: plainAddBias(interleave(even, odd), bs),
      gradFunc: released((dy: tf.Tensor5D, saved: tf.Tensor[]) => {
        const [sx, sw] = saved as [tf.Tensor5D, tf.Tensor5D];
        const sFlipped = flipHW(sw);
        // One phase at a time (the padded copies are the largest temporaries of the backward pass).
        const [even, odd] = ([0, 1] as const).map((phase) =>
          tf.tidy(() => {
            const [dIn, dTaps] = conv3dS1Grads(padOf(sx, phase), taps(sFlipped, TAPS[phase]), framesOf(dy, phase), 'valid');
            return { dx: crop5(dIn, [1 - phase, 1, 1], [t, h, wd]), dTaps };
      }),
        ) as [{ dx: tf.Tensor5D; dTaps: tf.Tensor5D }, { dx: tf.Tensor5D; dTaps: tf.Tensor5D }];
        const dFlipped = joinTaps([[odd.dTaps, 1], [even.dTaps, 1], [odd.dTaps, 0], [even.dTaps, 0]], sFlipped);
        return [addSame(even.dx, odd.dx), flipHW(dFlipped), biasGrad(dy)];
      }),
    };
  });
  return f(x, w, bias) as tf.Tensor5D;
}

export function upSample(x: tf.Tensor5D, p: ParamGetter, prefix: string): tf.Tensor5D {
  return convTranspose3dUp(x, p(`${prefix}.weight`) as tf.Tensor5D, p(`${prefix}.bias`) as tf.Tensor1D);
}
