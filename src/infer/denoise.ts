import * as tf from '@tensorflow/tfjs-core';
import { InterruptedError } from '../errors.js';
import { makeStackArray, type Stack, type StackArray } from '../data/stack.js';
import { extractPatch, stackMean } from '../data/normalize.js';
import { inferenceGrid, inferenceSlabs } from '../data/patches.js';
import type { SRDTrans } from '../model/srdtrans.js';
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
}

/** Receives finished output frames in order, so they can be written as they are done. */
export interface FrameSink {
  writeFrames(frames: StackArray): Promise<void> | void;
}

/**
 * The published inference: overlapping patches in t-major order through the network, the
 * centre of each kept and rescaled to the input's intensity, stitched slab by slab. Memory
 * beyond the input stack is one slab (kept frames of one temporal position) and one patch.
 */
export async function denoiseStack(model: SRDTrans, stack: Stack, options: DenoiseOptions, sink: FrameSink): Promise<void> {
  const patchT = model.config.patchT;
  const { patchXY, scale } = options;
  const [, h, w] = stack.shape;
  const grid = inferenceGrid(stack.shape, { patchXY, patchT, overlap: options.overlap, name: options.name });
  const mean = stackMean(stack);
  const size = { t: patchT, h: patchXY, w: patchXY };
  const input = new Float32Array(patchT * patchXY * patchXY);
  let done = 0;
  options.onProgress?.(0, grid.length);
  for (const slab of inferenceSlabs(grid)) {
    const buffer = makeSlabBuffer(slab, h, w);
    for (let i = slab.first; i < slab.end; i++) {
      const patch = grid[i]!;
      extractPatch(stack, patch.origin, size, scale, mean, input);
      const output = await runNetwork(model, input, size);
      rescaleKept(output, input, size, patch, mean, buffer);
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
export async function denoiseToStack(model: SRDTrans, stack: Stack, options: DenoiseOptions): Promise<Stack> {
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

async function runNetwork(model: SRDTrans, input: Float32Array, size: { t: number; h: number; w: number }): Promise<Float32Array> {
  const out = tf.tidy(() => model.apply(tf.tensor4d(input, [1, size.t, size.h, size.w])));
  try {
    return (await out.data()) as Float32Array;
  } finally {
    out.dispose();
  }
}
