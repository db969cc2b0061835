import * as tf from '@tensorflow/tfjs-core';

/** Time spent in one TF.js kernel, summed over its calls. */
export interface OpTime {
  kernel: string;
  ms: number;
  calls: number;
}

export interface ProfiledParts {
  parts: [OpTime[], OpTime[]];
  /** Wall time of the whole profiled function (on webgpu a part's wall time would only be its dispatch). */
  wallMs: number;
  /** How kernel times were taken: synchronous wall time (wasm, cpu), GPU timestamps, or not at all. */
  clock: 'wall' | 'gpu' | 'none';
}

type Kernel = Awaited<ReturnType<typeof tf.profile>>['kernels'][number];

/** What the engine is recording while tf.profile runs (not in its public types). */
interface ProfilingEngine {
  state: { activeProfile: { kernels: Kernel[] } };
}

/**
 * Profiles `f` and returns the kernels it ran in two parts, split where `f` calls `mark()` (e.g.
 * between a forward pass and its backward pass), each summed per kernel name and sorted, slowest
 * first. Only registered kernels are counted: tf.profile also lists scopes (custom gradients,
 * 'unnamed scope') whose time includes the kernels inside them, which would be counted twice.
 * On wasm and cpu a kernel's time is wall time around its synchronous run; on webgpu it comes
 * from GPU timestamp queries, and there is none when the device lacks them (every time 0).
 */
export async function profileOps(f: (mark: () => void) => Promise<void>): Promise<ProfiledParts> {
  const backendName = tf.getBackend();
  let split = -1;
  const mark = (): void => {
    split = (tf.engine() as unknown as ProfilingEngine).state.activeProfile.kernels.length;
  };
  let start = 0;
  const info = await tf.profile(() => {
    start = performance.now();
    return f(mark);
  });
  const end = performance.now();
  if (split < 0) throw new Error('profileOps: the profiled function never called mark()');
  const isKernel = (name: string): boolean => tf.getKernel(name, backendName) !== undefined;
  const sum = (kernels: Kernel[]): OpTime[] => {
    const by = new Map<string, OpTime>();
    for (const k of kernels) {
      if (!isKernel(k.name)) continue;
      const entry = by.get(k.name) ?? { kernel: k.name, ms: 0, calls: 0 };
      entry.ms += k.kernelTimeMs as number;
      entry.calls++;
      by.set(k.name, entry);
    }
    return [...by.values()].sort((a, b) => b.ms - a.ms);
  };
  const timestampQueries = (tf.backend() as { supportTimestampQuery?: boolean }).supportTimestampQuery;
  return {
    parts: [sum(info.kernels.slice(0, split)), sum(info.kernels.slice(split))],
    wallMs: end - start,
    clock: backendName !== 'webgpu' ? 'wall' : timestampQueries === true ? 'gpu' : 'none',
  };
}

/** Rows for the slowest `top` kernels: kernel, calls, ms, % of the part, plus one row for the rest. */
export function opRows(ops: OpTime[], top: number): string[][] {
  const total = ops.reduce((s, o) => s + o.ms, 0);
  const pct = (ms: number): string => (total > 0 ? ((100 * ms) / total).toFixed(1) : '–');
  const rows = ops.slice(0, top).map((o) => [o.kernel, String(o.calls), o.ms.toFixed(1), pct(o.ms)]);
  const rest = ops.slice(top);
  if (rest.length > 0) {
    const ms = rest.reduce((s, o) => s + o.ms, 0);
    rows.push([`(${rest.length} others)`, String(rest.reduce((s, o) => s + o.calls, 0)), ms.toFixed(1), pct(ms)]);
  }
  rows.push(['total', String(ops.reduce((s, o) => s + o.calls, 0)), total.toFixed(1), total > 0 ? '100.0' : '–']);
  return rows;
}
