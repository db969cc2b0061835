/**
 * Worker thread of a WorkerPool (worker-pool.ts): starts its own TF.js engine on the pool's CPU
 * backend, builds the network from the weights it was given, and answers patch requests in the
 * order they arrive. The same kernels run on the same input as on the main thread, so the
 * outputs are bit-identical to single-thread inference.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initEngine } from '../engine/backend.js';
import { SRDTrans } from '../model/srdtrans.js';
import { tfjsNetwork } from './network.js';
import type { PatchReply, PatchRequest, StartReply, WorkerError, WorkerSetup } from './worker-pool.js';

const port = parentPort;
if (!port) throw new Error('patch-worker.ts runs only as a worker thread');
const setup = workerData as WorkerSetup;

try {
  await initEngine(setup.backend);
  const model = new SRDTrans(setup.config, 0);
  model.loadStateDict(setup.weights);
  const network = tfjsNetwork(model);
  port.on('message', (request: PatchRequest) => {
    network.run(request.input, request.size).then(
      (output) => {
        // A fresh array each call, so its buffer can be handed over without a copy.
        const reply: PatchReply = { id: request.id, output };
        port.postMessage(reply, [output.buffer as ArrayBuffer]);
      },
      (err: unknown) => port.postMessage({ id: request.id, error: describe(err) } satisfies PatchReply),
    );
  });
  port.postMessage({ ready: true } satisfies StartReply);
} catch (err) {
  port.postMessage({ ready: false, error: describe(err) } satisfies StartReply);
}

function describe(err: unknown): WorkerError {
  return err instanceof Error ? { name: err.name, message: err.message } : { name: 'Error', message: String(err) };
}
