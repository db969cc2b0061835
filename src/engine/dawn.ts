/**
 * WebGPU for Node through Dawn (the `webgpu` npm package). Only Node's engine host
 * (engine/backend.ts) imports it: a browser has navigator.gpu.
 */
import type { GpuResult } from './engine.js';

export async function dawnGpu(): Promise<GpuResult> {
  if (typeof process === 'undefined' || !process.versions?.node) return { why: 'not running in Node' };
  // On Linux, Dawn's only usable backend is Vulkan. Without the loader library, Dawn prints a
  // native warning with a source path of its own build machine: say it once in our words instead.
  if (process.platform === 'linux' && !(await hasVulkanLoader())) return { why: 'no Vulkan driver (libvulkan.so.1) installed' };
  // Vulkan loaders complain without a runtime dir; any writable folder will do.
  process.env['XDG_RUNTIME_DIR'] ??= '/tmp';
  let gpu: GPU;
  try {
    const dawn = (await import('webgpu')) as unknown as {
      create(flags: string[]): GPU;
      globals: Record<string, unknown>;
    };
    Object.assign(globalThis, dawn.globals);
    gpu = dawn.create([]);
  } catch (err) {
    return { why: `Dawn did not start (${(err as Error).message})` };
  }
  // The TF.js WebGPU backend looks for navigator.gpu, which Node 20 lacks.
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  return { gpu };
}

/** Whether the Vulkan loader is where the dynamic linker looks (LD_LIBRARY_PATH or the system folders). */
async function hasVulkanLoader(): Promise<boolean> {
  const { existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  const dirs = [
    ...(process.env['LD_LIBRARY_PATH'] ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu',
    '/usr/lib64', '/lib64', '/usr/lib', '/lib', '/usr/local/lib', '/usr/local/lib64',
  ];
  return dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
}
