/**
 * The shared-memory channel between the main thread and one kernel thread (kernel-thread.ts).
 * A job is one kernel call on one share of a split call: its description goes into a small
 * Int32Array of control words, its input and output values into a growable SharedArrayBuffer.
 * Both sides block in Atomics.wait, so a job needs no event loop turn on either side: TF.js
 * kernels are synchronous, and so is a split one.
 */
import type { NamedAttrMap } from '@tensorflow/tfjs-core';

/** The kernels a share can be run with, and the names of their two inputs. */
export const SHARE_INPUTS = {
  Conv3D: ['x', 'filter'],
  Conv3DBackpropFilterV2: ['x', 'dy'],
  BatchMatMul: ['a', 'b'],
} as const;
export type SplitKernel = keyof typeof SHARE_INPUTS;
const KERNELS = Object.keys(SHARE_INPUTS) as SplitKernel[];

/**
 * One share of a split call. Convolution shares are always 'valid', stride 1, NDHWC: the
 * splitter cuts the padded input window each share needs.
 */
export interface Share {
  kernel: SplitKernel;
  inputShapes: [number[], number[]];
  transposeA: boolean;
  transposeB: boolean;
  /** Conv3DBackpropFilterV2 only. */
  filterShape: number[];
}

/** A posted job: the share, where its inputs are in the data buffer and where its output goes. */
export interface Job extends Share {
  inputOffsets: [number, number];
  outOffset: number;
  outSize: number;
}

/** The attributes of a share's kernel call. */
export function shareAttrs(share: Share): NamedAttrMap {
  switch (share.kernel) {
    case 'Conv3D':
      return { strides: [1, 1, 1], pad: 'valid', dataFormat: 'NDHWC', dilations: [1, 1, 1] };
    case 'Conv3DBackpropFilterV2':
      return { strides: [1, 1, 1], pad: 'valid', filterShape: share.filterShape };
    case 'BatchMatMul':
      return { transposeA: share.transposeA, transposeB: share.transposeB };
  }
}

/** What a kernel thread is started with. */
export interface ChannelBuffers {
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

// Control words.
const POSTED = 0; // sequence number of the last job posted (main thread writes)
const DONE = 1; // sequence number of the last job finished (kernel thread writes)
const STATE = 2; // how the last job ended
const KERNEL = 3; // index in KERNELS, or QUIT
const FLAGS = 4; // bit 0 transposeA, bit 1 transposeB
const OUT = 5; // output offset and size, in floats
const OUT_SIZE = 6;
const MESSAGE_BYTES = 7; // length of the error message
const INPUTS = 8; // per input: offset, rank, up to MAX_RANK dims
const MAX_RANK = 6;
const INPUT_WORDS = 2 + MAX_RANK;
const FILTER = INPUTS + 2 * INPUT_WORDS; // 5 dims
const CONTROL_WORDS = FILTER + 5;
const MESSAGE_CAPACITY = 1024;

const QUIT = -1;
const OK = 0;
const FAILED = 1;
const GONE = 2;

/** Data buffers grow up to this; a call whose share needs more runs unsplit. */
export const MAX_DATA_BYTES = 2 ** 31;
/** How long the main thread waits for a share before it rechecks the thread (ms). */
const WAIT_SLICE_MS = 1000;
/**
 * How long a side polls for the other before it sleeps (ms). A thread woken from Atomics.wait is
 * often put on the waker's core by the scheduler, so the two then take turns on one core for a
 * few ms (measured: shares taking twice their time, or a post taking a whole share's time).
 * Polling keeps both running on their own cores across the gaps between split calls, at the
 * cost of a busy core for up to SPIN_MS after a thread's last job. On the 2-core development
 * machine, idle, a training step (bench/train.ts) took 1.19–1.32× less time with two threads
 * when sleeping at once, 1.24× polling 20 ms, 1.46× polling 100 ms, 1.48× polling 500 ms.
 */
const SPIN_MS = 100;

/** SharedArrayBuffer's growable form (ES2024), which the ES2022 typings lack. */
interface Growable {
  grow(bytes: number): void;
}
type GrowableConstructor = new (bytes: number, options: { maxByteLength: number }) => SharedArrayBuffer;

/** The main thread's end of a channel. */
export class JobChannel {
  readonly buffers: ChannelBuffers;
  private readonly control: Int32Array;
  private posted = 0;
  private finished = 0;

  constructor() {
    const control = new SharedArrayBuffer(CONTROL_WORDS * 4 + MESSAGE_CAPACITY);
    const data = new (SharedArrayBuffer as unknown as GrowableConstructor)(0, { maxByteLength: MAX_DATA_BYTES });
    this.buffers = { control, data };
    this.control = new Int32Array(control, 0, CONTROL_WORDS);
  }

  /** The data buffer, grown to hold at least `floats` values. */
  floats(floats: number): Float32Array {
    const { data } = this.buffers;
    const bytes = floats * 4;
    if (bytes > data.byteLength) {
      // Grown in steps, so that slowly rising sizes do not grow it on every call.
      const target = Math.min(MAX_DATA_BYTES, Math.max(bytes, Math.ceil((data.byteLength * 1.5) / 2 ** 20) * 2 ** 20));
      (data as unknown as Growable).grow(target);
    }
    return new Float32Array(data);
  }

  /** Hands a job to the thread; the previous one must have been waited for. */
  post(job: Job): void {
    if (this.posted !== this.finished) throw new Error('kernel thread: a job was posted while the previous one was running');
    const c = this.control;
    c[KERNEL] = KERNELS.indexOf(job.kernel);
    c[FLAGS] = (job.transposeA ? 1 : 0) | (job.transposeB ? 2 : 0);
    c[OUT] = job.outOffset;
    c[OUT_SIZE] = job.outSize;
    job.inputShapes.forEach((shape, i) => {
      const base = INPUTS + i * INPUT_WORDS;
      c[base] = job.inputOffsets[i]!;
      c[base + 1] = shape.length;
      shape.forEach((d, k) => (c[base + 2 + k] = d));
    });
    job.filterShape.forEach((d, k) => (c[FILTER + k] = d));
    this.signal();
  }

  /** Whether a job is posted and not yet waited for. */
  get running(): boolean {
    return this.posted !== this.finished;
  }

  /**
   * Blocks until the posted job is done; throws if it failed or the thread is gone. A no-op
   * when nothing is running.
   */
  wait(): void {
    if (!this.running) return;
    const c = this.control;
    spinWhile(c, DONE, this.finished);
    for (;;) {
      if (Atomics.load(c, DONE) === this.posted) break;
      if (Atomics.load(c, STATE) === GONE) {
        this.finished = this.posted;
        throw new Error('kernel thread: the thread stopped while computing its share');
      }
      Atomics.wait(c, DONE, this.finished, WAIT_SLICE_MS);
    }
    this.finished = this.posted;
    if (Atomics.load(c, STATE) === FAILED) {
      const length = c[MESSAGE_BYTES]!;
      const text = new TextDecoder().decode(new Uint8Array(this.buffers.control, CONTROL_WORDS * 4, length).slice());
      throw new Error(`kernel thread: ${text}`);
    }
  }

  /** Tells the thread to leave its loop (after the running job, if any). */
  quit(): void {
    this.control[KERNEL] = QUIT;
    this.signal();
  }

  private signal(): void {
    this.posted++;
    Atomics.store(this.control, POSTED, this.posted);
    Atomics.notify(this.control, POSTED);
  }
}

/** The kernel thread's end: runs jobs until told to quit. */
export function serveJobs(buffers: ChannelBuffers, run: (job: Job, data: Float32Array) => void): void {
  const c = new Int32Array(buffers.control, 0, CONTROL_WORDS);
  let seen = 0;
  for (;;) {
    spinWhile(c, POSTED, seen);
    Atomics.wait(c, POSTED, seen);
    seen = Atomics.load(c, POSTED);
    if (c[KERNEL] === QUIT) return;
    let state = OK;
    try {
      run(readJob(c), new Float32Array(buffers.data));
    } catch (err) {
      state = FAILED;
      const bytes = new TextEncoder().encode(err instanceof Error ? err.message : String(err)).subarray(0, MESSAGE_CAPACITY);
      new Uint8Array(buffers.control, CONTROL_WORDS * 4, MESSAGE_CAPACITY).set(bytes);
      c[MESSAGE_BYTES] = bytes.length;
    }
    Atomics.store(c, STATE, state);
    Atomics.store(c, DONE, seen);
    Atomics.notify(c, DONE);
  }
}

/** Polls while c[index] holds `value`, for at most SPIN_MS. */
function spinWhile(c: Int32Array, index: number, value: number): void {
  const deadline = performance.now() + SPIN_MS;
  for (let i = 1; Atomics.load(c, index) === value; i++) {
    if (i % 256 === 0 && performance.now() > deadline) return;
  }
}

/** Marks the thread as gone, for a main thread waiting on it (called as the thread exits). */
export function markGone(buffers: ChannelBuffers): void {
  const c = new Int32Array(buffers.control, 0, CONTROL_WORDS);
  Atomics.store(c, STATE, GONE);
  Atomics.notify(c, DONE);
}

function readJob(c: Int32Array): Job {
  const input = (i: number): { shape: number[]; offset: number } => {
    const base = INPUTS + i * INPUT_WORDS;
    return { offset: c[base]!, shape: Array.from(c.subarray(base + 2, base + 2 + c[base + 1]!)) };
  };
  const [a, b] = [input(0), input(1)];
  return {
    kernel: KERNELS[c[KERNEL]!]!,
    inputShapes: [a.shape, b.shape],
    inputOffsets: [a.offset, b.offset],
    transposeA: (c[FLAGS]! & 1) !== 0,
    transposeB: (c[FLAGS]! & 2) !== 0,
    filterShape: Array.from(c.subarray(FILTER, FILTER + 5)),
    outOffset: c[OUT]!,
    outSize: c[OUT_SIZE]!,
  };
}
