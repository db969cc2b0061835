/**
 * `npm run bench -- ort-profile`: where ONNX Runtime spends a patch of `srdtrans denoise`
 * (--backend onnx), from its own profiler: time per operator type and the slowest nodes.
 *
 *   --patch-xy N   patch width and height (default 128)
 *   --patch-t N    patch length (default 32)
 *   --threads N    intra-op threads (default 2)
 *   --runs N       profiled runs after one warm-up run (default 3)
 *   --top N        slowest nodes listed (default 15)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { initEngine } from '../src/engine/backend.js';
import { exportOnnx, ONNX_INPUT } from '../src/export/onnx/export.js';
import { DEFAULT_MODEL_CONFIG } from '../src/model/config.js';
import { SRDTrans } from '../src/model/srdtrans.js';
import { Rng } from '../src/util/rng.js';
import { positiveInt } from './options.js';
import { table } from './table.js';

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args: { op_name?: string };
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      'patch-xy': { type: 'string', default: '128' },
      'patch-t': { type: 'string', default: '32' },
      threads: { type: 'string', default: '2' },
      runs: { type: 'string', default: '3' },
      top: { type: 'string', default: '15' },
    },
  });
  const [xy, t, threads, runs, top] = (['patch-xy', 'patch-t', 'threads', 'runs', 'top'] as const).map((k) => positiveInt(k, values[k])) as [number, number, number, number, number];
  const ort = await import('onnxruntime-node');
  await initEngine('cpu');
  const config = { ...DEFAULT_MODEL_CONFIG, patchT: t };
  const model = new SRDTrans(config, 1);
  const bytes = exportOnnx(config, await model.stateDict(), { patchXY: xy });
  model.dispose();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'srdtrans-ort-profile-'));
  try {
    // The session options of src/infer/onnx-network.ts, plus the profiler.
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
      graphOptimizationLevel: 'all', enableProfiling: true, profileFilePrefix: path.join(dir, 'profile'), logSeverityLevel: 3,
    });
    const rng = new Rng(2);
    const input = new ort.Tensor('float32', Float32Array.from({ length: t * xy * xy }, () => rng.normal()), [1, 1, t, xy, xy]);
    const wall: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const t0 = performance.now();
      await session.run({ [ONNX_INPUT]: input });
      if (i > 0) wall.push(performance.now() - t0);
    }
    session.endProfiling();
    await session.release();
    const events = (JSON.parse(readFileSync(path.join(dir, readdirSync(dir)[0]!), 'utf8')) as ProfileEvent[])
      .filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
    // The first run is the warm-up: keep the last `runs` runs' events.
    const perRun = events.length / (runs + 1);
    const timed = events.slice(events.length - perRun * runs);
    const sum = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
    const byOp = new Map<string, number>();
    const byNode = new Map<string, number>();
    for (const e of timed) {
      sum(byOp, e.args.op_name ?? '?', e.dur);
      sum(byNode, `${e.name.replace(/_kernel_time$/, '')} (${e.args.op_name ?? '?'})`, e.dur);
    }
    const total = [...byOp.values()].reduce((a, b) => a + b, 0);
    const ms = (us: number) => (us / runs / 1000).toFixed(1);
    const rows = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => [k, ms(v), `${((100 * v) / total).toFixed(1)} %`]);
    out(`machine: ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length}, load average ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
    out(`ONNX Runtime CPU, ${threads} threads; the default network on a 1×1×${t}×${xy}×${xy} patch; ${runs} runs after a warm-up`);
    out(`wall per run: ${wall.map((v) => v.toFixed(0)).join(', ')} ms; in kernels ${ms(total)} ms\n`);
    out(table([['operator', 'ms per run', 'share'], ...rows(byOp, byOp.size)]));
    out('\n' + table([['node', 'ms per run', 'share'], ...rows(byNode, top)]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function out(line: string): void {
  process.stdout.write(line + '\n');
}
