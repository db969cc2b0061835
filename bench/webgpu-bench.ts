import { initEngine } from '../src/engine/backend.js';

/** Starts the webgpu backend and names its adapter; false (and says why) where there is none. */
export async function startWebGpuBench(): Promise<boolean> {
  try {
    const info = await initEngine('webgpu');
    console.log(`adapter: ${info.adapter ?? 'unknown'}${info.softwareAdapter ? ' (software)' : ''}`);
    return true;
  } catch (e) {
    console.log(`WebGPU unavailable: ${(e as Error).message}`);
    return false;
  }
}

/** A right-aligned fixed-point column. */
export function fmt(n: number, w: number, d = 1): string {
  return n.toFixed(d).padStart(w);
}
