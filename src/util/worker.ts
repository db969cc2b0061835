import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A worker thread running the module `sibling` (a path without extension, next to the module at
 * `base`, the caller's import.meta.url). Built, that is JavaScript; where the caller itself is
 * TypeScript (the tests run src/ through tsx, and Node 20 does not pass loader hooks on to
 * workers), a one-line module registers tsx inside the worker and then imports the entry.
 */
export function startWorker(base: string, sibling: string, options: WorkerOptions): Worker {
  const typescript = base.endsWith('.ts');
  const entry = new URL(`${sibling}${typescript ? '.ts' : '.js'}`, base);
  if (!typescript) return new Worker(entry, options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(entry.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), options);
}

/** The worker's first message (its start-up report); rejects if it fails or exits before sending one. */
export function firstMessage<T>(worker: Worker, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`${what} failed to start: ${err.message}`, { cause: err }));
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
