import { InterruptedError } from '../errors.js';
import { makeStackArray, type Stack, type StackArray } from '../data/stack.js';
import { extractPatch, stackMean } from '../data/normalize.js';
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
   * Patches handed to the network ahead of the one whose result is needed next (default 1): a
   * WorkerPool computes that many at once. Results are still stitched in patch order.
   */
  inFlight?: number;
}

/** Receives finished output frames in order, so they can be written as they are done. */
export interface FrameSink {
  writeFrames(frames: StackArray): Promise<void> | void;
}

/**
 * The published inference: overlapping patches in t-major order through the network, the
 * centre of each kept and rescaled to the input's intensity, stitched slab by slab. Memory
 * beyond the input stack is one slab (kept frames of one temporal position) and one patch per
 * patch in flight.
 * `model`: the TF.js model (on the active backend) or any PatchNetwork; it is not disposed.
 */
export async function denoiseStack(model: SRDTrans | PatchNetwork, stack: Stack, options: DenoiseOptions, sink: FrameSink): Promise<void> {
  const network = model instanceof SRDTrans ? tfjsNetwork(model) : model;
  const patchT = network.patchT;
  const { patchXY, scale } = options;
  const [, h, w] = stack.shape;
  const grid = inferenceGrid(stack.shape, { patchXY, patchT, overlap: options.overlap, name: options.name });
  const mean = stackMean(stack);
  const size = { t: patchT, h: patchXY, w: patchXY };
  const inFlight = Math.max(1, options.inFlight ?? 1);
  // Patch i is read into inputs[i % inFlight], which stitching reads again once its result is in.
  const inputs = Array.from({ length: inFlight }, () => new Float32Array(patchT * patchXY * patchXY));
  const pending: Array<Promise<Float32Array>> = [];
  let next = 0;
  const startPatch = (i: number): Promise<Float32Array> => {
    extractPatch(stack, grid[i]!.origin, size, scale, mean, inputs[i % inFlight]!);
    const output = network.run(inputs[i % inFlight]!, size);
    // Awaited in order below; a later patch failing first must not count as unhandled.
    output.catch(() => undefined);
    return output;
  };
  let done = 0;
  options.onProgress?.(0, grid.length);
  for (const slab of inferenceSlabs(grid)) {
    const buffer = makeSlabBuffer(slab, h, w);
    for (let i = slab.first; i < slab.end; i++) {
      // Patches run ahead across slab ends too, so the network is busy while frames are written.
      for (; next < grid.length && next < i + inFlight; next++) pending.push(startPatch(next));
      const output = await pending.shift()!;
      rescaleKept(output, inputs[i % inFlight]!, size, grid[i]!, mean, buffer);
      options.onProgress?.(++done, grid.length);
      if (options.signal) {
        // Inference on cpu/wasm never yields to the event loop, so a Ctrl-C handler could
        // not run until the whole stack was done.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (options.signal.aborted) throw new InterruptedError('interrupted');
      }
    }
    await sink.writeFrames(toOutputType(finalFrames(buffer, slab), stack.dtype, scale, options.asFloat));
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
