/**
 * Kernel threads: the wasm backend's heaviest kernels (Conv3D, Conv3DBackpropFilterV2 and
 * BatchMatMul, about 90 % of a training step) run on more than one core.
 *
 * Why: TF.js's wasm backend is single-threaded under Node (its threaded build needs
 * process-wide patches there), so a training step used one core. While kernel threads are
 * started, wrappers around those three kernels split each large call into shares: one runs on
 * the calling thread with the wrapped kernel, the others at the same time on worker threads
 * that each have their own TF.js wasm engine with our kernels (threads/kernel-thread.ts). Inputs
 * and outputs travel through SharedArrayBuffers and the caller blocks in Atomics.wait, so a
 * split kernel stays synchronous, as TF.js requires. How each kernel is split, and why the
 * results match the unsplit ones, is in threads/conv3d-split.ts and threads/batch-matmul-split.ts.
 */
import * as os from 'node:os';
import type { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import { firstMessage, startWorker } from '../util/worker.js';
import type { KernelArgs, WasmBackend } from './kernels/wasm-backend.js';
import { planBatchMatMul } from './threads/batch-matmul-split.js';
import { JobChannel, type SplitKernel } from './threads/channel.js';
export type { SplitKernel };
import { planConv3D, planConv3DFilterGrad } from './threads/conv3d-split.js';
import type { ThreadStartReply } from './threads/kernel-thread.js';
import { runSplit, type SplitPlan } from './threads/split.js';

export interface KernelThreads {
  /** Threads that share a kernel call, the calling one included. */
  readonly threads: number;
  /** Calls split so far, per kernel (for tests and benches). */
  readonly splitCalls: Readonly<Record<SplitKernel, number>>;
  /** Ends the worker threads and puts the wrapped kernels back. Idempotent. */
  stop(): Promise<void>;
}

export interface KernelThreadOptions {
  /**
   * Calls with fewer floating-point operations run unsplit (default MIN_SPLIT_FLOPS); tests
   * pass 0 to split even tiny calls.
   */
  minFlops?: number;
}

/**
 * Below this a split costs about what it saves (job hand-over, input and output copies, and
 * the wrapped kernel's fixed costs paid twice): with bench/kernel-threads.ts on the 2-core
 * development machine, idle, [M, 128]·[128, 128] products split 0.8× as fast at 4.2 MFLOP,
 * 1.06× at 8.4 and 1.3× at 16.8.
 */
export const MIN_SPLIT_FLOPS = 8e6;

type Planner = (args: KernelArgs, threads: number, minFlops: number) => SplitPlan | undefined;
const PLANNERS: Record<SplitKernel, Planner> = {
  Conv3D: planConv3D,
  Conv3DBackpropFilterV2: planConv3DFilterGrad,
  BatchMatMul: planBatchMatMul,
};

/**
 * `auto` threads: one per core, at most eight. Timed only on two cores so far; correct at any
 * count (tested at 3 and 4, beyond this machine's cores), and a call gets only as many threads
 * as its size pays for (usefulShares in threads/split.ts).
 */
export function autoKernelThreads(): number {
  return Math.max(1, Math.min(8, os.availableParallelism()));
}

/**
 * The threads now started. TF.js's kernel registry is process-wide, so kernel threads are
 * unavoidably global too: one set at a time, seen by every caller of the wasm backend in this
 * process (tests and other code included) until it is stopped.
 */
let current: Promise<ThreadSet> | undefined;

/**
 * Starts `threads` − 1 worker threads and registers the splitting wrappers around whatever
 * Conv3D, Conv3DBackpropFilterV2 and BatchMatMul kernels are registered for wasm now. One
 * thread starts nothing. Starting again with the same settings returns the running set;
 * with other settings, stop that one first.
 */
export async function startKernelThreads(threads: number, options: KernelThreadOptions = {}): Promise<KernelThreads> {
  if (!Number.isInteger(threads) || threads < 1) throw new ConfigError(`kernel threads: expected a positive integer, got ${threads}`);
  const minFlops = options.minFlops ?? MIN_SPLIT_FLOPS;
  if (threads === 1) return { threads: 1, splitCalls: noSplits(), stop: async () => {} };
  if (current) {
    const running = await current;
    if (running.threads === threads && running.minFlops === minFlops) return running;
    throw new ConfigError(`kernel threads: ${running.threads} are running already; stop them before starting ${threads}`);
  }
  const starting = ThreadSet.start(threads, minFlops);
  current = starting;
  try {
    return await starting;
  } catch (err) {
    current = undefined;
    throw err;
  }
}

interface Wrapped {
  inner: KernelConfig;
  wrapper: KernelConfig;
}

class ThreadSet implements KernelThreads {
  private stopped = false;
  /** True while a split call runs: kernels it calls itself (a convolution's matmuls) run unsplit. */
  private busy = false;
  private readonly wrapped: Wrapped[] = [];
  readonly splitCalls = noSplits();

  private constructor(
    readonly threads: number,
    readonly minFlops: number,
    private readonly workers: Worker[],
    private readonly channels: JobChannel[],
  ) {}

  static async start(threads: number, minFlops: number): Promise<ThreadSet> {
    const channels = Array.from({ length: threads - 1 }, () => new JobChannel());
    const workers = channels.map((c) => startWorker(import.meta.url, './threads/kernel-thread', { workerData: c.buffers }));
    try {
      await Promise.all(workers.map(ready));
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw err;
    }
    for (const w of workers) {
      // A thread that dies marks its channel (threads/channel.ts), so a waiting split throws;
      // the event itself must not take the process down.
      w.on('error', () => {});
      // Started threads never keep the process alive on their own.
      w.unref();
    }
    const set = new ThreadSet(threads, minFlops, workers, channels);
    set.wrap();
    return set;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const { inner, wrapper } of this.wrapped) {
      // Put the wrapped kernel back only if nobody has registered another on top of ours since;
      // otherwise ours stays in that chain and, stopped, passes every call straight through.
      if (tf.getKernel(inner.kernelName, 'wasm') !== wrapper) continue;
      tf.unregisterKernel(inner.kernelName, 'wasm');
      tf.registerKernel(inner);
    }
    for (const c of this.channels) c.quit();
    await Promise.all(this.workers.map((w) => w.terminate()));
    if (current && (await current) === this) current = undefined;
  }

  private wrap(): void {
    for (const name of Object.keys(PLANNERS) as SplitKernel[]) {
      const inner = tf.getKernel(name, 'wasm');
      if (!inner) continue;
      // The spread keeps the inner config's setup, dispose and marks (kernels/wasm-backend.ts).
      const wrapper: KernelConfig = { ...inner, kernelFunc: ((args: KernelArgs) => this.run(name, inner, args)) as KernelFunc };
      tf.unregisterKernel(name, 'wasm');
      tf.registerKernel(wrapper);
      this.wrapped.push({ inner, wrapper });
    }
  }

  private run(name: SplitKernel, inner: KernelConfig, args: KernelArgs): TensorInfo {
    const plan = this.stopped || this.busy ? undefined : PLANNERS[name](args, this.threads, this.minFlops);
    if (!plan) return inner.kernelFunc(args) as TensorInfo;
    this.busy = true;
    try {
      const out = runSplit(plan, inner, args.backend as unknown as WasmBackend, this.channels);
      if (!out) return inner.kernelFunc(args) as TensorInfo;
      this.splitCalls[name]++;
      return out;
    } finally {
      this.busy = false;
    }
  }
}

function noSplits(): Record<SplitKernel, number> {
  return { Conv3D: 0, Conv3DBackpropFilterV2: 0, BatchMatMul: 0 };
}

async function ready(worker: Worker): Promise<void> {
  const reply = await firstMessage<ThreadStartReply>(worker, 'a kernel thread');
  if (!reply.ready) throw new Error(`a kernel thread failed to start: ${reply.message}`);
}
