import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A worker thread running a TypeScript entry module. Node runs TypeScript only through tsx
 * (bin/srdtrans.js registers it for the main thread; Node 20 does not pass loader hooks on to
 * workers), so a one-line module registers tsx inside the worker and then imports the entry.
 */
export function startTsWorker(entry: URL, options: WorkerOptions): Worker {
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(entry.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), options);
}

/** The worker's first message (its start-up report); rejects if it fails or exits before sending one. */
export function firstMessage<T>(worker: Worker, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`${what} failed to start: ${err.message}`));
    const onExit = (code: number) => reject(new Error(`${what} stopped while starting (exit code ${code})`));
    worker.once('error', onError);
    worker.once('exit', onExit);
    worker.once('message', (reply: T) => {
      worker.off('error', onError);
      worker.off('exit', onExit);
      resolve(reply);
    });
  });
}
