import { InterruptedError } from '../errors.js';
import { makeStackArray, type Stack, type StackArray, type StackDType } from '../data/stack.js';
import { checkFinite, extractPatch, StreamingMean } from '../data/normalize.js';
import { inferenceGrid, inferenceSlabs } from '../data/patches.js';
import { SRDTrans } from '../model/srdtrans.js';
import { type PatchNetwork, tfjsNetwork } from './network.js';
import { finalFrames, makeSlabBuffer, outputDType, rescaleKept, toOutputType } from './stitch.js';

export interface DenoiseOptions {
  patchXY: number;
  overlap: number;
  scale: number;
  /** Write float32 (rescaled intensities) instead of the published integer output rule. */
  asFloat: boolean;
  /** Stack name for error messages. */
  name?: string;
  onProgress?: (done: number, total: number) => void;
  /** Aborting stops after the patch in flight with an InterruptedError. */
  signal?: AbortSignal;
  /**
   * Only output frames [from, to) (a cluster shard's part): the slabs that make them run, each
   * as in a whole run, so the frames are the same bytes. Default: all frames.
   */
  frames?: readonly [from: number, to: number];
  /**
   * Patches handed to the network ahead of the one whose result is needed next (default 1): a
   * WorkerPool computes that many at once. Results are still stitched in patch order.
   */
  inFlight?: number;
}

/**
 * A stack's frames read on demand (a TIFF or OME-Zarr reader), so that denoising holds only the
 * frames its current patches span, not the stack.
 */
export interface FrameSource {
  readonly shape: readonly [t: number, h: number, w: number];
  readonly dtype: StackDType;
  /** Frames [start, start + count), into `into` when given. */
  readFrames(start: number, count: number, into?: StackArray): Promise<StackArray>;
}

/** An in-memory stack as a FrameSource. */
export function stackSource(stack: Stack): FrameSource {
  const frame = stack.shape[1] * stack.shape[2];
  return {
    shape: stack.shape, dtype: stack.dtype,
    readFrames: async (start, count, into) => {
      const view = stack.data.subarray(start * frame, (start + count) * frame);
      if (!into) return view;
      into.set(view);
      return into.subarray(0, view.length);
    },
  };
}

/** Frames per read when a source is scanned whole (the mean): about 16 MiB of pixels. */
const SCAN_VOXELS = 4 * 2 ** 20;

/**
 * The whole-stack mean of a source (stackMean's value), read a batch of frames at a time; float
 * stacks are checked for NaN and ±Inf on the way.
 */
export async function sourceMean(source: FrameSource, name = 'stack'): Promise<number> {
  const [t, h, w] = source.shape;
  const batch = Math.max(1, Math.floor(SCAN_VOXELS / (h * w)));
  const mean = new StreamingMean(source.dtype === 'float32');
  for (let start = 0; start < t; start += batch) {
    const count = Math.min(batch, t - start);
    const data = await source.readFrames(start, count);
    checkFinite({ data, shape: [count, h, w], dtype: source.dtype }, name, start);
    mean.push(data);
  }
  return mean.mean();
}

/** Receives finished output frames in order, so they can be written as they are done. */
export interface FrameSink {
  writeFrames(frames: StackArray): Promise<void> | void;
}

/**
 * The published inference: overlapping patches in t-major order through the network, the
 * centre of each kept and rescaled to the input's intensity, stitched slab by slab. The input is
 * read twice, a batch of frames at a time: once for the whole-stack mean, then as a window of
 * one patch length that slides forward with the patches. So memory is that window, one slab
 * (kept frames of one temporal position) and one patch per patch in flight, at any stack length.
 * `model`: the TF.js model (on the active backend) or any PatchNetwork; it is not disposed.
 */
export async function denoiseStack(model: SRDTrans | PatchNetwork, input: Stack | FrameSource, options: DenoiseOptions, sink: FrameSink): Promise<void> {
  const network = model instanceof SRDTrans ? tfjsNetwork(model) : model;
  const source = 'readFrames' in input ? input : stackSource(input);
  const patchT = network.patchT;
  const { patchXY, scale } = options;
  const [, h, w] = source.shape;
  const grid = inferenceGrid(source.shape, { patchXY, patchT, overlap: options.overlap, name: options.name });
  const [from, to] = options.frames ?? [0, source.shape[0]];
  if (!(from >= 0 && from < to && to <= source.shape[0])) throw new RangeError(`frames ${from}..${to} outside the stack's 0..${source.shape[0]}`);
  const slabs = inferenceSlabs(grid).filter((s) => s.finalT1 > from && s.finalT0 < to);
  const [first, end] = [slabs[0]!.first, slabs.at(-1)!.end];
  // The published normalisation subtracts the whole stack's mean: a part reads every frame once for it.
  const mean = await sourceMean(source, options.name);
  const window = new FrameWindow(source, patchT);
  const size = { t: patchT, h: patchXY, w: patchXY };
  const inFlight = Math.max(1, options.inFlight ?? 1);
  // Patch i is read into inputs[i % inFlight], which stitching reads again once its result is in.
  const inputs = Array.from({ length: inFlight }, () => new Float32Array(patchT * patchXY * patchXY));
  const pending: Array<Promise<Float32Array>> = [];
  let next = first;
  // Patches are read one after another, in order, so that the window only ever moves forward.
  let reading: Promise<unknown> = Promise.resolve();
  const startPatch = (i: number): Promise<Float32Array> => {
    const { origin } = grid[i]!;
    const read = reading.then(async () => {
      extractPatch(await window.at(origin.t), { ...origin, t: 0 }, size, scale, mean, inputs[i % inFlight]!);
    });
    reading = read.catch(() => undefined);
    const output = read.then(() => network.run(inputs[i % inFlight]!, size));
    // Awaited in order below; a later patch failing first must not count as unhandled.
    output.catch(() => undefined);
    return output;
  };
  let done = 0;
  options.onProgress?.(0, end - first);
  for (const slab of slabs) {
    const buffer = makeSlabBuffer(slab, h, w);
    for (let i = slab.first; i < slab.end; i++) {
      // Patches run ahead across slab ends too, so the network is busy while frames are written.
      for (; next < end && next < i + inFlight; next++) pending.push(startPatch(next));
      const output = await pending.shift()!;
      rescaleKept(output, inputs[i % inFlight]!, size, grid[i]!, mean, buffer);
      options.onProgress?.(++done, end - first);
      if (options.signal) {
        // Inference on cpu/wasm never yields to the event loop, so a Ctrl-C handler could
        // not run until the whole stack was done.
        await new Promise<void>((resolve) => setTimeout(resolve, 0));
        if (options.signal.aborted) throw new InterruptedError('interrupted');
      }
    }
    const frame = h * w;
    const [t0, t1] = [Math.max(slab.finalT0, from), Math.min(slab.finalT1, to)];
    const final = finalFrames(buffer, slab).subarray((t0 - slab.finalT0) * frame, (t1 - slab.finalT0) * frame);
    await sink.writeFrames(toOutputType(final, source.dtype, scale, options.asFloat));
  }
}

/**
 * The `length` frames from a start that only moves forward (patches come in t-major order):
 * frames shared with the previous window are moved, not read again.
 */
class FrameWindow {
  private readonly data: StackArray;
  private start = -1;
  private readonly frame: number;

  constructor(private readonly source: FrameSource, private readonly length: number) {
    this.frame = source.shape[1] * source.shape[2];
    this.data = makeStackArray(source.dtype, length * this.frame);
  }

  async at(start: number): Promise<Stack> {
    if (start !== this.start) {
      const kept = this.start >= 0 && start > this.start ? Math.max(0, this.start + this.length - start) : 0;
      if (kept > 0) this.data.copyWithin(0, (start - this.start) * this.frame, this.length * this.frame);
      await this.source.readFrames(start + kept, this.length - kept, this.data.subarray(kept * this.frame));
      this.start = start;
    }
    return { data: this.data, shape: [this.length, this.source.shape[1], this.source.shape[2]], dtype: this.source.dtype };
  }
}

/** Denoises into memory, for stacks small enough to hold twice (demo, benchmarks, tests). */
export async function denoiseToStack(model: SRDTrans | PatchNetwork, stack: Stack, options: DenoiseOptions): Promise<Stack> {
  const dtype = outputDType(stack.dtype, options.asFloat);
  const data = makeStackArray(dtype, stack.data.length);
  let at = 0;
  await denoiseStack(model, stack, options, {
    writeFrames: (frames) => {
      data.set(frames, at);
      at += frames.length;
    },
  });
  return { data, shape: stack.shape, dtype };
}
