import { CheckpointError } from '../../errors.js';
import { LAYER_NORM_EPS, LEAKY_SLOPE } from '../../model/layers.js';
import { formatShape, type ParamSpec, type StateDict, toInternalPerm, transposeData } from '../../model/params.js';
import { floatAttr, type GraphBuilder } from './graph.js';

/**
 * The network's layers as ONNX nodes, in the layout of the published PyTorch module (NCDHW,
 * channels first), so convolution weights go in unchanged and only Linear weights are
 * transposed (to [in, out], for MatMul). Eval mode: no dropout.
 */
export class OnnxLayers {
  private readonly added = new Map<string, string>();

  constructor(
    readonly g: GraphBuilder,
    private readonly sd: StateDict,
    private readonly specs: ReadonlyMap<string, ParamSpec>,
    private readonly source: string,
  ) {}

  /** The parameter `name` as an initializer in its published layout (added once). */
  param(name: string): string {
    return this.weight(name, false);
  }

  /** Conv3d, kernel 3, padding 1, plus bias; stride 2 along T for the encoders' down-sampling. */
  conv(x: string, prefix: string, strideT = 1): string {
    return this.g.op('Conv', [x, this.param(`${prefix}.weight`), this.param(`${prefix}.bias`)], {
      kernel_shape: [3, 3, 3],
      pads: [1, 1, 1, 1, 1, 1],
      strides: [strideT, 1, 1],
    });
  }

  /** Conv3d + LeakyReLU(0.1): the published SingleConv. */
  singleConv(x: string, prefix: string): string {
    return this.g.op('LeakyRelu', [this.conv(x, prefix)], { alpha: floatAttr(LEAKY_SLOPE) });
  }

  /**
   * ConvTranspose3d, kernel (4,3,3), stride (2,1,1), padding 1 (doubles T), as two stride-1
   * convolutions, one per output phase, interleaved along T (model/conv.ts derives the taps):
   *   out[2m] = x[m−1]·W[3] + x[m]·W[1],   out[2m+1] = x[m]·W[2] + x[m+1]·W[0].
   * ONNX Runtime's CPU ConvTranspose does its col2im on one thread: the four of the default
   * network took 38 % of a 32×128×128 patch, more than all the convolutions together, and its
   * Conv kernels do the same arithmetic several times faster.
   */
  upSample(x: string, prefix: string, dims: { c: number; t: number; h: number; w: number }): string {
    const g = this.g;
    const weight = this.tensorData(`${prefix}.weight`);
    const bias = this.param(`${prefix}.bias`);
    const { c, t, h, w } = dims;
    const phase = (name: string, taps: readonly [number, number], pads: readonly number[]): string => {
      const kernel = g.initializer(`${prefix}.${name}`, [c, c, 2, 3, 3], phaseKernel(weight, c, taps));
      const y = g.op('Conv', [x, kernel, bias], { kernel_shape: [2, 3, 3], pads, strides: [1, 1, 1] });
      return this.reshape(y, [1, c, t, 1, h, w]);
    };
    const even = phase('even', [3, 1], [1, 1, 1, 0, 1, 1]);
    const odd = phase('odd', [2, 0], [0, 1, 1, 1, 1, 1]);
    return this.reshape(g.op('Concat', [even, odd], { axis: 3 }), [1, c, 2 * t, h, w]);
  }

  /** x·Wᵀ (+ b) over the last axis. */
  linear(x: string, prefix: string, bias = true): string {
    const y = this.g.op('MatMul', [x, this.weight(`${prefix}.weight`, true)]);
    return bias ? this.g.op('Add', [y, this.param(`${prefix}.bias`)]) : y;
  }

  layerNorm(x: string, prefix: string): string {
    return this.g.op('LayerNormalization', [x, this.param(`${prefix}.weight`), this.param(`${prefix}.bias`)], {
      axis: -1,
      epsilon: floatAttr(LAYER_NORM_EPS),
    });
  }

  /**
   * GELU in its erf form, (x·(1 + erf(x/√2)))·0.5 (opset 17 has no Gelu op), written in the
   * order ONNX Runtime's GeluFusion recognises: with x·√½ in place of x/√2 it left five
   * element-wise passes over the MLP's widest tensor, 11 % of a patch, instead of one Gelu.
   */
  gelu(x: string): string {
    const g = this.g;
    const erf = g.op('Erf', [g.op('Div', [x, g.scalar(Math.SQRT2)])]);
    return g.op('Mul', [g.op('Mul', [x, g.op('Add', [erf, g.scalar(1)])]), g.scalar(0.5)]);
  }

  /** x + fc2(GELU(fc1(LN(x)))): the MLP sub-layer of both transformers. */
  mlpResidual(x: string, norm: string, fc1: string, fc2: string): string {
    const h = this.gelu(this.linear(this.layerNorm(x, norm), fc1));
    return this.g.op('Add', [x, this.linear(h, fc2)]);
  }

  reshape(x: string, shape: readonly number[]): string {
    return this.g.op('Reshape', [x, this.g.ints(shape)]);
  }

  transpose(x: string, perm: readonly number[]): string {
    return this.g.op('Transpose', [x], { perm });
  }

  /** x[begin:end] along each of `axes`. */
  slice(x: string, axes: readonly number[], begin: readonly number[], end: readonly number[]): string {
    return this.g.op('Slice', [x, this.g.ints(begin), this.g.ints(end), this.g.ints(axes)]);
  }

  /** torch.roll along one axis of length n: out[i] = x[(i − shift) mod n]. */
  roll(x: string, shift: number, axis: number, n: number): string {
    const k = (((-shift) % n) + n) % n;
    if (k === 0) return x;
    return this.g.op('Concat', [this.slice(x, [axis], [k], [n]), this.slice(x, [axis], [0], [k])], { axis });
  }

  /**
   * Multi-head attention on packed qkv [M, N, 3E] → [M, N, E]: softmax(q·kᵀ·scale + bias + mask)·v
   * with q scaled before the product (Swin) or the product after (the temporal SelfAttention), as
   * the TF.js network does. `bias` broadcasts over [M, heads, N, N]; `mask` [windows, 1, N, N]
   * over groups of `windows` consecutive sequences (the shifted windows' mask differs per window).
   */
  attention(
    qkv: string, dims: { m: number; n: number; e: number; heads: number },
    o: { scale: number; scaleQuery: boolean; bias?: string; mask?: { value: string; windows: number } },
  ): string {
    const { m, n, e, heads } = dims;
    const d = e / heads;
    const g = this.g;
    const [q, k, v] = g.opN('Split', [qkv, g.ints([e, e, e])], 3, { axis: 2 }) as [string, string, string];
    const heads4 = (t: string, perm: number[]): string => this.transpose(this.reshape(t, [m, n, heads, d]), perm);
    const qh = heads4(q, [0, 2, 1, 3]);
    const kt = heads4(k, [0, 2, 3, 1]);
    const vh = heads4(v, [0, 2, 1, 3]);
    const scale = g.scalar(o.scale);
    let scores = o.scaleQuery ? g.op('MatMul', [g.op('Mul', [qh, scale]), kt]) : g.op('Mul', [g.op('MatMul', [qh, kt]), scale]);
    if (o.bias) scores = g.op('Add', [scores, o.bias]);
    if (o.mask) {
      const grouped = this.reshape(scores, [m / o.mask.windows, o.mask.windows, heads, n, n]);
      scores = this.reshape(g.op('Add', [grouped, o.mask.value]), [m, heads, n, n]);
    }
    const probs = g.op('Softmax', [scores], { axis: -1 });
    return this.reshape(this.transpose(g.op('MatMul', [probs, vh]), [0, 2, 1, 3]), [m, n, e]);
  }

  /** The published-layout values of the parameter `name`, its dtype and shape checked. */
  tensorData(name: string): Float32Array {
    const spec = this.specs.get(name);
    const t = this.sd.get(name);
    if (!spec) throw new Error(`internal: ${name} is not a parameter of this configuration`);
    if (!t) throw new CheckpointError(`${this.source}: lacks the tensor '${name}'`);
    if (!(t.data instanceof Float32Array) || t.shape.length !== spec.shape.length || t.shape.some((v, i) => v !== spec.shape[i])) {
      throw new CheckpointError(
        `${this.source}: tensor '${name}' is ${t.dtype} ${formatShape(t.shape)}, the configuration needs float32 ${formatShape(spec.shape)}`,
      );
    }
    return t.data;
  }

  private weight(name: string, transposed: boolean): string {
    const key = `${name}${transposed ? '#T' : ''}`;
    const known = this.added.get(key);
    if (known) return known;
    const data = this.tensorData(name);
    const shape = this.specs.get(name)!.shape;
    const added = transposed
      ? this.g.initializer(`${name}_t`, [shape[1]!, shape[0]!], transposeData(data, shape, toInternalPerm('linear', 2)))
      : this.g.initializer(name, shape, data);
    this.added.set(key, added);
    return added;
  }
}

/**
 * The Conv weight [out, in, 2, 3, 3] of one output phase of a ConvTranspose3d weight
 * [in, out, 4, 3, 3] (PyTorch's layout, c channels in and out): the two temporal taps, the
 * spatial kernel flipped (a transposed convolution is a correlation with the flipped kernel).
 */
function phaseKernel(weight: Float32Array, c: number, taps: readonly [number, number]): Float32Array {
  const out = new Float32Array(c * c * 2 * 9);
  for (let o = 0; o < c; o++) {
    for (let i = 0; i < c; i++) {
      for (let j = 0; j < 2; j++) {
        for (let a = 0; a < 3; a++) {
          for (let b = 0; b < 3; b++) {
            out[(((o * c + i) * 2 + j) * 3 + a) * 3 + b] = weight[(((i * c + o) * 4 + taps[j]!) * 3 + (2 - a)) * 3 + (2 - b)]!;
          }
        }
      }
    }
  }
  return out;
}
