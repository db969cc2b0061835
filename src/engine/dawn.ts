/**
 * WebGPU for Node through Dawn (the `webgpu` npm package). Only Node's engine host
 * (engine/backend.ts) imports it: a browser has navigator.gpu.
 */
import type { AdapterLook, GpuResult } from './engine.js';

/** Why Dawn cannot start here, before trying; undefined if it may. */
async function cannotStart(): Promise<string | undefined> {
  if (typeof process === 'undefined' || !process.versions?.node) return 'not running in Node';
  // On Linux, Dawn's only usable backend is Vulkan. Without the loader library, Dawn prints a
  // native warning with a source path of its own build machine: say it once in our words instead.
  if (process.platform === 'linux' && !(await hasVulkanLoader())) return 'no Vulkan driver (libvulkan.so.1) installed';
  // Vulkan loaders complain without a runtime dir; any writable folder will do.
  process.env['XDG_RUNTIME_DIR'] ??= '/tmp';
  return undefined;
}

export async function dawnGpu(): Promise<GpuResult> {
  const why = await cannotStart();
  if (why) return { why };
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

/**
 * The adapter Dawn would give, asked in a child process whose stderr is dropped: on a software
 * adapter (lavapipe) Dawn writes two "artificially reduced" limit warnings to this process's
 * stderr on every start, and `auto` does not use such an adapter anyway. Costs one Node start
 * and one Dawn start (about 0.3 s).
 */
export async function lookAtDawnAdapter(): Promise<AdapterLook> {
  const why = await cannotStart();
  if (why) return { why };
  const { execFile } = await import('node:child_process');
  const dawn = import.meta.resolve('webgpu');
  const code = `const d = await import(${JSON.stringify(dawn)}); Object.assign(globalThis, d.globals);
    const a = await d.create([]).requestAdapter({ powerPreference: 'high-performance' });
    const i = a?.info;
    process.stdout.write(JSON.stringify(i ? { vendor: i.vendor, architecture: i.architecture, device: i.device,
      description: i.description, isFallbackAdapter: i.isFallbackAdapter } : null));
    process.exit(0);`;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', code], { timeout: 60_000, encoding: 'utf8' }, (err, stdout) => {
      if (err) return resolve({ why: `Dawn did not start (${err.message.split('\n')[0]})` });
      try {
        const info = JSON.parse(stdout) as AdapterLook['info'] | null;
        resolve(info ? { info } : { why: 'no adapter found' });
      } catch {
        resolve({ why: 'Dawn gave no answer about its adapter' });
      }
    });
  });
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
