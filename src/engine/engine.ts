/**
 * Starting TF.js on one backend, for any JavaScript host. Each backend's package (and our kernels
 * for it) is imported when that backend is started, so a browser bundle loads only the one it
 * uses. What differs between hosts (where WebGPU and the gradients come from) is an EngineHost:
 * the browser's by default; engine/backend.ts is Node's (Dawn).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import type { WebGpuTuning } from './kernels/webgpu-tuning.js';

export type BackendName = 'webgpu' | 'wasm' | 'cpu';
export type BackendChoice = BackendName | 'auto';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'wasm', 'cpu'];

/** What the engine chose, in words a user can read. */
export interface EngineInfo {
  backend: BackendName;
  /** The GPU adapter's description, for webgpu. */
  adapter?: string;
  /** True when the WebGPU adapter is a CPU emulation (lavapipe, SwiftShader). */
  softwareAdapter?: boolean;
  /** Why this backend, for `auto`. */
  reason: string;
  /** webgpu: whether our kernels run with launch shapes measured on this adapter. */
  tuned?: boolean;
}

/** WebGPU, or why there is none. */
export type GpuResult = { gpu: GPU } | { gpu?: undefined; why: string };

/** What the engine needs from the JavaScript host. */
export interface EngineHost {
  /** The host's WebGPU entry point (navigator.gpu in a browser). */
  gpu(): Promise<GpuResult>;
  /** Registers TF.js's gradients (training needs them; tfjs-core registers none itself). */
  registerGradients(): Promise<unknown>;
  /**
   * A look at the adapter that leaves this process's WebGPU untouched, where the host has one:
   * `auto` then starts WebGPU only on a hardware adapter (Dawn writes warnings about a
   * software one's limits straight to stderr).
   */
  lookAtAdapter?(): Promise<AdapterLook>;
  /** The launch shapes measured fastest on this adapter (`npm run bench -- webgpu-tune`), where the host keeps them. */
  webGpuTuning?(adapter: string): Promise<WebGpuTuning | undefined>;
}

/** An adapter as the GPU describes itself, or why there is none. */
export type AdapterLook = { info: AdapterInfo } | { info?: undefined; why: string };

/** The fields of GPUAdapterInfo that say what an adapter is (isFallbackAdapter is newer than the type). */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter?: boolean;
}

/** A browser (or any host with navigator.gpu, or without WebGPU at all). */
export const BROWSER_HOST: EngineHost = {
  gpu: async () => {
    const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
    return gpu ? { gpu } : { why: 'this browser has no WebGPU (navigator.gpu)' };
  },
  registerGradients: () => import('@tensorflow/tfjs-core/dist/register_all_gradients.js'),
};

interface GpuProbe {
  adapter: GPUAdapter;
  description: string;
  software: boolean;
}

/** No adapter, and why. */
interface NoGpu {
  adapter?: undefined;
  why: string;
}

/**
 * Initialise TF.js on one backend. `auto` takes WebGPU on a hardware adapter, else wasm
 * (TF.js's fastest CPU path); an explicit `webgpu` also accepts a software adapter, which is
 * what the tests run on without a GPU.
 */
export async function initEngine(choice: BackendChoice = 'auto', host: EngineHost = BROWSER_HOST): Promise<EngineInfo> {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new ConfigError(`unknown backend '${choice}': use one of ${BACKEND_CHOICES.join(', ')}`);
  }
  await (gradients ??= host.registerGradients());
  if (choice === 'cpu' || choice === 'wasm') {
    await activate(choice);
    return { backend: choice, reason: 'requested' };
  }
  if (choice === 'auto' && host.lookAtAdapter) {
    const look = await host.lookAtAdapter();
    if (!look.info) return activateCpuPath(undefined, look.why);
    const seen = describeAdapter(look.info);
    if (seen.software) return activateCpuPath(seen.description, undefined);
  }
  const probe = await probeGpu(host);
  const gpu = probe.adapter ? probe : undefined;
  if (choice === 'webgpu') {
    if (!gpu) {
      throw new ConfigError(`WebGPU is not available here (${(probe as NoGpu).why}): use --backend wasm or cpu, or install a Vulkan driver`);
    }
    const tuned = await activateWebGpu(gpu, host);
    return { backend: 'webgpu', adapter: gpu.description, softwareAdapter: gpu.software, reason: 'requested', tuned };
  }
  if (gpu && !gpu.software) {
    const tuned = await activateWebGpu(gpu, host);
    return { backend: 'webgpu', adapter: gpu.description, softwareAdapter: false, reason: 'hardware GPU adapter found', tuned };
  }
  return activateCpuPath(gpu?.description, (probe as NoGpu).why);
}

/** `auto` without a hardware adapter: wasm, saying whether a software adapter or none was found. */
async function activateCpuPath(softwareAdapter: string | undefined, why: string | undefined): Promise<EngineInfo> {
  await activate('wasm');
  return {
    backend: 'wasm',
    reason: softwareAdapter ? `only a software GPU adapter (${softwareAdapter}), so the CPU path` : `no GPU adapter: ${why}; so the CPU path`,
  };
}

let gradients: Promise<unknown> | undefined;

/** Whether a WebGPU adapter exists at all (software ones included), without activating it. */
export async function webGpuAvailable(host: EngineHost = BROWSER_HOST): Promise<boolean> {
  return (await probeGpu(host)).adapter !== undefined;
}

/** Whether a hardware (not software-emulated) WebGPU adapter exists, without activating it. */
export async function hardwareWebGpuAvailable(host: EngineHost = BROWSER_HOST): Promise<boolean> {
  if (host.lookAtAdapter) {
    const look = await host.lookAtAdapter();
    return look.info !== undefined && !describeAdapter(look.info).software;
  }
  const gpu = await probeGpu(host);
  return gpu.adapter !== undefined && !gpu.software;
}

export function describeEngine(info: EngineInfo): string {
  const adapter = info.adapter ? ` on ${info.adapter}${info.softwareAdapter ? ' (software)' : ''}${info.tuned ? ', tuned kernels' : ''}` : '';
  return `backend ${info.backend}${adapter} (${info.reason})`;
}

async function activate(name: BackendName): Promise<void> {
  if (name === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
  if (name === 'wasm') (await import('./wasm.js')).registerWasmKernels();
  const ok = await tf.setBackend(name);
  if (!ok) throw new ConfigError(`the ${name} backend failed to start: try another --backend`);
  await tf.ready();
  quietCpuBanner();
}

/** Starts WebGPU with our kernels, tuned for this adapter where the host has a tuning; says whether it had. */
async function activateWebGpu(probe: GpuProbe, host: EngineHost): Promise<boolean> {
  const tuning = await host.webGpuTuning?.(probe.description);
  (await import('./webgpu.js')).registerWebGpu(probe.adapter, tuning);
  await activate('webgpu');
  return tuning !== undefined;
}

/** The adapter probe is cached per host: Dawn's instance must outlive every device made from it. */
const probes = new WeakMap<EngineHost, Promise<GpuProbe | NoGpu>>();

function probeGpu(host: EngineHost): Promise<GpuProbe | NoGpu> {
  let probe = probes.get(host);
  if (!probe) {
    probe = (async (): Promise<GpuProbe | NoGpu> => {
      const found = await host.gpu();
      if (!found.gpu) return { why: found.why };
      const adapter = await found.gpu.requestAdapter({ powerPreference: 'high-performance' });
      if (!adapter) return { why: 'no adapter found' };
      return { adapter, ...describeAdapter(adapter.info) };
    })();
    probes.set(host, probe);
  }
  return probe;
}

function describeAdapter(info: AdapterInfo): { description: string; software: boolean } {
  const software = info.isFallbackAdapter === true || info.architecture === 'software' ||
    /llvmpipe|lavapipe|swiftshader/i.test(`${info.description} ${info.device}`);
  const description = [info.vendor, info.description || info.device].filter(Boolean).join(' ') || 'unknown adapter';
  return { description, software };
}

/** TF.js's cpu backend prints a tfjs-node advertisement on first use; that package is not an option here. */
function quietCpuBanner(): void {
  const backend = tf.backend() as { firstUse?: boolean };
  if (tf.getBackend() === 'cpu') backend.firstUse = false;
}
