/**
 * The engine in Node: engine.ts with Node's host, where WebGPU comes from Dawn (the `webgpu`
 * package) when there is no navigator.gpu, and TF.js's gradients from dist/tfjs-gradients.js,
 * which `npm run build` bundles from tfjs-core (tools/bundle-gradients.mjs says why).
 */
import {
  hardwareWebGpuAvailable as hardwareOn, initEngine as initOn, webGpuAvailable as availableOn,
  type AdapterLook, type BackendChoice, type EngineHost, type EngineInfo,
} from './engine.js';

export { BACKEND_CHOICES, describeEngine, type BackendChoice, type BackendName, type EngineInfo } from './engine.js';

/** The same file from src/engine (tests, through tsx) and from dist/engine (the package). */
const GRADIENTS = new URL('../../dist/tfjs-gradients.js', import.meta.url).href;

/** Dawn's adapter, looked at once per process. */
let adapterLook: Promise<AdapterLook> | undefined;

const NODE_HOST: EngineHost = {
  async gpu() {
    const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    if (gpu) return { gpu };
    return (await import('./dawn.js')).dawnGpu();
  },
  lookAtAdapter: () => (adapterLook ??= import('./dawn.js').then((d) => d.lookAtDawnAdapter())),
  webGpuTuning: async (adapter) => (await import('./webgpu-tuning-file.js')).readWebGpuTuning(adapter),
  registerGradients: () =>
    import(GRADIENTS).catch((err: unknown) => {
      throw new Error(`TF.js's gradients for Node are missing (${GRADIENTS}): run \`npm run build\``, { cause: err });
    }),
};

/** engine.ts's initEngine, with WebGPU through Dawn. */
export function initEngine(choice: BackendChoice = 'auto'): Promise<EngineInfo> {
  return initOn(choice, NODE_HOST);
}

export function webGpuAvailable(): Promise<boolean> {
  return availableOn(NODE_HOST);
}

export function hardwareWebGpuAvailable(): Promise<boolean> {
  return hardwareOn(NODE_HOST);
}
