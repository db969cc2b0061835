import { availableParallelism } from 'node:os';
import { ConfigError } from '../errors.js';
import { exportOnnx, ONNX_INPUT, ONNX_OUTPUT } from '../export/onnx/export.js';
import type { ModelConfig } from '../model/config.js';
import type { StateDict } from '../model/params.js';
import type { PatchNetwork } from './network.js';

/**
 * The network run by ONNX Runtime's CPU provider (onnxruntime-node): the model is exported in
 * memory for the patch size in use (exportOnnx fixes H and W) and handed to a session. Without
 * a GPU it is the faster path: about twice TF.js's wasm backend per patch on a 2-core x86.
 */

/**
 * The part of onnxruntime-node used here. Typed here rather than from the package: it is an
 * optional dependency, so the build must not need it.
 */
export interface OnnxRuntime {
  InferenceSession: {
    create(model: Uint8Array, options: {
      executionProviders: string[];
      intraOpNumThreads: number;
      interOpNumThreads: number;
      executionMode: 'sequential';
      graphOptimizationLevel: 'all';
    }): Promise<OnnxSession>;
  };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
}

interface OnnxSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown }>>;
  release(): Promise<void>;
}

/** onnxruntime-node, loaded on first use (its native library is ~45 MB); undefined if not installed. */
export async function loadOnnxRuntime(): Promise<OnnxRuntime | undefined> {
  // A variable, so that the compiler does not look for the optional package's types.
  const name = 'onnxruntime-node';
  try {
    const mod = (await import(name)) as OnnxRuntime & { default?: OnnxRuntime };
    return mod.InferenceSession ? mod : mod.default;
  } catch {
    return undefined;
  }
}

export interface OnnxNetworkOptions {
  patchXY: number;
  /** CPU threads for one operator (default: all available). */
  threads?: number;
  /** Where the weights came from, for error messages. */
  source?: string;
}

export async function onnxNetwork(config: ModelConfig, sd: StateDict, options: OnnxNetworkOptions): Promise<PatchNetwork> {
  const ort = await loadOnnxRuntime();
  if (!ort) {
    throw new ConfigError('the onnx backend needs the onnxruntime-node package: run `npm install onnxruntime-node`, or use --backend wasm');
  }
  const bytes = exportOnnx(config, sd, { patchXY: options.patchXY, source: options.source });
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    intraOpNumThreads: options.threads ?? availableParallelism(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const xy = options.patchXY;
  return {
    patchT: config.patchT,
    async run(input, size) {
      if (size.t !== config.patchT || size.h !== xy || size.w !== xy) {
        throw new Error(`internal: the ONNX network was built for ${config.patchT}×${xy}×${xy} patches, got ${size.t}×${size.h}×${size.w}`);
      }
      const feeds = { [ONNX_INPUT]: new ort.Tensor('float32', input, [1, 1, size.t, size.h, size.w]) };
      return (await session.run(feeds))[ONNX_OUTPUT]!.data as Float32Array;
    },
    dispose: () => session.release(),
  };
}
