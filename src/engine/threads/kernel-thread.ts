/**
 * A kernel thread (see kernel-threads.ts): its own TF.js wasm engine with our custom kernels,
 * running shares of split kernel calls that the main thread posts through a JobChannel.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { initEngine } from '../backend.js';
import { heapF32, runWasmKernel, type WasmBackend } from '../kernels/wasm-backend.js';
import { markGone, serveJobs, SHARE_INPUTS, shareAttrs, type ChannelBuffers, type Job } from './channel.js';

export type ThreadStartReply = { ready: true } | { ready: false; message: string };

const port = parentPort;
if (!port) throw new Error('kernel-thread.ts runs only as a worker thread');
const buffers = workerData as ChannelBuffers;
process.on('exit', () => markGone(buffers));

let backend: WasmBackend;
try {
  await initEngine('wasm');
  backend = tf.backend() as unknown as WasmBackend;
  port.postMessage({ ready: true } satisfies ThreadStartReply);
} catch (err) {
  port.postMessage({ ready: false, message: err instanceof Error ? err.message : String(err) } satisfies ThreadStartReply);
  process.exit(1);
}
// Blocks this thread until told to quit; the ready message above is delivered meanwhile.
serveJobs(buffers, runJob);

/** Copies the inputs into the engine's heap, runs the kernel, copies the output back. */
function runJob(job: Job, data: Float32Array): void {
  const inputs: TensorInfo[] = [];
  let out: TensorInfo | undefined;
  try {
    job.inputShapes.forEach((shape, i) => {
      const info = backend.makeOutput(shape, 'float32');
      inputs.push(info);
      const size = shape.reduce((a, b) => a * b, 1);
      const from = job.inputOffsets[i]!;
      heapF32(backend).set(data.subarray(from, from + size), backend.getMemoryOffset(info.dataId) / 4);
    });
    const [first, second] = SHARE_INPUTS[job.kernel];
    out = runWasmKernel(job.kernel, backend, { [first]: inputs[0]!, [second]: inputs[1]! }, shareAttrs(job));
    const size = out.shape.reduce((a, b) => a * b, 1);
    if (size !== job.outSize) throw new Error(`${job.kernel} share: output of ${size} values where ${job.outSize} were expected`);
    const at = backend.getMemoryOffset(out.dataId) / 4;
    data.set(heapF32(backend).subarray(at, at + size), job.outOffset);
  } finally {
    // Disposing also drops XNNPACK's packed copy of a weight input, cached by tensor id.
    for (const info of inputs) backend.disposeData(info.dataId);
    if (out) backend.disposeData(out.dataId);
  }
}
