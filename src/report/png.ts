/**
 * PNG figures for reports: image montages (raw vs denoised vs ground truth) and line plots
 * (training loss, SNR vs frame rate). Pure TypeScript raster drawing with the built-in bitmap
 * font (font.ts); png-encode.ts encodes. Every function returns the PNG file's bytes.
 */
import { ConfigError } from '../errors.js';
import { forEachTextPixel, GLYPH_HEIGHT, CAP_HEIGHT, textWidth } from './font.js';
import { encodeRgbPng } from './png-encode.js';

export type RGB = readonly [number, number, number];

const WHITE: RGB = [255, 255, 255];
const TEXT: RGB = [20, 20, 20];
const MUTED: RGB = [90, 90, 90];
const GRID: RGB = [225, 225, 225];
const AXIS: RGB = [60, 60, 60];

/** matplotlib's "tab10" colours, used in order for the series of a line plot. */
export const PALETTE: readonly RGB[] = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];

/** An RGB raster with clipping, blending and text. */
export class Raster {
  readonly data: Uint8Array;
  constructor(readonly width: number, readonly height: number, background: RGB = WHITE) {
    if (!(width >= 1 && height >= 1) || width * height > 100_000_000) {
      throw new ConfigError(`figure size ${width}×${height} is out of range`);
    }
    this.data = new Uint8Array(width * height * 3);
    this.fillRect(0, 0, width, height, background);
  }

  set(x: number, y: number, c: RGB): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 3;
    this.data[i] = c[0];
    this.data[i + 1] = c[1];
    this.data[i + 2] = c[2];
  }

  /** Alpha-blends colour c over pixel (x, y) with opacity a ∈ [0, 1]. */
  blend(x: number, y: number, c: RGB, a: number): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height || !(a > 0)) return;
    if (a >= 1) return this.set(x, y, c);
    const i = (y * this.width + x) * 3;
    for (let k = 0; k < 3; k++) this.data[i + k] = Math.round(this.data[i + k]! * (1 - a) + c[k]! * a);
  }

  fillRect(x: number, y: number, w: number, h: number, c: RGB): void {
    const xa = Math.max(0, Math.floor(x));
    const ya = Math.max(0, Math.floor(y));
    const xb = Math.min(this.width, Math.floor(x + w));
    const yb = Math.min(this.height, Math.floor(y + h));
    for (let yy = ya; yy < yb; yy++) for (let xx = xa; xx < xb; xx++) this.set(xx, yy, c);
  }

  strokeRect(x: number, y: number, w: number, h: number, c: RGB): void {
    this.fillRect(x, y, w, 1, c);
    this.fillRect(x, y + h - 1, w, 1, c);
    this.fillRect(x, y, 1, h, c);
    this.fillRect(x + w - 1, y, 1, h, c);
  }

  /** Draws text with its top-left (top of the capitals) at (x, y). */
  text(x: number, y: number, s: string, c: RGB, scale = 1): void {
    x = Math.round(x);
    y = Math.round(y);
    forEachTextPixel(s, (gx, gy) => this.fillRect(x + gx * scale, y + gy * scale, scale, scale, c));
  }

  /** Draws text rotated 90° counter-clockwise (reading upwards); (x, y) is the glyphs' top-left after rotation, i.e. the text ends at y. */
  textUp(x: number, y: number, s: string, c: RGB, scale = 1): void {
    x = Math.round(x);
    y = Math.round(y);
    const len = textWidth(s, 1);
    forEachTextPixel(s, (gx, gy) => this.fillRect(x + gy * scale, y + (len - 1 - gx) * scale, scale, scale, c));
  }

  /** Copies `other` onto this raster with its top-left at (x, y), clipped. */
  draw(other: Raster, x: number, y: number): void {
    for (let yy = 0; yy < other.height; yy++) {
      const ty = y + yy;
      if (ty < 0 || ty >= this.height) continue;
      const xa = Math.max(0, -x);
      const xb = Math.min(other.width, this.width - x);
      if (xb <= xa) continue;
      this.data.set(other.data.subarray((yy * other.width + xa) * 3, (yy * other.width + xb) * 3), (ty * this.width + x + xa) * 3);
    }
  }

  toPng(): Uint8Array {
    return encodeRgbPng(this.width, this.height, this.data);
  }
}

/** Shortens text with '..' until it fits maxWidth px at the given scale. */
function fitText(s: string, maxWidth: number, scale: number): string {
  if (textWidth(s, scale) <= maxWidth) return s;
  let t = s;
  while (t.length > 0 && textWidth(t + '..', scale) > maxWidth) t = t.slice(0, -1);
  return t.length > 0 ? t + '..' : '';
}

// ---------------------------------------------------------------------------------------------
// Montage

export interface MontagePanel {
  title: string;
  /** h×w pixels, row-major. */
  frame: ArrayLike<number>;
  h: number;
  w: number;
}

export interface MontageOptions {
  /** Lower and upper percentile of the contrast stretch. Default [0.5, 99.5]. */
  percentiles?: readonly [number, number];
  /**
   * 'panel' (default): each panel stretched by its own percentiles; 'shared': one stretch from
   * the percentiles of all panels' pixels together (use it to compare a denoised result with
   * the ground truth in the same units); or an explicit [low, high] display range.
   */
  range?: 'panel' | 'shared' | readonly [number, number];
  /** Integer nearest-neighbour magnification, or 'auto' (default): the smallest factor that makes the largest panel at least 256 px on its longer side, at most 8. */
  upscale?: number | 'auto';
  /** Panels per row. Default: all in one row. */
  columns?: number;
  /** Overall title above the panels. */
  title?: string;
  /** Print each panel's display range under it. Default true. */
  showRange?: boolean;
}

/** Value at percentile q ∈ [0, 100] of the finite values (linear interpolation); NaN if none. */
export function percentile(values: ArrayLike<number>, q: number): number {
  return percentiles(values, [q])[0]!;
}

function percentiles(values: ArrayLike<number>, qs: readonly number[]): number[] {
  // Subsample large inputs (a regular stride) to keep sorting cheap; 1M values bound the error
  // of a percentile far below one grey level.
  const n = values.length;
  const stride = Math.max(1, Math.floor(n / 1_000_000));
  const tmp = new Float64Array(Math.ceil(n / stride));
  let m = 0;
  for (let i = 0; i < n; i += stride) {
    const v = values[i]!;
    if (Number.isFinite(v)) tmp[m++] = v;
  }
  const a = tmp.subarray(0, m).sort();
  return qs.map((q) => {
    if (m === 0) return NaN;
    const pos = (Math.min(100, Math.max(0, q)) / 100) * (m - 1);
    const i = Math.floor(pos);
    const f = pos - i;
    return i + 1 < m ? a[i]! * (1 - f) + a[i + 1]! * f : a[i]!;
  });
}

function concatFrames(panels: readonly MontagePanel[]): Float64Array {
  let n = 0;
  for (const p of panels) n += p.frame.length;
  const all = new Float64Array(n);
  let o = 0;
  for (const p of panels) for (let i = 0; i < p.frame.length; i++) all[o++] = p.frame[i]!;
  return all;
}

function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return trimExp(v.toExponential(2));
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return trimZeros(v.toFixed(2));
  return trimZeros(v.toFixed(3));
}

function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

function trimExp(s: string): string {
  const [m, e] = s.split('e');
  return `${trimZeros(m!)}e${e!.replace('+', '')}`;
}

/** Where imageMontage puts things (pixel coordinates in the PNG). */
export interface MontageLayout {
  width: number;
  height: number;
  upscale: number;
  /** Per panel: its image's top-left (x, y) and size (w, h, upscaled), and its title band. */
  panels: { x: number; y: number; w: number; h: number; titleY: number; titleH: number; cellX: number; cellW: number }[];
  /** Overall title band (height 0 without a title). */
  headH: number;
}

const MONTAGE_GAP = 12;

export function montageLayout(panels: readonly Pick<MontagePanel, 'h' | 'w'>[], opts: MontageOptions = {}): MontageLayout {
  if (panels.length === 0) throw new ConfigError('a montage needs at least one panel');
  const maxSide = Math.max(...panels.map((p) => Math.max(p.h, p.w)));
  let up = opts.upscale ?? 'auto';
  if (up === 'auto') up = Math.min(8, Math.max(1, Math.ceil(256 / maxSide)));
  if (!(Number.isInteger(up) && up >= 1 && up <= 64)) throw new ConfigError(`upscale ${up} must be an integer from 1 to 64`);
  const cols = Math.max(1, Math.min(panels.length, Math.floor(opts.columns ?? panels.length)));
  const rows = Math.ceil(panels.length / cols);
  const showRange = opts.showRange ?? true;
  // Cells of the largest panel's size, at least 128 px wide so that titles and ranges fit.
  const cellW = Math.max(128, Math.max(...panels.map((p) => p.w)) * up);
  const cellH = Math.max(...panels.map((p) => p.h)) * up;
  const gap = MONTAGE_GAP;
  const titleH = GLYPH_HEIGHT * (cellW >= 160 ? 2 : 1) + 8;
  const rangeH = showRange ? GLYPH_HEIGHT + 6 : 0;
  const headH = opts.title ? GLYPH_HEIGHT * 2 + 14 : 0;
  const width = cols * cellW + (cols + 1) * gap;
  const height = headH + rows * (titleH + cellH + rangeH) + (rows + 1) * gap - (showRange ? 4 : 0);
  return {
    width,
    height,
    upscale: up,
    headH,
    panels: panels.map((p, i) => {
      const cellX = gap + (i % cols) * (cellW + gap);
      const yTop = headH + gap + Math.floor(i / cols) * (titleH + cellH + rangeH + gap);
      const w = p.w * up;
      const h = p.h * up;
      return {
        x: cellX + Math.floor((cellW - w) / 2),
        y: yTop + titleH + Math.floor((cellH - h) / 2),
        w, h, titleY: yTop, titleH, cellX, cellW,
      };
    }),
  };
}

/**
 * Grayscale panels side by side (or in a grid), each with its title above, contrast-stretched
 * linearly between two percentiles (values outside are clipped to black/white; NaN is black).
 */
export function imageMontage(panels: readonly MontagePanel[], opts: MontageOptions = {}): Uint8Array {
  return montageRaster(panels, opts).toPng();
}

/** imageMontage's picture, to compose into a larger figure (figure()). */
export function montageRaster(panels: readonly MontagePanel[], opts: MontageOptions = {}): Raster {
  for (const p of panels) {
    if (!(Number.isInteger(p.h) && Number.isInteger(p.w) && p.h > 0 && p.w > 0) || p.frame.length !== p.h * p.w) {
      throw new ConfigError(`montage panel "${p.title}": ${p.frame.length} values do not make a ${p.h}×${p.w} frame`);
    }
  }
  const layout = montageLayout(panels, opts);
  const up = layout.upscale;
  const [qlo, qhi] = opts.percentiles ?? [0.5, 99.5];
  const showRange = opts.showRange ?? true;

  // Display ranges.
  let shared: [number, number] | undefined;
  const range = opts.range ?? 'panel';
  if (Array.isArray(range)) shared = [range[0]!, range[1]!];
  else if (range === 'shared') {
    const [lo, hi] = percentiles(concatFrames(panels), [qlo, qhi]);
    shared = [lo!, hi!];
  }
  const ranges = panels.map((p) => {
    if (shared) return shared;
    const [lo, hi] = percentiles(p.frame, [qlo, qhi]);
    return [lo!, hi!] as [number, number];
  });

  const img = new Raster(layout.width, layout.height);
  if (opts.title) {
    const t = fitText(opts.title, layout.width - 2 * MONTAGE_GAP, 2);
    img.text((layout.width - textWidth(t, 2)) / 2, MONTAGE_GAP, t, TEXT, 2);
  }
  panels.forEach((p, i) => {
    const L = layout.panels[i]!;
    // Title, scale 2 if the layout allows and it fits, else 1, else shortened.
    let ts = L.titleH > GLYPH_HEIGHT + 8 ? 2 : 1;
    if (textWidth(p.title, ts) > L.cellW) ts = 1;
    const title = fitText(p.title, L.cellW, ts);
    img.text(L.cellX + (L.cellW - textWidth(title, ts)) / 2, L.titleY + Math.floor((L.titleH - 2 - GLYPH_HEIGHT * ts) / 2), title, TEXT, ts);
    // Pixels.
    const [lo, hi] = ranges[i]!;
    const span = hi - lo;
    for (let y = 0; y < p.h; y++) {
      for (let x = 0; x < p.w; x++) {
        const v = p.frame[y * p.w + x]!;
        let g: number;
        if (!Number.isFinite(v)) g = Number.isNaN(v) ? 0 : v > 0 ? 255 : 0;
        else if (!(span > 0) || !Number.isFinite(span)) g = v > lo ? 255 : v < lo ? 0 : 128;
        else g = Math.round(Math.min(1, Math.max(0, (v - lo) / span)) * 255);
        img.fillRect(L.x + x * up, L.y + y * up, up, up, [g, g, g]);
      }
    }
    if (showRange) {
      const label = fitText(`${formatValue(lo)} .. ${formatValue(hi)}`, L.cellW, 1);
      const cellBottom = L.titleY + L.titleH + Math.max(...layout.panels.map((q) => q.h));
      img.text(L.cellX + (L.cellW - textWidth(label, 1)) / 2, cellBottom + 5, label, MUTED, 1);
    }
  });
  return img;
}

// ---------------------------------------------------------------------------------------------
// Line plot

export interface PlotSeries {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** Colour; default the next PALETTE entry. */
  color?: RGB;
  /** Dots at the points (default: the plot's `markers`). */
  markers?: boolean;
}

export interface LinePlotOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Logarithmic y axis (non-positive values are left out). */
  logY?: boolean;
  /** Logarithmic x axis (non-positive values are left out), e.g. for frame rates. */
  logX?: boolean;
  /** Image size in px. Default 800×500. */
  width?: number;
  height?: number;
  /** Dots at the data points: default when a series has at most 40 points. */
  markers?: boolean;
  /** Fixed axis limits (in data units), instead of the data's extent. */
  xRange?: readonly [number, number];
  yRange?: readonly [number, number];
}

interface Axis {
  lo: number; // in transformed units (log10 for log axes)
  hi: number;
  log: boolean;
  ticks: { v: number; label: string }[]; // v in transformed units
}

/** "Nice" tick step (1, 2 or 5 × 10^k) for about n intervals over span. */
function niceStep(span: number, n: number): number {
  const raw = span / Math.max(1, n);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

function decimalsFor(step: number): number {
  for (let d = 0; d <= 10; d++) {
    const s = step * 10 ** d;
    if (Math.abs(s - Math.round(s)) < 1e-6 * Math.max(1, s)) return d;
  }
  return 10;
}

function formatTick(v: number, step: number): string {
  if (Math.abs(v) < step * 1e-9) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return trimExp(v.toExponential(Math.min(3, Math.max(0, decimalsFor(step / 10 ** Math.floor(Math.log10(a))))))) ;
  return v.toFixed(decimalsFor(step));
}

function linearAxis(lo: number, hi: number, nTicks: number, pad: number): Axis {
  if (!(hi > lo)) {
    const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= d;
    hi += d;
  } else if (pad > 0) {
    const d = (hi - lo) * pad;
    lo -= d;
    hi += d;
  }
  const step = niceStep(hi - lo, nTicks);
  const ticks: Axis['ticks'] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) {
    const v = k * step;
    ticks.push({ v, label: formatTick(v, step) });
  }
  return { lo, hi, log: false, ticks };
}

function logAxis(lo: number, hi: number, nTicks: number, pad: number): Axis {
  let a = Math.log10(lo);
  let b = Math.log10(hi);
  if (!(b > a)) {
    a -= 0.5;
    b += 0.5;
  } else if (pad > 0) {
    const d = (b - a) * pad;
    a -= d;
    b += d;
  }
  const ticks: Axis['ticks'] = [];
  const decades = b - a;
  const mults = decades < 1.2 ? [1, 2, 3, 5] : decades * 3 <= nTicks * 1.6 ? [1, 2, 5] : [1];
  let stride = 1;
  if (decades > nTicks) stride = Math.ceil(decades / nTicks);
  for (let e = Math.floor(a); e <= Math.ceil(b); e++) {
    if (stride > 1 && e % stride !== 0) continue;
    for (const m of mults) {
      const v = Math.log10(m) + e;
      if (v < a - 1e-9 || v > b + 1e-9) continue;
      const value = m * 10 ** e;
      const label = e >= 5 || e <= -4 ? `${m}e${e}` : trimZeros(value.toFixed(Math.max(0, -e)));
      ticks.push({ v, label });
    }
  }
  if (ticks.length < 2) {
    // Less than a decade and no 1-2-3-5 values inside: linear ticks placed on the log scale.
    const lin = linearAxis(10 ** a, 10 ** b, nTicks, 0);
    return { lo: a, hi: b, log: true, ticks: lin.ticks.filter((t) => t.v > 0).map((t) => ({ v: Math.log10(t.v), label: t.label })) };
  }
  return { lo: a, hi: b, log: true, ticks };
}

function buildAxis(values: number[], log: boolean, fixed: readonly [number, number] | undefined, nTicks: number, pad: number): Axis {
  let lo = Infinity;
  let hi = -Infinity;
  if (fixed) {
    [lo, hi] = fixed;
    pad = 0;
  } else {
    for (const v of values) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (log) {
    if (!(lo > 0) || !Number.isFinite(lo)) lo = hi > 0 ? hi / 10 : 1;
    if (!(hi > 0) || !Number.isFinite(hi)) hi = lo * 10;
    return logAxis(lo, hi, nTicks, pad);
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    lo = 0;
    hi = 1;
  }
  return linearAxis(lo, hi, nTicks, pad);
}

/** Per-pixel coverage of one series, combined by max so that joints are not drawn twice. */
class Coverage {
  readonly a: Float32Array;
  constructor(readonly w: number, readonly h: number) {
    this.a = new Float32Array(w * h);
  }
  private put(x: number, y: number, v: number): void {
    const i = y * this.w + x;
    if (v > this.a[i]!) this.a[i] = v;
  }
  /** Anti-aliased segment of width lw, clipped to the box [0, w) × [0, h). */
  segment(x0: number, y0: number, x1: number, y1: number, lw: number): void {
    const r = lw / 2 + 0.5;
    const xa = Math.max(0, Math.floor(Math.min(x0, x1) - r));
    const xb = Math.min(this.w - 1, Math.ceil(Math.max(x0, x1) + r));
    const ya = Math.max(0, Math.floor(Math.min(y0, y1) - r));
    const yb = Math.min(this.h - 1, Math.ceil(Math.max(y0, y1) + r));
    const dx = x1 - x0;
    const dy = y1 - y0;
    const len2 = dx * dx + dy * dy;
    for (let y = ya; y <= yb; y++) {
      for (let x = xa; x <= xb; x++) {
        const px = x + 0.5 - x0;
        const py = y + 0.5 - y0;
        const t = len2 > 0 ? Math.max(0, Math.min(1, (px * dx + py * dy) / len2)) : 0;
        const d = Math.hypot(px - t * dx, py - t * dy);
        const cov = Math.min(1, Math.max(0, lw / 2 + 0.5 - d));
        if (cov > 0) this.put(x, y, cov);
      }
    }
  }
  disc(cx: number, cy: number, radius: number): void {
    const xa = Math.max(0, Math.floor(cx - radius - 1));
    const xb = Math.min(this.w - 1, Math.ceil(cx + radius + 1));
    const ya = Math.max(0, Math.floor(cy - radius - 1));
    const yb = Math.min(this.h - 1, Math.ceil(cy + radius + 1));
    for (let y = ya; y <= yb; y++) {
      for (let x = xa; x <= xb; x++) {
        const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
        const cov = Math.min(1, Math.max(0, radius + 0.5 - d));
        if (cov > 0) this.put(x, y, cov);
      }
    }
  }
  paint(img: Raster, ox: number, oy: number, c: RGB): void {
    for (let y = 0; y < this.h; y++) {
      for (let x = 0; x < this.w; x++) {
        const v = this.a[y * this.w + x]!;
        if (v > 0) img.blend(ox + x, oy + y, c, v);
      }
    }
  }
}

/**
 * A line plot with axes, tick labels, grid, axis labels, title and legend. Non-finite points
 * (and non-positive ones on a log axis) break the line.
 */
export function linePlot(series: readonly PlotSeries[], opts: LinePlotOptions = {}): Uint8Array {
  return plotRaster(series, opts).toPng();
}

/** linePlot's picture, to compose into a larger figure (figure()). */
export function plotRaster(series: readonly PlotSeries[], opts: LinePlotOptions = {}): Raster {
  const W = Math.round(opts.width ?? 800);
  const H = Math.round(opts.height ?? 500);
  if (!(W >= 200 && H >= 150 && W <= 8000 && H <= 8000)) {
    throw new ConfigError(`plot size ${W}×${H} is out of range: use 200–8000 × 150–8000 px`);
  }
  const logX = opts.logX ?? false;
  const logY = opts.logY ?? false;
  const s = W >= 560 && H >= 360 ? 2 : 1; // font scale of titles and labels
  const tickScale = s; // tick labels and legend

  // Points in transformed units.
  const pts = series.map((se) => {
    const n = Math.min(se.x.length, se.y.length);
    const xs: number[] = [];
    const ys: number[] = [];
    for (let i = 0; i < n; i++) {
      let x = se.x[i]!;
      let y = se.y[i]!;
      if (logX) x = x > 0 ? Math.log10(x) : NaN;
      if (logY) y = y > 0 ? Math.log10(y) : NaN;
      xs.push(x);
      ys.push(y);
    }
    return { xs, ys };
  });
  const finiteXs: number[] = [];
  const finiteYs: number[] = [];
  for (const p of pts) {
    for (let i = 0; i < p.xs.length; i++) {
      if (Number.isFinite(p.xs[i]!) && Number.isFinite(p.ys[i]!)) {
        finiteXs.push(logX ? 10 ** p.xs[i]! : p.xs[i]!);
        finiteYs.push(logY ? 10 ** p.ys[i]! : p.ys[i]!);
      }
    }
  }

  // Layout (first pass with a guessed left margin, then the y tick labels' width).
  const titleH = opts.title ? GLYPH_HEIGHT * s + 16 : 10;
  const xLabelH = opts.xLabel ? GLYPH_HEIGHT * s + 10 : 0;
  const yLabelW = opts.yLabel ? GLYPH_HEIGHT * s + 12 : 0;
  const bottom = GLYPH_HEIGHT * tickScale + 14 + xLabelH + 6;
  const right = 24;
  const plotH0 = H - titleH - bottom;
  const yAxis = buildAxis(finiteYs, logY, opts.yRange, Math.max(2, Math.round(plotH0 / (s > 1 ? 60 : 40))), 0.05);
  const yTickW = Math.max(0, ...yAxis.ticks.map((t) => textWidth(t.label, tickScale)));
  const left = 10 + yLabelW + yTickW + 8;
  const plotW = W - left - right;
  const plotH = plotH0;
  if (plotW < 40 || plotH < 40) throw new ConfigError(`plot size ${W}×${H} leaves no room for the axes`);
  const xAxis = buildAxis(finiteXs, logX, opts.xRange, Math.max(2, Math.round(plotW / (s > 1 ? 110 : 70))), 0.02);
  const px0 = left;
  const py0 = titleH;
  const sx = (v: number): number => ((v - xAxis.lo) / (xAxis.hi - xAxis.lo)) * plotW;
  const sy = (v: number): number => plotH - ((v - yAxis.lo) / (yAxis.hi - yAxis.lo)) * plotH;

  const img = new Raster(W, H);
  // Grid and ticks.
  for (const t of yAxis.ticks) {
    const y = Math.round(py0 + sy(t.v));
    if (y < py0 || y > py0 + plotH) continue;
    img.fillRect(px0, y, plotW, 1, GRID);
    img.fillRect(px0 - 5, y, 5, 1, AXIS);
    img.text(px0 - 8 - textWidth(t.label, tickScale), y - Math.floor((CAP_HEIGHT * tickScale) / 2), t.label, TEXT, tickScale);
  }
  let lastRight = -Infinity;
  for (const t of xAxis.ticks) {
    const x = Math.round(px0 + sx(t.v));
    if (x < px0 || x > px0 + plotW) continue;
    img.fillRect(x, py0, 1, plotH, GRID);
    img.fillRect(x, py0 + plotH, 1, 5, AXIS);
    const lw = textWidth(t.label, tickScale);
    const lx = Math.min(W - 2 - lw, Math.max(2, x - lw / 2));
    if (lx > lastRight + 6) {
      img.text(lx, py0 + plotH + 9, t.label, TEXT, tickScale);
      lastRight = lx + lw;
    }
  }
  img.strokeRect(px0 - 1, py0 - 1, plotW + 2, plotH + 2, AXIS);

  // Series.
  const colors = series.map((se, i) => se.color ?? PALETTE[i % PALETTE.length]!);
  const lw = s > 1 ? 2.2 : 1.5;
  const occupied = new Float32Array(plotW * plotH);
  pts.forEach((p, i) => {
    const cov = new Coverage(plotW, plotH);
    const n = p.xs.length;
    const markers = series[i]!.markers ?? opts.markers ?? n <= 40;
    let prev: [number, number] | null = null;
    for (let k = 0; k < n; k++) {
      const xv = p.xs[k]!;
      const yv = p.ys[k]!;
      if (!Number.isFinite(xv) || !Number.isFinite(yv)) {
        prev = null;
        continue;
      }
      const cur: [number, number] = [sx(xv), sy(yv)];
      if (prev) cov.segment(prev[0], prev[1], cur[0], cur[1], lw);
      else if (!markers) cov.disc(cur[0], cur[1], lw / 2);
      if (markers) cov.disc(cur[0], cur[1], lw + 1.5);
      prev = cur;
    }
    cov.paint(img, px0, py0, colors[i]!);
    for (let k = 0; k < occupied.length; k++) occupied[k]! += cov.a[k]!;
  });

  // Title and axis labels.
  if (opts.title) {
    const t = fitText(opts.title, W - 20, s);
    img.text((W - textWidth(t, s)) / 2, 10, t, TEXT, s);
  }
  if (opts.xLabel) {
    const t = fitText(opts.xLabel, plotW, s);
    img.text(px0 + (plotW - textWidth(t, s)) / 2, H - 6 - GLYPH_HEIGHT * s, t, TEXT, s);
  }
  if (opts.yLabel) {
    const t = fitText(opts.yLabel, plotH, s);
    img.textUp(10, py0 + (plotH - textWidth(t, s)) / 2, t, TEXT, s);
  }

  // Legend (top right inside the plot), for named series.
  const named = series.map((se, i) => ({ name: se.name, color: colors[i]! })).filter((e) => e.name.length > 0);
  if (named.length > 0) {
    const ls = tickScale;
    const rowH = GLYPH_HEIGHT * ls + 6;
    const maxName = Math.min(plotW - legendSample(ls) - 40, Math.max(...named.map((e) => textWidth(e.name, ls))));
    const boxW = 10 + legendSample(ls) + 8 + maxName + 10;
    const boxH = 8 + named.length * rowH;
    // The place where the legend hides the least ink: corners first (top right, top left,
    // bottom right, bottom left), then the middles of the edges.
    let best = Infinity;
    let bx = 0;
    let by = 0;
    const places = [[1, 0], [0, 0], [1, 1], [0, 1], [0.5, 0], [0.5, 1], [1, 0.5], [0, 0.5]] as const;
    for (const [cx, cy] of places) {
      const x0 = Math.round(8 + cx * (plotW - boxW - 16));
      const y0 = Math.round(8 + cy * (plotH - boxH - 16));
      let ink = 0;
      for (let y = Math.max(0, y0); y < Math.min(plotH, y0 + boxH); y++) {
        for (let x = Math.max(0, x0); x < Math.min(plotW, x0 + boxW); x++) ink += occupied[y * plotW + x]!;
      }
      if (ink < best - 0.5) {
        best = ink;
        bx = px0 + x0;
        by = py0 + y0;
      }
    }
    img.fillRect(bx, by, boxW, boxH, WHITE);
    img.strokeRect(bx, by, boxW, boxH, [180, 180, 180]);
    named.forEach((e, i) => drawLegendEntry(img, bx + 10, by + 6 + i * rowH, e, ls, maxName));
  }
  if (finiteXs.length === 0) {
    const t = 'no data';
    img.text(px0 + (plotW - textWidth(t, s)) / 2, py0 + plotH / 2, t, MUTED, s);
  }
  return img;
}

export interface LegendEntry {
  name: string;
  color: RGB;
}

/** Width of a legend entry's line sample. */
function legendSample(scale: number): number {
  return 22 * scale;
}

/** One legend entry: a line sample in the series' colour, then its name, with the text's top at y. */
function drawLegendEntry(img: Raster, x: number, y: number, e: LegendEntry, scale: number, maxName: number): void {
  const cy = y + Math.floor((CAP_HEIGHT * scale) / 2);
  img.fillRect(x, cy - 1, legendSample(scale), scale > 1 ? 3 : 2, e.color);
  img.text(x + legendSample(scale) + 8, y, fitText(e.name, maxName, scale), TEXT, scale);
}

/**
 * A legend on its own strip `width` px wide, entries side by side and wrapped into centred rows:
 * for plots that share their series, where a legend inside each would hide lines that fill them.
 */
export function legendRaster(entries: readonly LegendEntry[], width: number, scale = 1): Raster {
  const gap = 24 * scale;
  const maxName = width - legendSample(scale) - 8 - 2 * gap;
  const widths = entries.map((e) => legendSample(scale) + 8 + Math.min(maxName, textWidth(e.name, scale)));
  const rows: number[][] = [];
  let used = 0;
  widths.forEach((w, i) => {
    if (rows.length === 0 || used + gap + w > width - 2 * gap) {
      rows.push([]);
      used = -gap;
    }
    rows[rows.length - 1]!.push(i);
    used += gap + w;
  });
  const rowH = GLYPH_HEIGHT * scale + 8;
  const img = new Raster(width, rows.length * rowH + 8);
  rows.forEach((row, r) => {
    const rowW = row.reduce((a, i) => a + widths[i]!, 0) + gap * (row.length - 1);
    let x = Math.round((width - rowW) / 2);
    for (const i of row) {
      drawLegendEntry(img, x, 6 + r * rowH, entries[i]!, scale, maxName);
      x += widths[i]! + gap;
    }
  });
  return img;
}

// ---------------------------------------------------------------------------------------------
// Figures

/** Rows of pictures (each row's pictures side by side, centred), on white, as one PNG. */
export function figure(rows: readonly (readonly Raster[])[], gap = MONTAGE_GAP): Uint8Array {
  const rowW = rows.map((r) => r.reduce((a, p) => a + p.width, 0) + gap * Math.max(0, r.length - 1));
  const rowH = rows.map((r) => Math.max(0, ...r.map((p) => p.height)));
  const width = Math.max(...rowW);
  const img = new Raster(width, rowH.reduce((a, h) => a + h, 0) + gap * Math.max(0, rows.length - 1));
  let y = 0;
  rows.forEach((row, i) => {
    let x = Math.floor((width - rowW[i]!) / 2);
    for (const p of row) {
      img.draw(p, x, y);
      x += p.width + gap;
    }
    y += rowH[i]! + gap;
  });
  return img.toPng();
}
