/**
 * Image-quality metrics of a denoised stack x against a ground truth gt (same shape, any numeric
 * element type; everything is accumulated in float64).
 *
 * Decibel metrics are clamped to ±DB_CAP (100 dB) so that a perfect result gives a finite number
 * that JSON can hold: evaluate(gt, gt) reports snr_db = psnr_db = 100.
 */
import type { Stack } from '../data/stack.js';
import { filterAxis, gaussianKernel } from './filters.js';
import { StackError } from '../errors.js';

/** Largest magnitude a decibel metric reports (a perfect match gives +DB_CAP). */
export const DB_CAP = 100;

/** A stack, or its raw voxels in (t, y, x) order. */
export type StackLike = Stack | ArrayLike<number>;

export interface MetricOptions {
  /** [t, h, w]; needed by ssim/traceCorrelation/evaluate when neither argument is a Stack. */
  shape?: readonly [number, number, number];
  /** Data range L for PSNR and SSIM. Default max(gt) − min(gt) over the whole stack. */
  dataRange?: number;
  /**
   * Baseline subtracted from gt in the signal energy of the SNR (Σ (gt − baseline)²). Default 0,
   * i.e. Σ gt². Pass the camera offset when gt carries one (a simulation's `clean` is
   * gain·λ + offset): otherwise the offset's energy counts as signal and inflates the SNR
   * (e.g. raw 10-photon data at offset 100 reads ~31 dB instead of ~10 dB).
   */
  baseline?: number;
}

export interface Evaluation {
  snr_db: number;
  /** SNR of the two stacks standardised to zero mean and unit variance (standardizedSnrDb). */
  snr_z_db: number;
  psnr_db: number;
  ssim: number;
  /** Mean neuron trace correlation; null when no masks were given or no trace was usable. */
  trace_r: number | null;
  /** Where the standardised error lies (errorSplit); null when no masks were given. */
  error_split: ErrorSplit | null;
}

/**
 * The mean squared difference of the standardised stacks, 2·(1 − r) = 10^(−snr_z_db/10), in
 * three parts that add up to it: the error of the temporal mean image (static structure), and
 * the error left in the frames' variations around it inside the cells and outside them.
 */
export interface ErrorSplit {
  static: number;
  cells: number;
  background: number;
}

function isStack(v: StackLike): v is Stack {
  return typeof v === 'object' && v !== null && 'shape' in v && 'data' in v && !('length' in v);
}

function dataOf(v: StackLike): ArrayLike<number> {
  return isStack(v) ? v.data : v;
}

function pair(x: StackLike, gt: StackLike): [ArrayLike<number>, ArrayLike<number>] {
  const a = dataOf(x);
  const b = dataOf(gt);
  if (a.length !== b.length) {
    throw new StackError(`cannot compare stacks of ${a.length} and ${b.length} voxels: the result and the ground truth must have the same shape`);
  }
  if (isStack(x) && isStack(gt) && x.shape.some((d, i) => d !== gt.shape[i])) {
    throw new StackError(`cannot compare a ${x.shape.join('×')} stack with a ${gt.shape.join('×')} ground truth: the shapes must match`);
  }
  if (b.length === 0) throw new StackError('cannot compare empty stacks');
  return [a, b];
}

function shapeOf(x: StackLike, gt: StackLike, opts: MetricOptions | undefined, n: number): [number, number, number] {
  const s = opts?.shape ?? (isStack(gt) ? gt.shape : isStack(x) ? x.shape : undefined);
  if (!s) throw new TypeError('shape is unknown: pass a Stack or opts.shape');
  const [t, h, w] = s;
  if (t * h * w !== n) throw new StackError(`shape ${s.join('×')} does not match ${n} voxels`);
  return [t, h, w];
}

function clampDb(v: number): number {
  if (Number.isNaN(v)) return v;
  return Math.max(-DB_CAP, Math.min(DB_CAP, v));
}

/** [min, max] of an array (NaN ignored). */
function minMax(a: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/**
 * SNR in dB after the best affine match of x to gt:
 *   SNR = 10·log10( Σ (gt − baseline)² / Σ (gt − (a·x + b))² ),   baseline default 0,
 * where (a, b) = argmin Σ (gt − (a·x + b))², i.e. a = cov(x, gt)/var(x), b = mean(gt) − a·mean(x)
 * (a = 0, b = mean(gt) for a constant x). The fit makes the metric indifferent to the unknown
 * scale and offset of a denoiser's output (invariant to any affine map of x with a ≠ 0). Since
 * the fitted residual is at most Σ(gt − mean gt)² ≤ Σ (gt − baseline)², the result is ≥ 0; it
 * is capped at DB_CAP (also when the residual is 0); a gt equal to the baseline gives 0.
 * See MetricOptions.baseline for why a camera offset should be passed as baseline.
 */
export function snrDb(x: StackLike, gt: StackLike, baseline = 0): number {
  const [a, g] = pair(x, gt);
  const n = g.length;
  let mx = 0;
  let mg = 0;
  for (let i = 0; i < n; i++) {
    mx += a[i]!;
    mg += g[i]!;
  }
  mx /= n;
  mg /= n;
  let sxx = 0;
  let sxg = 0;
  let sg2 = 0;
  for (let i = 0; i < n; i++) {
    const dx = a[i]! - mx;
    const dg = g[i]! - mg;
    sxx += dx * dx;
    sxg += dx * dg;
    sg2 += (g[i]! - baseline) ** 2;
  }
  const slope = sxx > 0 ? sxg / sxx : 0;
  // Residual of the affine least-squares fit, computed directly (not as sgg − sxg²/sxx, which
  // cancels catastrophically for near-perfect fits).
  let res = 0;
  for (let i = 0; i < n; i++) {
    const e = g[i]! - mg - slope * (a[i]! - mx);
    res += e * e;
  }
  if (res === 0) return sg2 === 0 ? 0 : DB_CAP;
  return clampDb(10 * Math.log10(sg2 / res));
}

/**
 * SNR in dB of the two stacks after each is standardised over all voxels (zero mean, unit
 * variance): 10·log10( Σ ĝ² / Σ (ĝ − x̂)² ) = −10·log10( 2 (1 − r) ), r the Pearson correlation
 * of all voxels. Unlike snrDb it counts only the truth's variations as signal and fits no scale,
 * so it goes below 0 dB: −3.01 dB for output unrelated to the truth, 0 dB for a constant output
 * (x̂ = 0, as for a constant truth, which has nothing to score), −6.02 dB for an inverted one. This is the scale on which the SRDTrans paper puts
 * its raw simulated data near −1 dB; snrDb cannot go there (it stays near 7 dB on pure noise,
 * because the level of the cells above the baseline counts as signal).
 */
export function standardizedSnrDb(x: StackLike, gt: StackLike): number {
  const [a, g] = pair(x, gt);
  const r = pearson(a, g);
  if (r === null) return 0;
  if (r >= 1) return DB_CAP;
  return clampDb(-10 * Math.log10(2 * (1 - r)));
}

/**
 * PSNR in dB, no fitting: 10·log10(L² / mean((x − gt)²)), L = dataRange, by default
 * max(gt) − min(gt) over the whole stack (as scikit-image when given the ground truth's range).
 * Clamped to ±DB_CAP; a zero error gives DB_CAP.
 */
export function psnrDb(x: StackLike, gt: StackLike, dataRange?: number): number {
  const [a, g] = pair(x, gt);
  let L = dataRange;
  if (L === undefined) {
    const [lo, hi] = minMax(g);
    L = hi - lo;
  }
  let se = 0;
  for (let i = 0; i < g.length; i++) {
    const d = a[i]! - g[i]!;
    se += d * d;
  }
  const mse = se / g.length;
  if (mse === 0) return DB_CAP;
  if (L === 0) return -DB_CAP;
  return clampDb(10 * Math.log10((L * L) / mse));
}

const SSIM_SIGMA = 1.5;
const SSIM_RADIUS = 5; // int(truncate 3.5 · σ 1.5 + 0.5): an 11×11 window
const SSIM_K1 = 0.01;
const SSIM_K2 = 0.03;

const SSIM_KERNEL = gaussianKernel(SSIM_SIGMA, SSIM_RADIUS);

/** Gaussian-weighted local mean of one frame (SciPy mode 'reflect'), src → dst. */
function filter2d(src: Float64Array, dst: Float64Array, h: number, w: number): void {
  dst.set(src);
  filterAxis(dst, [h, w], 1, SSIM_KERNEL);
  filterAxis(dst, [h, w], 0, SSIM_KERNEL);
}

/**
 * Mean structural similarity (Wang et al. 2004), computed per 2D frame and averaged over frames.
 * Matches skimage.metrics.structural_similarity(x, gt, data_range=L, gaussian_weights=True,
 * sigma=1.5, use_sample_covariance=False): Gaussian 11×11 window (σ 1.5, truncate 3.5, edges
 * reflected), K1 = 0.01, K2 = 0.03, C1 = (K1·L)², C2 = (K2·L)², and the SSIM map averaged over
 * the frame without its 5-pixel border (a frame narrower than 11 px in a direction keeps that
 * direction whole). L = opts.dataRange, by default max(gt) − min(gt) over the whole stack (1 if
 * that is 0).
 */
export function ssim(x: StackLike, gt: StackLike, opts?: MetricOptions): number {
  const [a, g] = pair(x, gt);
  const [T, H, W] = shapeOf(x, gt, opts, g.length);
  let L = opts?.dataRange;
  if (L === undefined) {
    const [lo, hi] = minMax(g);
    L = hi - lo;
  }
  if (!(L > 0)) L = 1;
  const C1 = (SSIM_K1 * L) ** 2;
  const C2 = (SSIM_K2 * L) ** 2;
  const hw = H * W;
  const X = new Float64Array(hw);
  const Y = new Float64Array(hw);
  const P = new Float64Array(hw);
  const ux = new Float64Array(hw);
  const uy = new Float64Array(hw);
  const uxx = new Float64Array(hw);
  const uyy = new Float64Array(hw);
  const uxy = new Float64Array(hw);
  const pad = SSIM_RADIUS;
  const y0 = H >= 2 * pad + 1 ? pad : 0;
  const y1 = H >= 2 * pad + 1 ? H - pad : H;
  const x0 = W >= 2 * pad + 1 ? pad : 0;
  const x1 = W >= 2 * pad + 1 ? W - pad : W;
  let total = 0;
  for (let t = 0; t < T; t++) {
    const base = t * hw;
    for (let p = 0; p < hw; p++) {
      X[p] = a[base + p]!;
      Y[p] = g[base + p]!;
    }
    filter2d(X, ux, H, W);
    filter2d(Y, uy, H, W);
    for (let p = 0; p < hw; p++) P[p] = X[p]! * X[p]!;
    filter2d(P, uxx, H, W);
    for (let p = 0; p < hw; p++) P[p] = Y[p]! * Y[p]!;
    filter2d(P, uyy, H, W);
    for (let p = 0; p < hw; p++) P[p] = X[p]! * Y[p]!;
    filter2d(P, uxy, H, W);
    let s = 0;
    for (let yy = y0; yy < y1; yy++) {
      for (let xx = x0; xx < x1; xx++) {
        const p = yy * W + xx;
        const mx = ux[p]!;
        const my = uy[p]!;
        const vx = uxx[p]! - mx * mx;
        const vy = uyy[p]! - my * my;
        const vxy = uxy[p]! - mx * my;
        s += ((2 * mx * my + C1) * (2 * vxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
      }
    }
    total += s / ((y1 - y0) * (x1 - x0));
  }
  return total / T;
}

/** Pearson correlation of two equally long sequences; null if either is constant. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number | null {
  const n = a.length;
  if (n !== b.length || n < 2) return null;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  // Relative threshold: a trace that is constant up to rounding counts as constant.
  if (!(saa > 1e-24 * n * (ma * ma + 1)) || !(sbb > 1e-24 * n * (mb * mb + 1))) return null;
  return Math.max(-1, Math.min(1, sab / Math.sqrt(saa * sbb)));
}

/**
 * Neuron trace correlation: for every label k > 0 in `labels` (h×w), the mean of its pixels in
 * each frame gives a trace for x and one for gt; the result is the Pearson r of the two, averaged
 * over neurons. Neurons with no pixels or a constant trace (in x or gt) are skipped; null when
 * none is left. The frame count is voxels / labels.length.
 */
export function traceCorrelation(x: StackLike, gt: StackLike, labels: ArrayLike<number>): number | null {
  const [a, g] = pair(x, gt);
  const tx = neuronTraces(a, labels);
  const tg = neuronTraces(g, labels);
  let sum = 0;
  let used = 0;
  for (let k = 0; k < tg.length; k++) {
    if (!tx[k] || !tg[k]) continue;
    const r = pearson(tx[k]!, tg[k]!);
    if (r === null) continue;
    sum += r;
    used++;
  }
  return used > 0 ? sum / used : null;
}

/**
 * The trace of every neuron k = 1..K of `labels` (h×w): the sum of its pixels in each frame
 * (index k − 1; null for a label with no pixels). Sums, not means: a constant factor per neuron,
 * which Pearson's r does not see; divide by the pixel count to plot.
 */
export function neuronTraces(x: ArrayLike<number>, labels: ArrayLike<number>): (Float64Array | null)[] {
  const hw = labels.length;
  if (hw === 0 || x.length % hw !== 0) {
    throw new StackError(`the neuron mask has ${hw} pixels, which does not divide the stack's ${x.length} voxels: the mask must be one frame of the stack`);
  }
  const T = x.length / hw;
  let K = 0;
  for (let p = 0; p < hw; p++) if (labels[p]! > K) K = labels[p]!;
  const npx = new Float64Array(K + 1);
  for (let p = 0; p < hw; p++) if (labels[p]! > 0) npx[labels[p]!]!++;
  const traces = new Float64Array((K + 1) * T);
  for (let t = 0; t < T; t++) {
    const base = t * hw;
    for (let p = 0; p < hw; p++) {
      const k = labels[p]!;
      if (k > 0) traces[k * T + t]! += x[base + p]!;
    }
  }
  const out: (Float64Array | null)[] = [];
  for (let k = 1; k <= K; k++) out.push(npx[k] === 0 ? null : traces.subarray(k * T, (k + 1) * T));
  return out;
}

/**
 * Splits the standardised error (see ErrorSplit). Both stacks are standardised over all voxels
 * first, as for standardizedSnrDb, so the parts add up to 10^(−standardizedSnrDb/10) (for a
 * constant x, x̂ = 0). `labels` (one frame, 0 = background) say which pixels are cells.
 */
export function errorSplit(x: StackLike, gt: StackLike, labels: ArrayLike<number>): ErrorSplit {
  const [a, g] = pair(x, gt);
  const P = labels.length;
  if (P === 0 || g.length % P !== 0) {
    throw new StackError(`the cell mask has ${P} pixels, which does not divide the stack's ${g.length} voxels: the mask must be one frame of the stack`);
  }
  const T = g.length / P;
  const za = standardizer(a);
  const zg = standardizer(g);
  const meanErr = new Float64Array(P);
  for (let t = 0; t < T; t++) for (let p = 0; p < P; p++) meanErr[p]! += za(a[t * P + p]!) - zg(g[t * P + p]!);
  for (let p = 0; p < P; p++) meanErr[p]! /= T;
  let stat = 0;
  let cells = 0;
  let background = 0;
  for (let p = 0; p < P; p++) stat += T * meanErr[p]! ** 2;
  for (let t = 0; t < T; t++) {
    for (let p = 0; p < P; p++) {
      const d = (za(a[t * P + p]!) - zg(g[t * P + p]!) - meanErr[p]!) ** 2;
      if (labels[p]! > 0) cells += d;
      else background += d;
    }
  }
  const n = g.length;
  return { static: stat / n, cells: cells / n, background: background / n };
}

/** v ↦ (v − mean)/sd over all of `a`; a constant maps to 0. */
function standardizer(a: ArrayLike<number>): (v: number) => number {
  const n = a.length;
  let m = 0;
  for (let i = 0; i < n; i++) m += a[i]!;
  m /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (a[i]! - m) ** 2;
  const sd = Math.sqrt(ss / n);
  return sd > 0 ? (v) => (v - m) / sd : () => 0;
}

/**
 * All metrics at once. `masks` (e.g. a simulation's) enables trace_r and error_split; its labels must be one
 * frame. The shape comes from a Stack argument or opts.shape.
 */
export function evaluate(
  x: StackLike,
  gt: StackLike,
  masks?: { labels: ArrayLike<number> } | null,
  opts?: MetricOptions,
): Evaluation {
  const [, g] = pair(x, gt);
  const shape = shapeOf(x, gt, opts, g.length);
  return {
    snr_db: snrDb(x, gt, opts?.baseline ?? 0),
    snr_z_db: standardizedSnrDb(x, gt),
    psnr_db: psnrDb(x, gt, opts?.dataRange),
    ssim: ssim(x, gt, { shape, ...(opts?.dataRange !== undefined ? { dataRange: opts.dataRange } : {}) }),
    trace_r: masks ? traceCorrelation(x, gt, masks.labels) : null,
    error_split: masks ? errorSplit(x, gt, masks.labels) : null,
  };
}
