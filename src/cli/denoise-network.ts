import { availableParallelism } from 'node:os';
import { BACKEND_CHOICES, describeEngine, hardwareWebGpuAvailable, initEngine, type BackendChoice } from '../engine/backend.js';
import type { ResolvedModel } from '../io/checkpoint/model-dir.js';
import { type PatchNetwork, tfjsNetwork } from '../infer/network.js';
import { loadOnnxRuntime, onnxNetwork } from '../infer/onnx-network.js';
import { loadModel } from './model.js';

/** `denoise --backend`: the TF.js backends, or ONNX Runtime's CPU provider. */
export type DenoiseBackend = BackendChoice | 'onnx';
export const DENOISE_BACKENDS: readonly DenoiseBackend[] = [...BACKEND_CHOICES, 'onnx'];

export interface DenoiseNetwork {
  network: PatchNetwork;
  /** For the `engine` JSON event. */
  engine: { backend: string; adapter: string | null; reason: string };
  /** One line for the log. */
  description: string;
  weightsFile: string;
}

/**
 * The network `denoise` runs. `auto` takes WebGPU on a hardware adapter; without one, ONNX
 * Runtime when onnxruntime-node is installed (about 1.4× as fast as wasm on the CPU: `npm run
 * bench -- compare --rows denoise`, 2 cores, 93 s against 127 s), else wasm.
 */
export async function openDenoiseNetwork(
  choice: DenoiseBackend, modelPath: string, resolved: ResolvedModel, patchXY: number,
): Promise<DenoiseNetwork> {
  const onnx = choice === 'onnx' || (choice === 'auto' && !(await hardwareWebGpuAvailable()) && (await loadOnnxRuntime()) !== undefined);
  if (onnx) {
    const threads = availableParallelism();
    const network = await onnxNetwork(resolved.record.model, await resolved.load(), { patchXY, threads, source: resolved.weightsFile });
    const reason = choice === 'onnx' ? 'requested' : 'no hardware GPU adapter, so the fastest CPU path';
    return {
      network,
      engine: { backend: 'onnx', adapter: null, reason },
      description: `backend onnx (ONNX Runtime CPU, ${threads} threads) (${reason})`,
      weightsFile: resolved.weightsFile,
    };
  }
  const engine = await initEngine(choice as BackendChoice);
  const loaded = await loadModel(modelPath, resolved);
  return {
    network: tfjsNetwork(loaded.model),
    engine: { backend: engine.backend, adapter: engine.adapter ?? null, reason: engine.reason },
    description: describeEngine(engine),
    weightsFile: loaded.weightsFile,
  };
}
