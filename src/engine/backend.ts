import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node build registers no gradients; the umbrella package's Node build does (into the
// registry shared by every copy of core), and it is the only published build that does.
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { ConfigError } from '../errors.js';
import { registerCustomKernels } from './kernels/index.js';

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
}

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
export async function initEngine(choice: BackendChoice = 'auto'): Promise<EngineInfo> {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new ConfigError(`unknown backend '${choice}': use one of ${BACKEND_CHOICES.join(', ')}`);
  }
  if (choice === 'cpu' || choice === 'wasm') {
    await activate(choice);
    return { backend: choice, reason: 'requested' };
  }
  const probe = await probeGpu();
  const gpu = probe.adapter ? probe : undefined;
  if (choice === 'webgpu') {
    if (!gpu) {
      throw new ConfigError(`WebGPU is not available here (${(probe as NoGpu).why}): use --backend wasm or cpu, or install a Vulkan driver`);
    }
    await activateWebGpu(gpu);
    return { backend: 'webgpu', adapter: gpu.description, softwareAdapter: gpu.software, reason: 'requested' };
  }
  if (gpu && !gpu.software) {
    await activateWebGpu(gpu);
    return { backend: 'webgpu', adapter: gpu.description, softwareAdapter: false, reason: 'hardware GPU adapter found' };
  }
  await activate('wasm');
  return {
    backend: 'wasm',
    reason: gpu ? `only a software GPU adapter (${gpu.description}), so the CPU path` : `no GPU adapter: ${(probe as NoGpu).why}; so the CPU path`,
  };
}

/** Whether a WebGPU adapter exists at all (software ones included), without activating it. */
export async function webGpuAvailable(): Promise<boolean> {
  return (await probeGpu()).adapter !== undefined;
}

/** Whether a hardware (not software-emulated) WebGPU adapter exists, without activating it. */
export async function hardwareWebGpuAvailable(): Promise<boolean> {
  const gpu = await probeGpu();
  return gpu.adapter !== undefined && !gpu.software;
}

export function describeEngine(info: EngineInfo): string {
  const adapter = info.adapter ? ` on ${info.adapter}${info.softwareAdapter ? ' (software)' : ''}` : '';
  return `backend ${info.backend}${adapter} (${info.reason})`;
}

async function activate(name: BackendName): Promise<void> {
  registerCustomKernels();
  const ok = await tf.setBackend(name);
  if (!ok) throw new ConfigError(`the ${name} backend failed to start: try another --backend`);
  await tf.ready();
  quietCpuBanner();
}

async function activateWebGpu(probe: GpuProbe): Promise<void> {
  if (!tf.findBackend('webgpu')) {
    tf.registerBackend('webgpu', async () => {
      const limits = probe.adapter.limits;
      const device = await probe.adapter.requestDevice({
        // Lets tf.profile time each kernel on the GPU (kernelTimeMs); unused otherwise.
        requiredFeatures: probe.adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
        requiredLimits: {
          maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
          maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
          maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
          maxBufferSize: limits.maxBufferSize,
          maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
          maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
        },
      });
      return new WebGPUBackend(device, probe.adapter.info);
    });
  }
  await activate('webgpu');
}

let probed: Promise<GpuProbe | NoGpu> | undefined;

/** The adapter probe is cached: Dawn's instance must outlive every device made from it. */
function probeGpu(): Promise<GpuProbe | NoGpu> {
  probed ??= (async (): Promise<GpuProbe | NoGpu> => {
    const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
    let gpu = nav?.gpu;
    if (!gpu) {
      const { dawnGpu } = await import('./dawn.js');
      const dawn = await dawnGpu();
      if (!dawn.gpu) return { why: dawn.why };
      gpu = dawn.gpu;
      // The TF.js WebGPU backend looks for navigator.gpu, which Node 20 lacks.
      if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
      else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    }
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return { why: 'no adapter found' };
    const info = adapter.info;
    const software =
      (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
      info.architecture === 'software' ||
      /llvmpipe|lavapipe|swiftshader/i.test(`${info.description} ${info.device}`);
    const description = [info.vendor, info.description || info.device].filter(Boolean).join(' ') || 'unknown adapter';
    return { adapter, description, software };
  })();
  return probed;
}

/** TF.js's cpu backend prints a tfjs-node advertisement on first use; that package is not an option here. */
function quietCpuBanner(): void {
  const backend = tf.backend() as { firstUse?: boolean };
  if (tf.getBackend() === 'cpu') backend.firstUse = false;
}
