/** The page's side of the worker protocol: a job is a promise of its result plus its events. */
import type { FromWorker, Job, JobEvent, JobKind, JobResults, ToWorker } from './protocol.js';

/** A job that ended without a result: its one-line message, and whether the user cancelled it. */
export class JobFailed extends Error {
  constructor(message: string, readonly cancelled: boolean) {
    super(message);
  }
}

interface Pending {
  resolve(result: unknown): void;
  reject(err: JobFailed): void;
  onEvent?: (event: JobEvent) => void;
}

export interface Running<K extends JobKind> {
  id: number;
  result: Promise<JobResults[K]>;
}

export class EngineClient {
  private readonly worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor() {
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => this.receive(e.data);
    // A worker that cannot start (its script or the engine failed to load) fails every job
    // in flight, rather than leaving the page waiting.
    this.worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      const message = `the engine worker stopped: ${e.message || 'its script failed to load'}`;
      for (const p of this.pending.values()) p.reject(new JobFailed(message, false));
      this.pending.clear();
    };
  }

  run<K extends JobKind>(job: Extract<Job, { kind: K }>, onEvent?: (event: JobEvent) => void): Running<K> {
    const id = this.nextId++;
    const result = new Promise<JobResults[K]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject, ...(onEvent ? { onEvent } : {}) });
    });
    this.worker.postMessage({ id, job } satisfies ToWorker);
    return { id, result };
  }

  cancel(id: number): void {
    this.worker.postMessage({ cancel: id } satisfies ToWorker);
  }

  /** Tells the worker which frame the page shows (for training's previews). */
  view(index: number): void {
    this.worker.postMessage({ view: index } satisfies ToWorker);
  }

  private receive(message: FromWorker): void {
    const p = this.pending.get(message.id);
    if (!p) return;
    if (message.type === 'event') {
      p.onEvent?.(message.event);
      return;
    }
    this.pending.delete(message.id);
    if (message.type === 'done') p.resolve(message.result);
    else p.reject(new JobFailed(message.message, message.cancelled));
  }
}
