import type { Worker } from 'node:worker_threads';
import type { Size3 } from '../data/normalize.js';
import type { BackendName } from '../engine/backend.js';
import { CheckpointError, ConfigError, StackError, UserError } from '../errors.js';
import type { ModelConfig } from '../model/config.js';
import type { StateDict } from '../model/params.js';
import { firstMessage, startWorker } from '../util/worker.js';
import type { PatchNetwork } from './network.js';

/** What each worker is started with (cloned into it once). */
export interface WorkerSetup {
  backend: Extract<BackendName, 'wasm' | 'cpu'>;
  config: ModelConfig;
  weights: StateDict;
}

export interface PatchRequest {
  id: number;
  input: Float32Array;
  size: Size3;
}

/** An error crossing from a worker: structured cloning keeps neither its class nor its name. */
export interface WorkerError {
  name: string;
  message: string;
}

export type PatchReply = { id: number; output: Float32Array; error?: undefined } | { id: number; error: WorkerError };

export type StartReply = { ready: true } | { ready: false; error: WorkerError };

interface Job {
  request: PatchRequest;
  resolve: (output: Float32Array) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
}

/**
 * The network run by a pool of worker threads, each with its own TF.js engine and copy of the
 * weights: up to `size` patches are computed at once, on as many cores. On wasm and cpu one
 * engine uses one core, so this is how inference uses the others. Patches are handed to whichever
 * worker is free; each result goes back to its own caller, so the caller decides the order in
 * which results are used (denoiseStack stitches in patch order).
 */
export class WorkerPool implements PatchNetwork {
  private readonly queue: Job[] = [];
  private nextId = 0;
  private failure: Error | null = null;

  private constructor(
    readonly patchT: number,
    private readonly slots: Slot[],
  ) {
    for (const slot of slots) {
      slot.worker.on('message', (reply: PatchReply) => this.finish(slot, reply));
      slot.worker.on('error', (err) => this.fail(new Error(`an inference worker failed: ${err.message}`)));
      slot.worker.on('exit', (code) => this.fail(new Error(`an inference worker stopped (exit code ${code})`)));
    }
  }

  /** Starts `size` workers and waits until each has its engine up and the weights loaded. */
  static async start(size: number, setup: WorkerSetup): Promise<WorkerPool> {
    if (!Number.isInteger(size) || size < 1) throw new ConfigError(`the number of workers must be a positive integer, got ${size}`);
    const workers: Worker[] = [];
    try {
      for (let i = 0; i < size; i++) workers.push(startPatchWorker(setup));
      await Promise.all(workers.map(ready));
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw err;
    }
    return new WorkerPool(setup.config.patchT, workers.map((worker) => ({ worker, job: null })));
  }

  /** Workers, hence patches worth having in flight at once. */
  get size(): number {
    return this.slots.length;
  }

  run(input: Float32Array, size: Size3): Promise<Float32Array> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      // The caller keeps `input` (stitching reads it again), so it is copied, not transferred.
      this.queue.push({ request: { id: this.nextId++, input, size }, resolve, reject });
      this.dispatch();
    });
  }

  async dispose(): Promise<void> {
    this.fail(new Error('the inference workers were stopped'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.job) continue;
      const job = this.queue.shift();
      if (!job) return;
      slot.job = job;
      slot.worker.postMessage(job.request);
    }
  }

  private finish(slot: Slot, reply: PatchReply): void {
    const job = slot.job;
    if (!job || job.request.id !== reply.id) return;
    slot.job = null;
    if (reply.error !== undefined) job.reject(rebuild(reply.error));
    else job.resolve(reply.output);
    this.dispatch();
  }

  /** Rejects everything pending; later runs reject at once. */
  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const slot of this.slots) {
      slot.job?.reject(err);
      slot.job = null;
    }
    for (const job of this.queue.splice(0)) job.reject(err);
  }
}

function startPatchWorker(setup: WorkerSetup): Worker {
  return startWorker(import.meta.url, './patch-worker', { workerData: setup });
}

async function ready(worker: Worker): Promise<void> {
  const reply = await firstMessage<StartReply>(worker, 'an inference worker');
  if (!reply.ready) throw rebuild(reply.error);
}

const USER_ERRORS: Record<string, new (message: string) => UserError> = { ConfigError, CheckpointError, StackError, UserError };

/** The worker's error as the class it was thrown as, for the errors a user can act on. */
function rebuild(err: WorkerError): Error {
  const Type = USER_ERRORS[err.name];
  return Type ? new Type(err.message) : new Error(`inference worker: ${err.message}`);
}
