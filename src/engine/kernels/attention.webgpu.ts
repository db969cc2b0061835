/**
 * Fused multi-head attention for TF.js's 'webgpu' backend, as two kernels of our own (no stock
 * kernel is replaced): `SrdAttention` computes softmax(q·kᵀ·scale + bias + mask), dropout, ·v on
 * packed qkv [M, N, 3E] in one pass, and `SrdAttentionGrad` its gradients (names and attributes:
 * engine/custom-kernels.ts). src/model/layers.ts (attention) calls them, inside a customGrad,
 * wherever they are registered.
 *
 * Why: written with stock ops, one attention call ran about 19 programs more in the forward
 * pass and 51 more in the backward pass (counted in a profiled training step) and wrote and
 * read several [M, heads, N, N] tensors (scores, biased and masked scores, probabilities,
 * dropped probabilities, their gradients); the tape kept the probabilities. Here nothing of
 * that size exists: the forward pass keeps per row the log-sum-exp of its scores only, and the
 * backward pass recomputes each probability from it. bench/attention-webgpu.ts on Mesa lavapipe
 * (software, 2 shared CPU cores: indicative only), a shifted Swin block of the default network
 * (M = 400, N = 49, E = 128, 8 heads): forward 2990 → 265 ms, forward+backward 10700 → 2050 ms,
 * peak tensor memory 461 → 173 MiB; temporal (M = 512, N = 8, dropout): 332 → 17 and
 * 1190 → 76 ms. A whole training step on [1, 32, 32, 32]: 24.9 → 21.2 s.
 *
 * One thread per query row (m, head, i) in the forward pass: a running-max (online) softmax over
 * the keys j, with the weighted sum of values rescaled whenever the max grows; out = Σ_j p_ij ·
 * keep_ij/(1−rate) · v_j, lse_i = max + log Σ exp. Backward, with s recomputed and p_ij =
 * exp(s_ij − lse_i), dp_ij = keep_ij/(1−rate) · dOut_i·v_j and ds_ij = p_ij·(dp_ij − D_i), where
 * D_i = Σ_j p_ij·dp_ij = dOut_i·out_i (dropout included):
 *  - rowDot: D_i, one thread per row;
 *  - dq_i = scale·Σ_j ds_ij·k_j, one thread per query row;
 *  - dk_j = scale·Σ_i ds_ij·q_i and dv_j = Σ_i p_ij·keep_ij/(1−rate)·dOut_i, one thread per key
 *    row, writing into the same dqkv buffer as dq (disjoint elements);
 *  - dbias = Σ_m ds, one thread per (head, i, j) looping over the sequences (no float atomics in
 *    WGSL, and a [M, heads, N, N] buffer of ds is what this avoids).
 * Each program recomputes s (and dp) instead of sharing them through memory: TF.js's WebGPU
 * programs write one output each, and the recomputation costs d multiply-adds per (i, j) pair.
 * For the same reason the forward program writes out and lse end to end into one buffer, and
 * two copies split it: M·(N·E + heads·N) floats copied, against 4·M·heads·N²·d flops.
 *
 * Head width d, N, heads and which optional inputs exist are constants of each pipeline (a
 * thread's rows of d floats are variables, see `each`); M, the loop trip counts, the mask's
 * window count, the scale and the dropout factor are uniforms. Threads of a workgroup hold
 * consecutive rows of mostly one (m, head), so the key and value rows each reads at a step are
 * the same for all of them (a broadcast). No workgroup memory, no barriers.
 *
 * Dropout keep flags come bit-packed (packKeep): 32 a word, against 4 bytes a flag for a bool
 * tensor on this backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { ATTENTION_GRAD_KERNEL, ATTENTION_KERNEL, type AttentionAttrs } from '../custom-kernels.js';

const WG = 64;

/** What a pipeline is specialised on. */
interface Geometry {
  n: number;
  heads: number;
  d: number;
  bias: boolean;
  mask: boolean;
  keep: boolean;
  scaleQuery: boolean;
}

function keyOf(g: Geometry): string {
  return `${g.n}_${g.heads}_${g.d}_${+g.bias}${+g.mask}${+g.keep}${+g.scaleQuery}`;
}

const UNIFORMS = 'seqs : i32, windows : i32, scale : f32, keepScale : f32, outSize : i32, len : i32,';

/** The optional inputs present, in the order the programs bind them after their own. */
function optionalNames(g: Geometry): string[] {
  return [...(g.bias ? ['bias'] : []), ...(g.mask ? ['mask'] : []), ...(g.keep ? ['keep'] : [])];
}

/**
 * Floats per load: qkv, dOut and out are read as quads where d % 4 == 0 (a head's slice of a
 * token then starts on a quad).
 */
function widthOf(g: Geometry): number {
  return g.d % 4 === 0 ? 4 : 1;
}

/**
 * `body(c)` for each of the DV values of a head row, written out: a thread's q, k, dOut and
 * accumulator rows are then plain variables, kept in registers whether or not a driver unrolls
 * loops (private arrays indexed in a loop it keeps go to scratch memory on GPUs). On lavapipe
 * this ran as fast as constant-bound loops over private arrays, which LLVM unrolls itself. The
 * loops over keys, queries and sequences stay loops: their trip counts are uniforms, since
 * unrolled they made lavapipe's pipeline builds several times slower (N = 5, d = 16: 7.7 s
 * for the forward program instead of about 1.5 s).
 */
function each(g: Geometry, body: (c: number) => string): string {
  return Array.from({ length: g.d / widthOf(g) }, (_, c) => body(c)).join('\n      ');
}

/**
 * Constants and helpers of every program; vector offsets count V values (W floats each).
 * qkvAt: q of token t of sequence m, head h in qkv (k is EV further, v 2·EV); tokAt: the same
 * row of out or dOut. addend: bias + mask of score (m, h, i, j). kept: the dropout factor of
 * probability (m, h, i, j): 0 or 1/(1 − rate), or 1 without dropout. store: a V into `result`.
 */
function common(g: Geometry): string {
  const w = widthOf(g);
  const e = g.heads * g.d;
  return `
    const N = ${g.n};
    const H = ${g.heads};
    const DV = ${g.d / w};
    const EV = ${e / w};
    const E3V = ${(3 * e) / w};
    alias V = ${w === 4 ? 'vec4<f32>' : 'f32'};

    fn qkvAt(m : i32, t : i32, h : i32) -> i32 {
      return (m * N + t) * E3V + h * DV;
    }

    fn tokAt(m : i32, t : i32, h : i32) -> i32 {
      return (m * N + t) * EV + h * DV;
    }

    fn vdot(a : V, b : V) -> f32 {
      return ${w === 4 ? 'dot(a, b)' : 'a * b'};
    }

    fn store(at : i32, v : V) {
      ${w === 4 ? 'result[at * 4] = v.x;\n      result[at * 4 + 1] = v.y;\n      result[at * 4 + 2] = v.z;\n      result[at * 4 + 3] = v.w;' : 'result[at] = v;'}
    }

    fn addend(m : i32, h : i32, i : i32, j : i32) -> f32 {
      var a = 0.0;
      ${g.bias ? 'a += bias[(h * N + i) * N + j];' : ''}
      ${g.mask ? 'a += mask[((m % uniforms.windows) * N + i) * N + j];' : ''}
      return a;
    }

    fn kept(m : i32, h : i32, i : i32, j : i32) -> f32 {
      ${
        g.keep
          ? `let t = ((m * H + h) * N + i) * N + j;
      return select(0.0, uniforms.keepScale, ((keep[t >> 5u] >> u32(t & 31)) & 1) != 0);`
          : 'return 1.0;'
      }
    }`;
}

/** The factor on q in a score: the scale goes on q first with scaleQuery, on the product otherwise. */
function qScaleOf(g: Geometry): string {
  return g.scaleQuery ? ' * uniforms.scale' : '';
}

/** Statements: `s` = score (m, h, i, j) from the q and k quads `q(c)`, `k(c)` (q scaled first with scaleQuery). */
function scoreOf(g: Geometry, q: (c: number) => string, k: (c: number) => string): string {
  return `var s = 0.0;
      ${each(g, (c) => `s += vdot(${q(c)}, ${k(c)});`)}
      ${g.scaleQuery ? '' : 's *= uniforms.scale;'}
      s += addend(m, h, i, j);`;
}

/** Statements loading `name` (q0, q1, … or dO0, …) from `buf` at vector offset `at`, times `factor`. */
function load(g: Geometry, name: string, buf: string, at: string, factor = ''): string {
  return each(g, (c) => `let ${name}${c} = ${buf}[${at} + ${c}]${factor};`);
}

/** Statements declaring zeroed accumulators `name`0, 1, …. */
function zeros(g: Geometry, name: string): string {
  return each(g, (c) => `var ${name}${c} = V(0.0);`);
}

/**
 * A program with one thread per row index = (m·H + h)·N + t of [M, H, N]: `body` runs with m,
 * h and `t` (i or j) set.
 */
function perRow(g: Geometry, t: string, body: string): string {
  return `
    ${common(g)}

    fn main(index : i32) {
      if (index >= uniforms.seqs * H * N) {
        return;
      }
      let ${t} = index % N;
      let h = (index / N) % H;
      let m = index / (N * H);
      ${body}
    }`;
}

/** Statements: p, dropout factor f and ds of pair (i, j), given s, dOut in dO0, 1, …, v at vo. */
function dsOf(g: Geometry, vo: string, row: string): string {
  return `let p = exp(s - lse[${row}]);
      var dp = 0.0;
      ${each(g, (c) => `dp += vdot(dO${c}, qkv[${vo} + ${c}]);`)}
      let f = kept(m, h, i, j);
      let ds = p * (dp * f - rowDot[${row}]);`;
}

/**
 * One program of the fused attention: one thread per `threads` item, inputs bound as flat
 * arrays. Every program must read every input it binds: pipelines take their bind group layout
 * from the shader, and an input it never reads fails validation of the whole command buffer.
 */
abstract class AttentionProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  variableNames: string[];
  variableComponents: number[];
  uniforms = UNIFORMS;
  workgroupSize: [number, number, number] = [WG, 1, 1];

  /** `own` inputs are bound before the optional ones; qkv, dy and attnOut are read as V. */
  constructor(
    protected readonly g: Geometry,
    name: string,
    own: string[],
    outputSize: number,
    threads: number,
  ) {
    this.variableNames = [...own, ...optionalNames(g)];
    const vectors = ['qkv', 'dy', 'attnOut'];
    this.variableComponents = this.variableNames.map((v) => (vectors.includes(v) ? widthOf(g) : 1));
    this.outputShape = [outputSize];
    this.dispatch = [Math.ceil(threads / WG), 1, 1];
    this.shaderKey = `srdAttention${name}_${keyOf(g)}`;
  }

  abstract getUserCode(): string;
}

/** Forward: out [M, N, E] then lse [M, H, N], end to end in one buffer. */
class ForwardProgram extends AttentionProgram {
  constructor(g: Geometry, m: number) {
    const rows = m * g.heads * g.n;
    super(g, 'Forward', ['qkv'], m * g.n * g.heads * g.d + rows, rows);
  }

  getUserCode(): string {
    const g = this.g;
    return perRow(g, 'i', `
      let qo = qkvAt(m, i, h);
      ${load(g, 'q', 'qkv', 'qo', qScaleOf(g))}
      ${zeros(g, 'acc')}
      var mx = -3.0e38;
      var l = 0.0;
      for (var j = 0; j < uniforms.len; j++) {
        let ko = qkvAt(m, j, h) + EV;
        ${scoreOf(g, (c) => `q${c}`, (c) => `qkv[ko + ${c}]`)}
        if (s > mx) {
          let rescale = exp(mx - s);
          l *= rescale;
          ${each(g, (c) => `acc${c} *= rescale;`)}
          mx = s;
        }
        let p = exp(s - mx);
        l += p;
        let pv = p * kept(m, h, i, j);
        ${each(g, (c) => `acc${c} += pv * qkv[ko + EV + ${c}];`)}
      }
      let inv = 1.0 / l;
      let oo = tokAt(m, i, h);
      ${each(g, (c) => `store(oo + ${c}, acc${c} * inv);`)}
      result[uniforms.outSize + index] = mx + log(l);`);
  }
}

/** D [M, H, N] = dOut_i·out_i per head. */
class RowDotProgram extends AttentionProgram {
  constructor(g: Geometry, m: number) {
    const rows = m * g.heads * g.n;
    // D needs dOut and out only: one pipeline serves every bias, mask, dropout and scaling.
    super({ ...g, bias: false, mask: false, keep: false, scaleQuery: false }, 'RowDot', ['dy', 'attnOut'], rows, rows);
  }

  getUserCode(): string {
    const g = this.g;
    return perRow(g, 'i', `
      let o = tokAt(m, i, h);
      var sum = 0.0;
      ${each(g, (c) => `sum += vdot(dy[o + ${c}], attnOut[o + ${c}]);`)}
      result[index] = sum;`);
  }
}

const GRAD_INPUTS = ['qkv', 'lse', 'rowDot', 'dy'];

/** dq rows of dqkv [M, N, 3E]: one thread per query row. */
class DqProgram extends AttentionProgram {
  constructor(g: Geometry, m: number) {
    super(g, 'Dq', GRAD_INPUTS, m * g.n * 3 * g.heads * g.d, m * g.heads * g.n);
  }

  getUserCode(): string {
    const g = this.g;
    return perRow(g, 'i', `
      let qo = qkvAt(m, i, h);
      ${load(g, 'q', 'qkv', 'qo', qScaleOf(g))}
      let doo = tokAt(m, i, h);
      ${load(g, 'dO', 'dy', 'doo')}
      ${zeros(g, 'dq')}
      for (var j = 0; j < uniforms.len; j++) {
        let ko = qkvAt(m, j, h) + EV;
        ${scoreOf(g, (c) => `q${c}`, (c) => `qkv[ko + ${c}]`)}
        ${dsOf(g, 'ko + EV', 'index')}
        ${each(g, (c) => `dq${c} += ds * qkv[ko + ${c}];`)}
      }
      ${each(g, (c) => `store(qo + ${c}, dq${c} * uniforms.scale);`)}`);
  }
}

/** dk and dv rows of dqkv: one thread per key row, into the buffer DqProgram wrote. */
class DkvProgram extends AttentionProgram {
  constructor(g: Geometry, m: number) {
    super(g, 'Dkv', GRAD_INPUTS, m * g.n * 3 * g.heads * g.d, m * g.heads * g.n);
  }

  getUserCode(): string {
    const g = this.g;
    return perRow(g, 'j', `
      let ko = qkvAt(m, j, h) + EV;
      ${load(g, 'k', 'qkv', 'ko')}
      ${zeros(g, 'dk')}
      ${zeros(g, 'dv')}
      for (var i = 0; i < uniforms.len; i++) {
        let qo = qkvAt(m, i, h);
        ${load(g, 'q', 'qkv', 'qo')}
        ${scoreOf(g, (c) => `q${c}${qScaleOf(g)}`, (c) => `k${c}`)}
        let doo = tokAt(m, i, h);
        ${load(g, 'dO', 'dy', 'doo')}
        let row = (m * H + h) * N + i;
        ${dsOf(g, 'ko + EV', 'row')}
        let pf = p * f;
        ${each(g, (c) => `dk${c} += ds * q${c};\n        dv${c} += pf * dO${c};`)}
      }
      ${each(g, (c) => `store(ko + ${c}, dk${c} * uniforms.scale);\n      store(ko + EV + ${c}, dv${c});`)}`);
  }
}

/** dbias [H, N, N] = Σ_m ds: one thread per (h, i, j). */
class DbiasProgram extends AttentionProgram {
  constructor(g: Geometry) {
    const size = g.heads * g.n * g.n;
    super(g, 'Dbias', GRAD_INPUTS, size, size);
  }

  getUserCode(): string {
    const g = this.g;
    return `
    ${common(g)}

    fn main(index : i32) {
      if (index >= H * N * N) {
        return;
      }
      let j = index % N;
      let i = (index / N) % N;
      let h = index / (N * N);
      var total = 0.0;
      for (var m = 0; m < uniforms.seqs; m++) {
        let qo = qkvAt(m, i, h);
        let ko = qkvAt(m, j, h) + EV;
        let doo = tokAt(m, i, h);
        ${load(g, 'q', 'qkv', 'qo', qScaleOf(g))}
        ${scoreOf(g, (c) => `q${c}`, (c) => `qkv[ko + ${c}]`)}
        ${load(g, 'dO', 'dy', 'doo')}
        let row = (m * H + h) * N + i;
        ${dsOf(g, 'ko + EV', 'row')}
        total += ds;
      }
      result[index] = total;
    }`;
  }
}

/** Elements [offset, offset + size) of a flat buffer. */
class RangeProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey = 'srdAttentionRange';
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  variableNames = ['x'];
  uniforms = 'offset : i32,';
  workgroupSize: [number, number, number] = [WG, 1, 1];
  size = true;

  constructor(size: number) {
    this.outputShape = [size];
    this.dispatch = [Math.ceil(size / WG), 1, 1];
  }

  getUserCode(): string {
    return `
    fn main(index : i32) {
      if (index < uniforms.size) {
        result[index] = x[index + uniforms.offset];
      }
    }`;
  }
}

// ---------------------------------------------------------------------------------------------
// Kernels
// ---------------------------------------------------------------------------------------------

interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: NamedAttrMap;
}

function flat(t: TensorInfo): TensorInfo {
  return { dataId: t.dataId, shape: [t.shape.reduce((a, b) => a * b, 1)], dtype: t.dtype };
}

interface Call {
  g: Geometry;
  m: number;
  qkv: TensorInfo;
  optional: TensorInfo[];
  uniforms: Array<{ type: string; data: number[] }>;
}

function callOf(args: KernelArgs): Call {
  const { inputs } = args;
  const a = args.attrs as unknown as AttentionAttrs;
  const qkv = inputs['qkv'] as TensorInfo;
  const [m, n, e3] = qkv.shape as [number, number, number];
  const e = e3 / 3;
  const bias = inputs['bias'] as TensorInfo | undefined;
  const mask = inputs['mask'] as TensorInfo | undefined;
  const keep = inputs['keep'] as TensorInfo | undefined;
  if (qkv.shape.length !== 3 || e3 % 3 !== 0 || e % a.heads !== 0) {
    throw new Error(`${ATTENTION_KERNEL}: qkv [${qkv.shape}] is not [M, N, 3·heads·d] for ${a.heads} heads`);
  }
  if (keep && keep.dtype !== 'int32') throw new Error(`${ATTENTION_KERNEL}: keep must be packed int32 (packKeep)`);
  const g: Geometry = {
    n,
    heads: a.heads,
    d: e / a.heads,
    bias: bias !== undefined,
    mask: mask !== undefined,
    keep: keep !== undefined,
    scaleQuery: a.scaleQuery,
  };
  const windows = mask ? mask.shape[0]! : 1;
  return {
    g,
    m,
    qkv,
    optional: [bias, mask, keep].filter((t): t is TensorInfo => t !== undefined).map(flat),
    uniforms: [
      { type: 'int32', data: [m] },
      { type: 'int32', data: [windows] },
      { type: 'float32', data: [a.scale] },
      { type: 'float32', data: [a.keepScale] },
      { type: 'int32', data: [m * e * n] },
      { type: 'int32', data: [n] },
    ],
  };
}

function attentionForward(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as WebGPUBackend;
  const c = callOf(args);
  const { g, m } = c;
  const outSize = m * g.n * g.heads * g.d;
  const both = backend.runWebGPUProgram(new ForwardProgram(g, m), [flat(c.qkv), ...c.optional], 'float32', c.uniforms);
  const range = (offset: number, size: number, shape: number[]): TensorInfo => {
    const r = backend.runWebGPUProgram(new RangeProgram(size), [both], 'float32', [{ type: 'int32', data: [offset] }]);
    return { dataId: r.dataId, shape, dtype: 'float32' };
  };
  const out = range(0, outSize, [m, g.n, g.heads * g.d]);
  const lse = range(outSize, m * g.heads * g.n, [m, g.heads, g.n]);
  backend.disposeData(both.dataId);
  return [out, lse];
}

function attentionGrad(args: KernelArgs): TensorInfo[] {
  const backend = args.backend as WebGPUBackend;
  const c = callOf(args);
  const { g, m } = c;
  const dy = flat(args.inputs['dy'] as TensorInfo);
  const rowDot = backend.runWebGPUProgram(
    new RowDotProgram(g, m),
    [dy, flat(args.inputs['out'] as TensorInfo)],
    'float32',
    c.uniforms,
  );
  const inputs = [flat(c.qkv), flat(args.inputs['lse'] as TensorInfo), rowDot, dy, ...c.optional];
  const dqkv = backend.runWebGPUProgram(new DqProgram(g, m), inputs, 'float32', c.uniforms);
  backend.runWebGPUProgram(new DkvProgram(g, m), inputs, 'float32', c.uniforms, dqkv);
  const grads: TensorInfo[] = [{ dataId: dqkv.dataId, shape: c.qkv.shape, dtype: 'float32' }];
  if (g.bias) {
    const dbias = backend.runWebGPUProgram(new DbiasProgram(g), inputs, 'float32', c.uniforms);
    grads.push({ dataId: dbias.dataId, shape: [g.heads, g.n, g.n], dtype: 'float32' });
  }
  backend.disposeData(rowDot.dataId);
  return grads;
}

/** Registers SrdAttention and SrdAttentionGrad for the webgpu backend. Idempotent. */
export function registerWebGpuAttentionKernels(): void {
  if (tf.getKernel(ATTENTION_KERNEL, 'webgpu')) return;
  tf.registerKernel({ kernelName: ATTENTION_KERNEL, backendName: 'webgpu', kernelFunc: attentionForward as unknown as KernelFunc });
  tf.registerKernel({ kernelName: ATTENTION_GRAD_KERNEL, backendName: 'webgpu', kernelFunc: attentionGrad as unknown as KernelFunc });
}
