import type { Stack } from '../data/stack.js';
import { lazyPatchSource, type PatchSource } from '../data/patch-source.js';
import { isZarrPath, openZarr } from '../io/zarr/files.js';
import { checkFinite } from '../data/normalize.js';
import { expandInputs } from '../io/inputs.js';
import { openStackFile } from '../io/stack-file.js';

export interface LoadedStack {
  path: string;
  axes: string;
  stack: Stack;
}

/**
 * Reads every stack named on the command line (files or folders), whole: training samples
 * patches anywhere in them and inference needs the whole-stack mean first.
 */
export async function loadStacks(inputs: readonly string[], opts: { channel?: number; frames?: number | null }): Promise<LoadedStack[]> {
  const files = await expandInputs(inputs);
  const out: LoadedStack[] = [];
  for (const path of files) {
    const reader = await openStackFile(path, opts.channel === undefined ? {} : { channel: opts.channel });
    try {
      const [t, h, w] = reader.shape;
      const frames = opts.frames ? Math.min(opts.frames, t) : t;
      const data = await reader.readFrames(0, frames);
      const stack: Stack = { data, shape: [frames, h, w], dtype: reader.dtype };
      checkFinite(stack, path);
      out.push({ path, axes: reader.axes, stack });
    } finally {
      await reader.close();
    }
  }
  return out;
}

export interface TrainingStack {
  path: string;
  shape: readonly [number, number, number];
  /** Loaded whole (TIFF), or read patch by patch (OME-Zarr). */
  source: Stack | PatchSource;
}

/**
 * The stacks to train on: TIFF files loaded whole, OME-Zarr stores opened for reading the
 * chunks under each patch as training asks for it, so that their size is not bounded by memory.
 */
export async function openTrainingStacks(inputs: readonly string[], opts: { channel?: number; frames?: number | null }): Promise<TrainingStack[]> {
  const files = await expandInputs(inputs);
  const out: TrainingStack[] = [];
  for (const path of files) {
    if (isZarrPath(path)) {
      const reader = await openZarr(path, opts.channel === undefined ? {} : { channel: opts.channel });
      const source = lazyPatchSource(reader, path, opts.frames ?? reader.shape[0]);
      out.push({ path, shape: source.shape, source });
    } else {
      const [loaded] = await loadStacks([path], opts);
      out.push({ path, shape: loaded!.stack.shape, source: loaded!.stack });
    }
  }
  return out;
}
