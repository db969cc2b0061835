/**
 * WebGPU for Node through Dawn (the `webgpu` npm package). Kept apart from the engine so that
 * the browser build never imports it: there `navigator.gpu` is already present.
 */
export async function dawnGpu(): Promise<GPU | undefined> {
  if (typeof process === 'undefined' || !process.versions?.node) return undefined;
  // Vulkan loaders complain without a runtime dir; any writable folder will do.
  process.env['XDG_RUNTIME_DIR'] ??= '/tmp';
  try {
    const dawn = (await import('webgpu')) as unknown as {
      create(flags: string[]): GPU;
      globals: Record<string, unknown>;
    };
    Object.assign(globalThis, dawn.globals);
    return dawn.create([]);
  } catch {
    return undefined;
  }
}
