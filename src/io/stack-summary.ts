/**
 * A stack's summary as `srdtrans info` shows it: shape, type, axes, value range and whether the
 * training and denoising patch grids fit. Shared by the CLI and the browser app, so both say the
 * same thing about the same file.
 */
import { UserError } from '../errors.js';
import { inferenceGrid, temporalExtent, trainGrid, type SamplingStrategy } from '../data/patches.js';
import type { StackArray, StackDType } from '../data/stack.js';
import type { TiffStackInfo } from './tiff/reader.js';
import type { ZarrStackInfo } from './zarr/reader.js';

/** A TiffStackReader or a ZarrStackReader: what the summary reads. */
export interface SummaryReader {
  readonly shape: readonly [t: number, h: number, w: number];
  readonly dtype: StackDType;
  readonly axes: string;
  readonly info: TiffStackInfo | ZarrStackInfo;
  readFrames(start: number, count: number): Promise<StackArray>;
}

export interface GridSettings {
  patchXY: number;
  patchT: number;
  overlap: number;
  trainSize: number;
  sampling: SamplingStrategy;
}

/** Key order is `info --json`'s. */
export interface StackSummary {
  file: string;
  shape: readonly [number, number, number];
  dtype: StackDType;
  axes: string;
  format: string;
  channel: number | null;
  bigTiff?: boolean;
  compression?: string;
  chunks?: readonly number[];
  scale?: ZarrStackInfo['scale'];
  min: number;
  max: number;
  mean: number;
  /** A patch count, or why the grid does not fit. */
  grid: Omit<GridSettings, 'trainSize'> & { trainPatches: number | string; denoisePatches: number | string };
}

export async function summarizeStack(reader: SummaryReader, file: string, g: GridSettings): Promise<StackSummary> {
  const range = await valueRange(reader);
  const { patchXY, patchT, overlap, trainSize, sampling } = g;
  const trainPatches = fits(() => trainGrid([reader.shape], {
    patchXY, patchT, overlap, trainSize, extentT: temporalExtent(sampling, patchT), names: [file],
  }).length);
  const denoisePatches = fits(() => inferenceGrid(reader.shape, { patchXY, patchT, overlap, name: file }).length);
  const i = reader.info;
  return {
    file, shape: reader.shape, dtype: reader.dtype, axes: reader.axes, format: i.format, channel: i.channel,
    ...('bigTiff' in i ? { bigTiff: i.bigTiff, compression: i.compression } : { chunks: i.chunks, scale: i.scale }),
    min: range.min, max: range.max, mean: range.mean,
    grid: { patchXY, patchT, overlap, sampling, trainPatches, denoisePatches },
  };
}

/** The summary as `srdtrans info` prints it (ending in an empty line). */
export function formatStackSummary(s: StackSummary): string {
  const [t, h, w] = s.shape;
  const { grid } = s;
  const storage = s.bigTiff !== undefined ? `${s.bigTiff ? ', BigTIFF' : ''}, ${s.compression}` : `, chunks ${(s.chunks ?? []).join('×')}`;
  return [
    `${s.file}`,
    `  shape      ${t} frames × ${h} × ${w} (t, y, x)`,
    `  type       ${s.dtype}${storage}`,
    `  axes       ${s.axes} (${s.format})${s.channel !== null ? `, channel ${s.channel}` : ''}`,
    `  values     min ${s.min}  max ${s.max}  mean ${s.mean.toFixed(2)}`,
    `  patches    ${grid.patchXY}×${grid.patchXY}×${grid.patchT}, overlap ${grid.overlap}, ${grid.sampling} sampling`,
    `  train      ${typeof grid.trainPatches === 'number' ? `${grid.trainPatches} patches per epoch` : grid.trainPatches}`,
    `  denoise    ${typeof grid.denoisePatches === 'number' ? `${grid.denoisePatches} patches` : grid.denoisePatches}`,
    '',
  ].join('\n');
}

function fits(what: () => number): number | string {
  try {
    return what();
  } catch (err) {
    if (err instanceof UserError) return `does not fit: ${err.message}`;
    throw err;
  }
}

/** Min, max and mean, read a few frames at a time so a large stack is never held whole. */
async function valueRange(reader: SummaryReader): Promise<{ min: number; max: number; mean: number }> {
  const [t, h, w] = reader.shape;
  const chunk = Math.max(1, Math.floor(16_777_216 / (h * w)));
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let start = 0; start < t; start += chunk) {
    const data = await reader.readFrames(start, Math.min(chunk, t - start));
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
  }
  return { min, max, mean: sum / (t * h * w) };
}
