import { ConfigError } from '../../errors.js';

/**
 * The launch shapes of our WGSL convolution kernels (conv3d.webgpu.ts). The defaults are guesses
 * made without a hardware adapter; `npm run bench -- webgpu-tune` times the choices on one and
 * keeps the fastest for that adapter (engine/webgpu-tuning-file.ts), which the engine then uses.
 */
export interface WebGpuTuning {
  /** Conv3D: output positions per thread at most (rows of the register tile). */
  convRows: 1 | 2 | 4;
  /** Conv3D and its filter gradient: output-channel quads per thread at most. */
  convQuads: 1 | 2 | 4;
  /** Conv3D: below this many threads a grid shrinks its register tiles to make more of them. */
  minThreads: number;
  /** The filter gradient: workgroups it splits the positions into partial sums to launch. */
  targetWorkgroups: number;
}

export const DEFAULT_WEBGPU_TUNING: WebGpuTuning = { convRows: 4, convQuads: 4, minThreads: 8192, targetWorkgroups: 2048 };

const TILE_CHOICES = [1, 2, 4] as const;

/** A tuning from parsed JSON (missing fields take the defaults); a ConfigError naming `source` if it is not one. */
export function webGpuTuning(value: unknown, source: string): WebGpuTuning {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(`${source}: a WebGPU tuning must be a JSON object`);
  const v = value as Record<string, unknown>;
  const unknown = Object.keys(v).filter((k) => !(k in DEFAULT_WEBGPU_TUNING));
  if (unknown.length > 0) throw new ConfigError(`${source}: unknown WebGPU tuning field ${unknown.map((k) => `'${k}'`).join(', ')}`);
  const tile = (key: 'convRows' | 'convQuads'): 1 | 2 | 4 => {
    const x = v[key] ?? DEFAULT_WEBGPU_TUNING[key];
    if (!TILE_CHOICES.includes(x as 1)) throw new ConfigError(`${source}: ${key} must be 1, 2 or 4, got ${JSON.stringify(x)}`);
    return x as 1 | 2 | 4;
  };
  const count = (key: 'minThreads' | 'targetWorkgroups'): number => {
    const x = v[key] ?? DEFAULT_WEBGPU_TUNING[key];
    if (!Number.isInteger(x) || (x as number) < 1) throw new ConfigError(`${source}: ${key} must be a positive integer, got ${JSON.stringify(x)}`);
    return x as number;
  };
  return { convRows: tile('convRows'), convQuads: tile('convQuads'), minThreads: count('minThreads'), targetWorkgroups: count('targetWorkgroups') };
}

export function describeTuning(t: WebGpuTuning): string {
  return `convRows ${t.convRows}, convQuads ${t.convQuads}, minThreads ${t.minThreads}, targetWorkgroups ${t.targetWorkgroups}`;
}
