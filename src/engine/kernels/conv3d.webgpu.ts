/**
 * Implicit-GEMM 3D convolution for TF.js's 'webgpu' backend: `Conv3D` and
 * `Conv3DBackpropFilterV2` at stride 1, dilation 1, NDHWC, float32 — the only conv kernels the
 * network runs (src/model/conv.ts computes the input gradient as another Conv3D). Anything else
 * goes to the stock kernels.
 *
 * Why it exists: the stock kernels give every output element its own naive loop over the whole
 * filter (Conv3D) or over every output position (Conv3DBackpropFilterV2), with no data reuse.
 * bench/conv3d-webgpu.ts at the network's shapes, on Mesa lavapipe (a software adapter on 2
 * shared CPU cores, so indicative only; best of interleaved runs, and repeat runs still varied up
 * to 2× per shape): forward 2.2–9× faster (1.9–3.1 GFLOP/s against 0.2–1.2; 8.0 s → 2.6 s summed
 * over the shapes), filter gradient 6–10× (3.6–6.0 GFLOP/s against 0.6–0.7; 11.3 s → 1.3 s).
 *
 * Both are one GEMM over the implicit im2col matrix A[m, k] = x[b, t+dt−pt, h+dh−ph, w+dw−pw, ci]
 * (m = (b,t,h,w) an output position, k = (dt,dh,dw,ci) a filter row, so the filter
 * [kt,kh,kw,Cin,Cout] already is the [K, Cout] matrix), never materialised:
 *  - Conv3D: y[M, Cout] = A · W, a register tile of positions × channels per thread;
 *  - Conv3DBackpropFilterV2: dW[K, Cout] = Aᵀ · dy, a register tile of filter rows × channels per
 *    thread, the reduction over M (up to ~10⁶) split across workgroups and summed in a second pass.
 * In both, the operand that many threads need at the same step (W for the whole workgroup; dy for
 * the threads walking the same positions) is read at one address by all of them — a broadcast on
 * GPUs — and the per-thread operand (x) is read as channel quads where Cin % 4 == 0. No workgroup memory, no barriers: a variant staging
 * the im2col slice in workgroup memory measured 1.3–2× slower on lavapipe (there each staged
 * value costs a per-lane store and load more, and filter reads indexed by a loop counter live
 * across a barrier measured as slow as per-lane loads); on GPUs the reuse of x across taps comes
 * from the cache.
 * Filter dims and channel counts are baked into each pipeline as constants (divisions by them
 * become multiplies, and the register tile is unrolled for them); loop trip counts and volume
 * sizes are uniforms, so that compilers do not unroll the K loop (lavapipe then took up to 24 s to
 * build a pipeline) and one pipeline serves every patch size.
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
// Side effect: the stock webgpu kernels must be registered before they are replaced, or a later
// import of the package would put them back over ours.
import '@tensorflow/tfjs-backend-webgpu';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import { DEFAULT_WEBGPU_TUNING, type WebGpuTuning } from './webgpu-tuning.js';

/** Threads per workgroup: 64 is valid on every WebGPU device and a multiple of every warp width. */
const WG = 64;

type Uniforms = Array<{ type: string; data: number[] }>;

/** Compile-time shape of one convolution (what a pipeline is specialised on). */
interface FilterDims {
  kt: number;
  kh: number;
  kw: number;
  cin: number;
  cout: number;
}

function pow2Ceil(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * Flat workgroup index. The backend folds a 1D dispatch over 65535 workgroups into 2D/3D
 * (reshapeDispatch), so the tile index must be rebuilt from all three.
 */
const FLAT_WORKGROUP = `i32(workgroupId.x + workgroupId.y * numWorkgroups.x + workgroupId.z * numWorkgroups.x * numWorkgroups.y)`;

/** Vector type of a gather of `va` consecutive k (1: one scalar, 4: one channel quad). */
function aType(va: number): string {
  return va === 4 ? 'vec4<f32>' : 'f32';
}

function constSnippet(d: FilterDims): string {
  return `
    const KT = ${d.kt};
    const KH = ${d.kh};
    const KW = ${d.kw};
    const CIN = ${d.cin};
    const COUT = ${d.cout};
    const COUT4 = ${Math.ceil(d.cout / 4)};
    const KTOT = ${d.kt * d.kh * d.kw * d.cin};`;
}

/**
 * Shared WGSL helpers. A row (output position m) is kept as (base, t0, h0, w0): t0 = t − pad etc.
 * and base the flat input index of (b, t0, h0, w0, 0); an invalid row gets t0 far below zero so
 * that every tap of it fails the bounds test. A column (filter row k) is (dt, dh, dw, off) with
 * off its input offset from base. Unsigned compares fold `>= 0` into `< size`.
 */
function helpersSnippet(va: number): string {
  return `
    fn rowOf(m : i32) -> vec4<i32> {
      if (m >= uniforms.outDims.w) {
        return vec4<i32>(0, -1073741824, 0, 0);
      }
      let wo = m % uniforms.outDims.z;
      let q1 = m / uniforms.outDims.z;
      let ho = q1 % uniforms.outDims.y;
      let q2 = q1 / uniforms.outDims.y;
      let to = q2 % uniforms.outDims.x;
      let b = q2 / uniforms.outDims.x;
      return rowAt(b, to, ho, wo);
    }

    fn rowAt(b : i32, to : i32, ho : i32, wo : i32) -> vec4<i32> {
      let t0 = to - uniforms.pads.x;
      let h0 = ho - uniforms.pads.y;
      let w0 = wo - uniforms.pads.z;
      let base = (((b * uniforms.inDims.x + t0) * uniforms.inDims.y + h0) * uniforms.inDims.z + w0) * CIN;
      return vec4<i32>(base, t0, h0, w0);
    }

    struct Col { dt : i32, dh : i32, dw : i32, off : i32, ok : bool };

    fn colOf(k : i32) -> Col {
      let tap = k / CIN;
      let ci = k - tap * CIN;
      let dt = tap / (KH * KW);
      let r = tap - dt * (KH * KW);
      let dh = r / KW;
      let dw = r - dh * KW;
      let off = ((dt * uniforms.inDims.y + dh) * uniforms.inDims.z + dw) * CIN + ci;
      return Col(dt, dh, dw, off, k < KTOT);
    }

    fn gather(row : vec4<i32>, col : Col) -> ${aType(va)} {
      if (col.ok && u32(row.y + col.dt) < u32(uniforms.inDims.x) &&
          u32(row.z + col.dh) < u32(uniforms.inDims.y) && u32(row.w + col.dw) < u32(uniforms.inDims.z)) {
        return x[(row.x + col.off)${va === 4 ? ' / 4' : ''}];
      }
      return ${aType(va)}(0.0);
    }`;
}

/**
 * The im2col values of filter rows k..k+3 at `row`: one quad load where Cin % 4 == 0 (a quad
 * never straddles two taps then), else four scalar gathers with their own column decompositions.
 */
function gatherQuad(va: number, row: string, cols: string[]): string {
  if (va === 4) return `gather(${row}, ${cols[0]})`;
  return `vec4<f32>(${cols.map((c) => `gather(${row}, ${c})`).join(', ')})`;
}

function colDecls(va: number, prefix: string, k: string): { decl: string; names: string[] } {
  const n = va === 4 ? 1 : 4;
  const names = Array.from({ length: n }, (_, c) => `${prefix}${c}`);
  return { decl: names.map((name, c) => `let ${name} = colOf(${k} + ${c});`).join('\n        '), names };
}

/**
 * Channels 4q..4q+3 of row `k` of a row-major [rows, COUT] buffer. Channel indices are clamped
 * instead of masked: nothing computed from channels ≥ COUT is ever written.
 */
function quadOf(buf: string, vec: boolean, k: string, q: string): string {
  const r = `(${k})`;
  if (vec) return `${buf}[${r} * COUT4 + min(${q}, COUT4 - 1)]`;
  return `vec4<f32>(${[0, 1, 2, 3].map((c) => `${buf}[${r} * COUT + min((${q}) * 4 + ${c}, COUT - 1)]`).join(', ')})`;
}

/** Stores vec4 `v` to channel quad `q` of row `row` of the result, dropping channels ≥ COUT. */
function writeQuad(vec: boolean, row: string, q: string, v: string): string {
  if (vec) return `if (${q} < COUT4) { result[${row} * COUT4 + (${q})] = ${v}; }`;
  return [0, 1, 2, 3]
    .map((c) => `if ((${q}) * 4 + ${c} < COUT) { result[${row} * COUT + (${q}) * 4 + ${c}] = ${v}[${c}]; }`)
    .join('\n          ');
}

const COMP = ['x', 'y', 'z', 'w'];

// ---------------------------------------------------------------------------------------------
// Forward: y[M, Cout] = im2col(x)[M, K] · W[K, Cout]
//
// A workgroup owns 64·RM output positions × 4·TN4 channels; a thread owns RM positions
// (tid + 64·i, so neighbouring threads hold neighbouring positions) × all of the tile's channels,
// i.e. an RM × 4·TN4 register tile (≤ 64 floats). The K loop runs tap by tap (bounds are tested
// once per tap and position, which is all the zero padding needs) and then along Cin, a quad at a
// time where Cin % 4 == 0. Each step loads RM input quads and 4·TN4 filter quads for 16·RM·TN4
// multiply-adds. The filter quads are the same for every thread of the workgroup (a broadcast
// from cache on GPUs); input values are reused across taps by neighbouring threads through the
// cache. The staged variant (see the file header) gathered the im2col slice with k-fastest,
// coalesced loads into rows padded to an odd number of vec4s, and read it back a quad of k at a
// time; it was correct, but slower on the only adapter at hand.
// ---------------------------------------------------------------------------------------------

interface FwdTile {
  tn4: number;
  rm: number;
}

/**
 * The launch shapes in use (webgpu-tuning.ts): set when the kernels are registered, for the
 * adapter the engine runs on. Below `minThreads` threads a grid would leave a large GPU mostly
 * idle, so smaller register tiles make more of them.
 */
let tuning: WebGpuTuning = DEFAULT_WEBGPU_TUNING;

function fwdTile(cout: number, m: number): FwdTile {
  const tn4 = Math.min(tuning.convQuads, pow2Ceil(Math.ceil(cout / 4)));
  const tilesN = Math.ceil(Math.ceil(cout / 4) / tn4);
  let rm: number = tuning.convRows;
  while (rm > 1 && (WG * (rm / 2) >= m || Math.ceil(m / rm) * tilesN < tuning.minThreads)) rm /= 2;
  return { tn4, rm };
}

class Conv3DGemmProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames = ['x', 'W'];
  variableComponents: number[];
  outputComponent: number;
  uniforms = 'inDims : vec4<i32>, outDims : vec4<i32>, pads : vec4<i32>,';
  workgroupSize: [number, number, number] = [WG, 1, 1];
  private readonly tile: FwdTile;
  private readonly va: number;
  private readonly vecW: boolean;

  constructor(
    private readonly dims: FilterDims,
    m: number,
  ) {
    this.tile = fwdTile(dims.cout, m);
    this.va = dims.cin % 4 === 0 ? 4 : 1;
    this.vecW = dims.cout % 4 === 0;
    this.variableComponents = [this.va, this.vecW ? 4 : 1];
    this.outputComponent = this.vecW ? 4 : 1;
    this.outputShape = [m * dims.cout];
    this.dispatchLayout = { x: [0] };
    this.dispatch = [Math.ceil(m / (WG * this.tile.rm)) * this.tilesN(), 1, 1];
    const { kt, kh, kw, cin, cout } = dims;
    this.shaderKey = `conv3dGemm_${kt}_${kh}_${kw}_${cin}_${cout}_${this.tile.rm}_${this.tile.tn4}`;
  }

  private tilesN(): number {
    return Math.ceil(Math.ceil(this.dims.cout / 4) / this.tile.tn4);
  }

  getUserCode(): string {
    const { tn4, rm } = this.tile;
    const va = this.va;
    const rows: string[] = [];
    const taps: string[] = [];
    const loads: string[] = [];
    const update: string[] = [];
    const accs: string[] = [];
    const writes: string[] = [];
    for (let i = 0; i < rm; i++) {
      rows.push(`let row${i} = rowOf(m0 + tid + ${i * WG});`);
      taps.push(`let ok${i} = u32(row${i}.y + dt) < u32(uniforms.inDims.x) && u32(row${i}.z + dh) < u32(uniforms.inDims.y) &&
              u32(row${i}.w + dw) < u32(uniforms.inDims.z);
          let src${i} = select(0, row${i}.x + tapOff, ok${i})${va === 4 ? ' / 4' : ''};`);
      loads.push(`let a${i} = select(${aType(va)}(0.0), x[src${i} + ci], ok${i});`);
    }
    for (let c = 0; c < va; c++) {
      for (let j = 0; j < tn4; j++) {
        const k = va === 4 ? `kTap + 4 * ci + ${c}` : 'kTap + ci';
        update.push(`let w${c}_${j} = ${quadOf('W', this.vecW, k, `nq0 + ${j}`)};`);
        const a = (i: number): string => (va === 4 ? `a${i}.${COMP[c]}` : `a${i}`);
        for (let i = 0; i < rm; i++) update.push(`acc${i}_${j} = fma(vec4<f32>(${a(i)}), w${c}_${j}, acc${i}_${j});`);
      }
    }
    for (let i = 0; i < rm; i++) {
      const body: string[] = [];
      for (let j = 0; j < tn4; j++) {
        accs.push(`var acc${i}_${j} = vec4<f32>(0.0);`);
        body.push(writeQuad(this.vecW, 'm', `nq0 + ${j}`, `acc${i}_${j}`));
      }
      writes.push(`{
        let m = m0 + tid + ${i * WG};
        if (m < uniforms.outDims.w) {
          ${body.join('\n          ')}
        }
      }`);
    }
    return `
    ${constSnippet(this.dims)}

    ${helpersSnippet(va)}

    fn main(unusedIndex : i32) {
      let tid = i32(localIndex);
      let g = ${FLAT_WORKGROUP};
      let m0 = (g / ${this.tilesN()}) * ${WG * rm};
      let nq0 = (g % ${this.tilesN()}) * ${tn4};
      ${rows.join('\n      ')}
      ${accs.join('\n      ')}
      // Both loop counts come from uniforms (they equal KT·KH·KW and Cin / ${va}) so that compilers
      // cannot unroll them: unrolled, lavapipe took up to 24 s to build one pipeline.
      for (var tap = 0; tap < uniforms.inDims.w; tap++) {
        let dt = tap / (KH * KW);
        let dh = (tap / KW) % KH;
        let dw = tap % KW;
        let tapOff = ((dt * uniforms.inDims.y + dh) * uniforms.inDims.z + dw) * CIN;
        let kTap = tap * CIN;
        ${taps.join('\n        ')}
        for (var ci = 0; ci < uniforms.pads.w; ci++) {
          ${loads.join('\n          ')}
          ${update.join('\n          ')}
        }
      }

      ${writes.join('\n      ')}
    }`;
  }
}

// ---------------------------------------------------------------------------------------------
// Filter gradient: dW[K, Cout] = im2col(x)[M, K]ᵀ · dy[M, Cout]
//
// A thread owns one quad of filter rows × up to 16 channels (≤ 64 accumulator floats) and walks
// a contiguous range of output positions: at each one it gathers its own x quad (neighbouring
// threads read neighbouring channels: coalesced) and multiplies it by dy's row, which the threads
// of its lane read at the same address (broadcast). The position range (B·T·H·W, up to ~10⁶) is
// split: each range writes a partial dW and a second pass sums them. A workgroup holds Q quads ×
// 64/Q lanes, each lane a range of its own, with Q fitted to K — the first layer has K = 27 (7
// quads), and a workgroup of 64 quads would leave 57 threads idle. Nothing is shared between
// threads: no workgroup memory, no barrier.
// ---------------------------------------------------------------------------------------------

interface DwTile {
  /** Filter-row quads per workgroup; 64 / q lanes. */
  q: number;
  tn4: number;
}

/** The widest tile of quads that leaves at most 1/8 of its threads without filter rows. */
function dwTile(d: FilterDims): DwTile {
  const quads = Math.ceil((d.kt * d.kh * d.kw * d.cin) / 4);
  let q = WG;
  while (q > 1 && (Math.ceil(quads / q) * q - quads) * 8 > Math.ceil(quads / q) * q) q /= 2;
  return { q, tn4: Math.min(tuning.convQuads, pow2Ceil(Math.ceil(d.cout / 4))) };
}

/** Workgroups per split of all the lanes (filter-row tiles × channel tiles). */
function dwTiles(d: FilterDims): number {
  const { q, tn4 } = dwTile(d);
  const ktot = d.kt * d.kh * d.kw * d.cin;
  return Math.ceil(ktot / (4 * q)) * Math.ceil(Math.ceil(d.cout / 4) / tn4);
}

class Conv3DFilterGradProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames = ['x', 'dy'];
  variableComponents: number[];
  outputComponent: number;
  uniforms = 'inDims : vec4<i32>, outDims : vec4<i32>, pads : vec4<i32>, split : vec4<i32>,';
  workgroupSize: [number, number, number] = [WG, 1, 1];
  private readonly va: number;
  private readonly vecD: boolean;
  private readonly tile: DwTile;

  /** `splits` position ranges in all; lanes past the last one in the last workgroups return at once. */
  constructor(
    private readonly dims: FilterDims,
    splits: number,
  ) {
    const ktot = dims.kt * dims.kh * dims.kw * dims.cin;
    this.va = dims.cin % 4 === 0 ? 4 : 1;
    this.vecD = dims.cout % 4 === 0;
    this.tile = dwTile(dims);
    this.variableComponents = [this.va, this.vecD ? 4 : 1];
    this.outputComponent = this.vecD ? 4 : 1;
    this.outputShape = [splits * ktot * dims.cout];
    this.dispatchLayout = { x: [0] };
    this.dispatch = [dwTiles(dims) * Math.ceil(splits / (WG / this.tile.q)), 1, 1];
    const { kt, kh, kw, cin, cout } = dims;
    this.shaderKey = `conv3dFilterGradGemm_${kt}_${kh}_${kw}_${cin}_${cout}_${this.tile.q}_${this.tile.tn4}`;
  }

  getUserCode(): string {
    const va = this.va;
    const { q, tn4 } = this.tile;
    const lanes = WG / q;
    const tilesN = Math.ceil(Math.ceil(this.dims.cout / 4) / tn4);
    const tiles = dwTiles(this.dims);
    const cols = colDecls(va, 'col', 'kq');
    const accs: string[] = [];
    const update: string[] = [];
    const writes: string[] = [];
    for (let j = 0; j < tn4; j++) {
      update.push(`let d${j} = ${quadOf('dy', this.vecD, 'm', `nq0 + ${j}`)};`);
      for (let c = 0; c < 4; c++) {
        accs.push(`var acc${c}_${j} = vec4<f32>(0.0);`);
        update.push(`acc${c}_${j} = fma(vec4<f32>(a.${COMP[c]}), d${j}, acc${c}_${j});`);
      }
    }
    for (let c = 0; c < 4; c++) {
      const body = Array.from({ length: tn4 }, (_, j) => writeQuad(this.vecD, 'row', `nq0 + ${j}`, `acc${c}_${j}`));
      writes.push(`if (kq + ${c} < KTOT) {
        let row = s * KTOT + kq + ${c};
        ${body.join('\n        ')}
      }`);
    }
    return `
    ${constSnippet(this.dims)}

    ${helpersSnippet(va)}

    fn main(unusedIndex : i32) {
      let tid = i32(localIndex);
      let g = ${FLAT_WORKGROUP};
      let tile = g % ${tiles};
      let kq = (tile / ${tilesN}) * ${4 * q} + 4 * (tid % ${q});
      let nq0 = (tile % ${tilesN}) * ${tn4};
      // This thread's position range.
      let s = (g / ${tiles}) * ${lanes} + tid / ${q};
      if (kq >= KTOT || s >= uniforms.split.x) {
        return;
      }
      ${cols.decl}

      ${accs.join('\n      ')}
      let mStart = s * uniforms.split.y;
      let mEnd = min(mStart + uniforms.split.y, uniforms.outDims.w);
      // Position counters advance by carries: a division per position would cost more than the
      // few multiply-adds of the gather itself.
      var wo = mStart % uniforms.outDims.z;
      let q1 = mStart / uniforms.outDims.z;
      var ho = q1 % uniforms.outDims.y;
      let q2 = q1 / uniforms.outDims.y;
      var to = q2 % uniforms.outDims.x;
      var b = q2 / uniforms.outDims.x;
      for (var m = mStart; m < mEnd; m++) {
        let a = ${gatherQuad(va, 'rowAt(b, to, ho, wo)', cols.names)};
        ${update.join('\n        ')}
        wo += 1;
        if (wo == uniforms.outDims.z) {
          wo = 0;
          ho += 1;
          if (ho == uniforms.outDims.y) {
            ho = 0;
            to += 1;
            if (to == uniforms.outDims.x) {
              to = 0;
              b += 1;
            }
          }
        }
      }

      ${writes.join('\n      ')}
    }`;
  }
}

/** Sums `splits` partial filter gradients laid end to end. */
class SumPartialsProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames = ['partials'];
  variableComponents: number[];
  outputComponent: number;
  uniforms = 'splits : i32,';
  workgroupSize: [number, number, number] = [WG, 1, 1];
  size = true;

  constructor(n: number) {
    const comp = n % 4 === 0 ? 4 : 1;
    this.variableComponents = [comp];
    this.outputComponent = comp;
    this.outputShape = [n];
    this.dispatchLayout = { x: [0] };
    this.dispatch = [Math.ceil(n / comp / WG), 1, 1];
    this.shaderKey = `conv3dSumPartials_${comp}`;
  }

  getUserCode(): string {
    const t = this.outputComponent === 4 ? 'vec4<f32>' : 'f32';
    return `
    fn main(index : i32) {
      if (index < uniforms.size) {
        var sum = ${t}(0.0);
        for (var s = 0; s < uniforms.splits; s++) {
          sum += partials[s * uniforms.size + index];
        }
        result[index] = sum;
      }
    }`;
  }
}

// ---------------------------------------------------------------------------------------------
// Kernels
// ---------------------------------------------------------------------------------------------

function allOnes(v: number | number[] | undefined): boolean {
  if (v === undefined) return true;
  return Array.isArray(v) ? v.every((e) => e === 1) : v === 1;
}

function flat(t: TensorInfo): TensorInfo {
  return { dataId: t.dataId, shape: [t.shape.reduce((a, b) => a * b, 1)], dtype: t.dtype };
}

/**
 * inDims: input T, H, W and the filter's tap count; outDims: output T, H, W and M; pads: front,
 * top, left and the forward's Cin steps (Cin / 4 for quad loads, else Cin).
 */
function convUniforms(info: backend_util.Conv3DInfo): Uniforms {
  const m = info.batchSize * info.outDepth * info.outHeight * info.outWidth;
  const taps = info.filterDepth * info.filterHeight * info.filterWidth;
  const cinSteps = info.inChannels % 4 === 0 ? info.inChannels / 4 : info.inChannels;
  return [
    { type: 'int32', data: [info.inDepth, info.inHeight, info.inWidth, taps] },
    { type: 'int32', data: [info.outDepth, info.outHeight, info.outWidth, m] },
    { type: 'int32', data: [info.padInfo.front, info.padInfo.top, info.padInfo.left, cinSteps] },
  ];
}

function dimsOf(filterShape: number[]): FilterDims {
  const [kt, kh, kw, cin, cout] = filterShape as [number, number, number, number, number];
  return { kt, kh, kw, cin, cout };
}

/** Above this many floats a split's partials are not worth their memory. */
const MAX_PARTIAL_FLOATS = 1 << 24;
/** Positions per split below which the partial write and the extra sum stop paying. */
const MIN_SPLIT_POSITIONS = 256;

/** Number of position ranges (partial dWs) and positions per range (the last one may be short). */
function filterGradSplit(m: number, dims: FilterDims): { splits: number; chunk: number } {
  const ktot = dims.kt * dims.kh * dims.kw * dims.cin;
  const lanes = WG / dwTile(dims).q;
  // The default fills a large GPU (H100: 132 SMs × 32 resident 64-thread groups).
  let splits = Math.ceil(tuning.targetWorkgroups / dwTiles(dims)) * lanes;
  splits = Math.min(splits, Math.ceil(m / MIN_SPLIT_POSITIONS), Math.floor(MAX_PARTIAL_FLOATS / (ktot * dims.cout)));
  // An empty output (a 'valid' kernel longer than the volume) still needs one range writing zeros.
  const chunk = Math.max(1, Math.ceil(m / Math.max(1, splits)));
  return { splits: Math.max(1, Math.ceil(m / chunk)), chunk };
}

let stockConv3D: KernelConfig | undefined;
let stockFilterGrad: KernelConfig | undefined;

/**
 * Marks our kernel functions process-wide, so that a second copy of this module never takes
 * them for the stock ones (its fallback would then call itself).
 */
const OURS = Symbol.for('srdtrans.conv3d.webgpu');

function ours(f: unknown): boolean {
  return typeof f === 'function' && (f as unknown as Record<symbol, unknown>)[OURS] === true;
}

function conv3DGemm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const { inputs, attrs } = args;
  const backend = args.backend as WebGPUBackend;
  const x = inputs['x'] as TensorInfo;
  const filter = inputs['filter'] as TensorInfo;
  const a = (attrs ?? {}) as unknown as tf.Conv3DAttrs;
  const supported =
    x.dtype === 'float32' &&
    filter.dtype === 'float32' &&
    x.shape.length === 5 &&
    filter.shape.length === 5 &&
    allOnes(a.strides) &&
    allOnes(a.dilations) &&
    (a.dataFormat === undefined || a.dataFormat === 'NDHWC') &&
    (a.pad === 'same' || a.pad === 'valid');
  if (!supported) return (stockConv3D!.kernelFunc as (a: unknown) => TensorInfo)(args);

  const info = backend_util.computeConv3DInfo(
    x.shape as [number, number, number, number, number],
    filter.shape as [number, number, number, number, number],
    1,
    1,
    a.pad,
  );
  const m = info.batchSize * info.outDepth * info.outHeight * info.outWidth;
  const program = new Conv3DGemmProgram(dimsOf(filter.shape), m);
  const out = backend.runWebGPUProgram(program, [flat(x), flat(filter)], 'float32', convUniforms(info));
  return { dataId: out.dataId, shape: info.outShape, dtype: 'float32' };
}

function conv3DFilterGradGemm(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: NamedAttrMap }): TensorInfo {
  const { inputs, attrs } = args;
  const backend = args.backend as WebGPUBackend;
  const x = inputs['x'] as TensorInfo;
  const dy = inputs['dy'] as TensorInfo;
  const a = (attrs ?? {}) as unknown as tf.Conv3DBackpropFilterV2Attrs;
  const supported =
    x.dtype === 'float32' &&
    dy.dtype === 'float32' &&
    x.shape.length === 5 &&
    dy.shape.length === 5 &&
    allOnes(a.strides) &&
    Array.isArray(a.filterShape) &&
    a.filterShape.length === 5 &&
    (a.pad === 'same' || a.pad === 'valid');
  if (!supported) return (stockFilterGrad!.kernelFunc as (a: unknown) => TensorInfo)(args);

  const info = backend_util.computeConv3DInfo(
    x.shape as [number, number, number, number, number],
    a.filterShape,
    1,
    1,
    a.pad,
  );
  const dims = dimsOf(a.filterShape);
  const ktot = dims.kt * dims.kh * dims.kw * dims.cin;
  const m = info.batchSize * info.outDepth * info.outHeight * info.outWidth;
  const { splits, chunk } = filterGradSplit(m, dims);
  const uniforms = [...convUniforms(info), { type: 'int32', data: [splits, chunk, 0, 0] }];
  const program = new Conv3DFilterGradProgram(dims, splits);
  const partials = backend.runWebGPUProgram(program, [flat(x), flat(dy)], 'float32', uniforms);
  if (splits === 1) return { dataId: partials.dataId, shape: a.filterShape, dtype: 'float32' };
  const n = ktot * dims.cout;
  const sum = new SumPartialsProgram(n);
  const out = backend.runWebGPUProgram(sum, [partials], 'float32', [{ type: 'int32', data: [splits] }]);
  backend.disposeData(partials.dataId);
  return { dataId: out.dataId, shape: a.filterShape, dtype: 'float32' };
}

for (const f of [conv3DGemm, conv3DFilterGradGemm]) Object.defineProperty(f, OURS, { value: true });

/**
 * Replaces the webgpu backend's Conv3D and Conv3DBackpropFilterV2 with the implicit-GEMM
 * programs above (anything but stride 1 / dilation 1 / NDHWC / float32 goes to the stock kernel),
 * launched as `launch` says. Idempotent; registering again changes only the launch shapes.
 */
export function registerWebGpuConvKernels(launch: WebGpuTuning = DEFAULT_WEBGPU_TUNING): void {
  tuning = launch;
  if (stockConv3D !== undefined) return;
  const conv = tf.getKernel('Conv3D', 'webgpu');
  const grad = tf.getKernel('Conv3DBackpropFilterV2', 'webgpu');
  if (!conv || !grad || ours(conv.kernelFunc) || ours(grad.kernelFunc)) return;
  stockConv3D = conv;
  stockFilterGrad = grad;
  tf.unregisterKernel('Conv3D', 'webgpu');
  tf.registerKernel({ kernelName: 'Conv3D', backendName: 'webgpu', kernelFunc: conv3DGemm as unknown as KernelFunc });
  tf.unregisterKernel('Conv3DBackpropFilterV2', 'webgpu');
  tf.registerKernel({
    kernelName: 'Conv3DBackpropFilterV2',
    backendName: 'webgpu',
    kernelFunc: conv3DFilterGradGemm as unknown as KernelFunc,
  });
}

/** Puts the stock kernels back (benchmarks compare both in one process). */
export function unregisterWebGpuConvKernels(): void {
  if (stockConv3D === undefined || stockFilterGrad === undefined) return;
  tf.unregisterKernel('Conv3D', 'webgpu');
  tf.registerKernel(stockConv3D);
  tf.unregisterKernel('Conv3DBackpropFilterV2', 'webgpu');
  tf.registerKernel(stockFilterGrad);
  stockConv3D = undefined;
  stockFilterGrad = undefined;
  tuning = DEFAULT_WEBGPU_TUNING;
}
