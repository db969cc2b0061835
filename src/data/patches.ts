/**
 * Patch grids for training and inference, reproducing the published index arithmetic
 * (SRDTRANS.md "Training procedure" and "Inference procedure") without its listed defects.
 */
import { ConfigError, StackError } from '../errors.js';
import type { Point3 } from './normalize.js';

export type Shape3 = readonly [t: number, h: number, w: number];

/** Half-open box [t0,t1)×[y0,y1)×[x0,x1). */
export interface Box3 {
  readonly t0: number;
  readonly t1: number;
  readonly y0: number;
  readonly y1: number;
  readonly x0: number;
  readonly x1: number;
}

/** Origin of one training patch in stack `stack` (index into the shapes given to trainGrid). */
export interface TrainPatch {
  readonly stack: number;
  readonly t: number;
  readonly y: number;
  readonly x: number;
}

export type SamplingStrategy = 'spatial' | 'temporal';

export interface TrainGridOptions {
  /** Patch size in y and x. */
  readonly patchXY: number;
  /** Frames the network sees per patch (its input T). */
  readonly patchT: number;
  /** Overlap factor in [0, 1): spatial gap = int(patchXY·(1 − overlap)). */
  readonly overlap: number;
  /** Approximate number of patches wanted over all stacks (published train_datasets_size). */
  readonly trainSize: number;
  /**
   * Frames a training patch spans in the stack: patchT for spatial sampling (default),
   * 2·patchT for temporal (DeepCAD-style) sampling. See {@link temporalExtent}.
   */
  readonly extentT?: number;
  /** Names of the stacks, for error messages. */
  readonly names?: readonly string[];
}

/** Frames a training patch spans for a sampling strategy. */
export function temporalExtent(strategy: SamplingStrategy, patchT: number): number {
  return strategy === 'temporal' ? 2 * patchT : patchT;
}

/** The published gap: int(size·(1 − overlap)). */
export function patchGap(size: number, overlap: number, what = 'patch'): number {
  if (!Number.isInteger(size) || size < 1) throw new ConfigError(`${what} size must be a positive integer, got ${size}`);
  if (!(overlap >= 0 && overlap < 1)) throw new ConfigError(`overlap must be in [0, 1), got ${overlap}`);
  const gap = Math.trunc(size * (1 - overlap));
  if (gap < 1) {
    throw new ConfigError(
      `overlap ${overlap} leaves no gap between ${what}es of size ${size}; lower the overlap or raise the ${what} size`,
    );
  }
  return gap;
}

function label(names: readonly string[] | undefined, i: number): string {
  return names?.[i] ?? `stack ${i}`;
}

function checkFits(shape: Shape3, name: string, patchXY: number, extentT: number, patchT: number): void {
  const [T, H, W] = shape;
  if (W < patchXY) {
    throw new StackError(
      `${name} is ${W} pixels wide (x) but a patch is ${patchXY}: lower the patch size in x/y (--patch-xy) to at most ${Math.min(W, H)}`,
    );
  }
  if (H < patchXY) {
    throw new StackError(
      `${name} is ${H} pixels high (y) but a patch is ${patchXY}: lower the patch size in x/y (--patch-xy) to at most ${Math.min(W, H)}`,
    );
  }
  if (T < extentT) {
    const hint =
      extentT === patchT
        ? `lower the temporal patch size (--patch-t) to at most ${T}`
        : `a patch spans ${extentT} frames (2 × --patch-t for temporal sampling): lower --patch-t to at most ${Math.floor(T / 2)}`;
    throw new StackError(`${name} has ${T} frames (t) but a patch needs ${extentT}: ${hint}`);
  }
}

/**
 * Temporal gap between training patches of one stack: the published
 * s_num = ceil(trainSize / w_num / h_num / nStacks), gap_t = floor((T − extentT)/(s_num − 1)).
 * Returns 0 when a single temporal position is used (s_num = 1, where the published code divides
 * by zero); otherwise at least 1 (the published code divides by zero on a gap of 0).
 */
export function trainTemporalGap(shape: Shape3, nStacks: number, opts: TrainGridOptions): number {
  const gapXY = patchGap(opts.patchXY, opts.overlap);
  const extentT = opts.extentT ?? opts.patchT;
  checkFits(shape, 'the stack', opts.patchXY, extentT, opts.patchT);
  const [T, H, W] = shape;
  const wNum = Math.floor((W - opts.patchXY) / gapXY) + 1;
  const hNum = Math.floor((H - opts.patchXY) / gapXY) + 1;
  const sNum = Math.ceil(opts.trainSize / wNum / hNum / nStacks);
  if (sNum <= 1) return 0;
  return Math.max(1, Math.floor((T - extentT) / (sNum - 1)));
}

/**
 * Training patch origins for every stack, in the published order (stack, then y, then x, then t).
 * Spatial positions every gap = int(patchXY·(1−overlap)) pixels: floor((L − P)/gap) + 1 per axis;
 * temporal positions every {@link trainTemporalGap} frames: floor((T − extentT)/gap_t) + 1.
 */
export function trainGrid(shapes: readonly Shape3[], opts: TrainGridOptions): TrainPatch[] {
  if (shapes.length === 0) throw new ConfigError('no stacks to train on');
  if (!Number.isInteger(opts.trainSize) || opts.trainSize < 1) {
    throw new ConfigError(`the training set size must be a positive integer, got ${opts.trainSize}`);
  }
  if (!Number.isInteger(opts.patchT) || opts.patchT < 1) {
    throw new ConfigError(`temporal patch size must be a positive integer, got ${opts.patchT}`);
  }
  const extentT = opts.extentT ?? opts.patchT;
  if (!Number.isInteger(extentT) || extentT < 1) {
    throw new ConfigError(`temporal patch extent must be a positive integer, got ${extentT}`);
  }
  const gap = patchGap(opts.patchXY, opts.overlap);
  const P = opts.patchXY;
  const out: TrainPatch[] = [];
  shapes.forEach((shape, s) => {
    checkFits(shape, label(opts.names, s), P, extentT, opts.patchT);
    const [T, H, W] = shape;
    const gapT = trainTemporalGap(shape, shapes.length, opts);
    const hNum = Math.floor((H - P) / gap) + 1;
    const wNum = Math.floor((W - P) / gap) + 1;
    const sNum = gapT === 0 ? 1 : Math.floor((T - extentT) / gapT) + 1;
    for (let i = 0; i < hNum; i++) {
      for (let j = 0; j < wNum; j++) {
        for (let k = 0; k < sNum; k++) out.push({ stack: s, t: k * gapT, y: i * gap, x: j * gap });
      }
    }
  });
  return out;
}

export interface InferenceGridOptions {
  readonly patchXY: number;
  readonly patchT: number;
  /** Overlap factor in [0, 1): gap = int(P·(1 − overlap)) on each axis. */
  readonly overlap: number;
  /** Name of the stack, for error messages. */
  readonly name?: string;
}

/** One inference patch: where it is read, and which part of its output is kept where. */
export interface InferencePatch {
  /** Position in the published loop order (t outermost, then y, then x). */
  readonly index: number;
  /** Grid indices along t, y, x. */
  readonly grid: Point3;
  /** Origin of the patch in the stack; its size is patchT × patchXY × patchXY. */
  readonly origin: Point3;
  /** Kept region in patch coordinates. */
  readonly src: Box3;
  /** The same region in stack coordinates (same extent as src). */
  readonly dst: Box3;
}

interface AxisPos {
  origin: number;
  src0: number;
  src1: number;
  dst0: number;
  dst1: number;
}

/**
 * Patch positions along one axis of length L for patch size P and gap: the published
 * n = ceil((L − P + gap)/gap), the last patch aligned to the end, cut = (P − gap)/2 dropped from
 * each side except at the stack's borders, with the published truncation of a half-integer cut
 * (floor(cut) dropped before, ceil(cut) after). A stack exactly one patch long keeps the whole
 * patch (the published code keeps only its first P − cut voxels).
 */
export function axisPositions(L: number, P: number, gap: number): AxisPos[] {
  if (L < P) throw new RangeError(`axis of ${L} is shorter than the patch (${P})`);
  const n = Math.ceil((L - P + gap) / gap);
  if (n <= 1) return [{ origin: 0, src0: 0, src1: P, dst0: 0, dst1: L }];
  const cut = (P - gap) / 2;
  const out: AxisPos[] = [];
  for (let i = 0; i < n; i++) {
    if (i === 0) {
      const e = Math.trunc(P - cut);
      out.push({ origin: 0, src0: 0, src1: e, dst0: 0, dst1: e });
    } else if (i === n - 1) {
      out.push({ origin: L - P, src0: Math.trunc(cut), src1: P, dst0: Math.trunc(L - P + cut), dst1: L });
    } else {
      out.push({
        origin: i * gap,
        src0: Math.trunc(cut),
        src1: Math.trunc(P - cut),
        dst0: Math.trunc(i * gap + cut),
        dst1: Math.trunc(i * gap + P - cut),
      });
    }
  }
  return out;
}

function checkInferenceFits(shape: Shape3, opts: InferenceGridOptions): void {
  const [T, H, W] = shape;
  const name = opts.name ?? 'the stack';
  if (W < opts.patchXY || H < opts.patchXY) {
    const [axis, len] = W < opts.patchXY ? ['wide (x)', W] : ['high (y)', H];
    throw new StackError(
      `${name} is ${len} pixels ${axis} but an inference patch is ${opts.patchXY}: ` +
        `lower the patch size in x/y (--patch-xy) to at most ${Math.min(W, H)}`,
    );
  }
  if (T < opts.patchT) {
    throw new StackError(
      `${name} has ${T} frames (t) but an inference patch needs ${opts.patchT}: ` +
        `use a model trained with a temporal patch size (--patch-t) of at most ${T}`,
    );
  }
}

/**
 * Inference patches of a stack in the published loop order (t outermost, then y, then x), with
 * the kept region of each. Later patches overwrite earlier ones where kept regions overlap
 * (only next to the end-aligned last patch of an axis); every voxel is covered.
 */
export function inferenceGrid(shape: Shape3, opts: InferenceGridOptions): InferencePatch[] {
  const gapXY = patchGap(opts.patchXY, opts.overlap);
  const gapT = patchGap(opts.patchT, opts.overlap, 'temporal patch');
  checkInferenceFits(shape, opts);
  const [T, H, W] = shape;
  const ts = axisPositions(T, opts.patchT, gapT);
  const ys = axisPositions(H, opts.patchXY, gapXY);
  const xs = axisPositions(W, opts.patchXY, gapXY);
  const out: InferencePatch[] = [];
  ts.forEach((pt, it) => {
    ys.forEach((py, iy) => {
      xs.forEach((px, ix) => {
        out.push({
          index: out.length,
          grid: { t: it, y: iy, x: ix },
          origin: { t: pt.origin, y: py.origin, x: px.origin },
          src: { t0: pt.src0, t1: pt.src1, y0: py.src0, y1: py.src1, x0: px.src0, x1: px.src1 },
          dst: { t0: pt.dst0, t1: pt.dst1, y0: py.dst0, y1: py.dst1, x0: px.dst0, x1: px.dst1 },
        });
      });
    });
  });
  return out;
}

/**
 * The patches of one temporal grid position. Together they write frames [keptT0, keptT1) of the
 * stack over the whole frame; after the last of them, frames [finalT0, finalT1) are final
 * (the tail [finalT1, keptT1), if any, is overwritten by the next slab in full).
 */
export interface InferenceSlab {
  /** Temporal grid index. */
  readonly t: number;
  /** Patch index range [first, end) in the grid. */
  readonly first: number;
  readonly end: number;
  readonly keptT0: number;
  readonly keptT1: number;
  readonly finalT0: number;
  readonly finalT1: number;
}

/**
 * Groups an inference grid by temporal position. The slabs' final frame ranges partition
 * [0, T) in order, so a denoiser needs only a (keptT1 − keptT0) × H × W buffer per slab.
 */
export function inferenceSlabs(grid: readonly InferencePatch[]): InferenceSlab[] {
  const groups: { t: number; first: number; end: number; t0: number; t1: number }[] = [];
  for (let i = 0; i < grid.length; i++) {
    const p = grid[i]!;
    if (p.index !== i) throw new RangeError('inference grid is out of order');
    const last = groups[groups.length - 1];
    if (last && last.t === p.grid.t) {
      last.end = i + 1;
      if (p.dst.t0 !== last.t0 || p.dst.t1 !== last.t1) throw new RangeError('inconsistent temporal kept range');
    } else {
      if (last && p.grid.t !== last.t + 1) throw new RangeError('inference grid is not t-major');
      groups.push({ t: p.grid.t, first: i, end: i + 1, t0: p.dst.t0, t1: p.dst.t1 });
    }
  }
  return groups.map((g, i) => {
    const next = groups[i + 1];
    return {
      t: g.t,
      first: g.first,
      end: g.end,
      keptT0: g.t0,
      keptT1: g.t1,
      finalT0: g.t0,
      finalT1: next ? next.t0 : g.t1,
    };
  });
}
