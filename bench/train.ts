import * as os from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { describeEngine, initEngine, webGpuAvailable, type BackendName } from '../src/engine/backend.js';
import { autoKernelThreads, startKernelThreads } from '../src/engine/kernel-threads.js';
import { DEFAULT_MODEL_CONFIG } from '../src/model/config.js';
import { SRDTrans } from '../src/model/srdtrans.js';
import { Adam } from '../src/train/adam.js';
import { trainingLoss } from '../src/train/loss.js';
import { Rng } from '../src/util/rng.js';
import { opRows, profileOps, type ProfiledParts } from './op-profile.js';
import { table } from './table.js';
import { BenchOptionError, listOf, positiveInt } from './options.js';

/**
 * The published default network on sub-sampled training patches [T, H, W] (a 2P×2P patch
 * becomes P×P after spatial-redundancy sampling). Prints median times of forward (training
 * mode), forward+backward, and one Adam update, with peak tensor memory. With --profile, also
 * the time per TF.js kernel in one forward and one backward pass (the slowest --top kernels).
 * On wasm, --threads 1,2 (default auto: what `srdtrans train` uses) runs each shape with each
 * number of kernel threads (src/engine/kernel-threads.ts).
 */
export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      backends: { type: 'string', default: 'cpu,wasm,webgpu' },
      shapes: { type: 'string', default: '32x64x64,128x64x64' },
      repeat: { type: 'string', default: '3' },
      profile: { type: 'boolean', default: false },
      top: { type: 'string', default: '15' },
      threads: { type: 'string', default: 'auto' },
    },
  });
  const backends = listOf<BackendName>('backends', values.backends, ['cpu', 'wasm', 'webgpu']);
  const shapes = values.shapes!.split(',').map((s) => {
    const dims = s.split('x');
    if (dims.length !== 3) throw new BenchOptionError(`--shapes: expected TxHxW items such as 32x64x64, got '${s}'`);
    return dims.map((d) => positiveInt('shapes', d)) as [number, number, number];
  });
  const repeat = positiveInt('repeat', values.repeat);
  const top = values.profile ? positiveInt('top', values.top) : 0;
  const threadCounts = values.threads!.split(',').map((v) => (v === 'auto' ? autoKernelThreads() : positiveInt('threads', v)));
  process.stdout.write(`machine: ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load average ${os.loadavg().map((v) => v.toFixed(2)).join(' ')} at start\n`);
  process.stdout.write('network: published defaults (f_maps 8,16,32,64; E 128; 8 heads; MLP 512; window 7; 1 block)\n\n');
  const rows: string[][] = [['backend', 'threads', 'patch (1,1,T,H,W)', 'forward ms', 'fwd+bwd ms', 'adam ms', 'peak tensor MiB', 'peak RSS MiB']];
  for (const backend of backends) {
    if (backend === 'webgpu' && !(await webGpuAvailable())) {
      process.stdout.write('webgpu: no adapter, skipped\n');
      continue;
    }
    const engine = await initEngine(backend);
    process.stdout.write(`${describeEngine(engine)}\n`);
    // Kernel threads split wasm kernels only; other backends run once, on their own threads.
    for (const threads of backend === 'wasm' ? threadCounts : [1]) {
      const kernelThreads = await startKernelThreads(threads);
      try {
        for (const [t, h, w] of shapes) {
          const r = await measure(t, h, w, repeat, top > 0);
          const label = `${backend}${backend === 'wasm' ? `, ${threads} kernel thread${threads > 1 ? 's' : ''}` : ''}`;
          rows.push([backend, backend === 'wasm' ? String(threads) : '–', `${t}×${h}×${w}`, r.forward.toFixed(0), r.backward.toFixed(0), r.adam.toFixed(1), (r.peakBytes / 2 ** 20).toFixed(0), (r.peakRss / 2 ** 20).toFixed(0)]);
          process.stdout.write(`  ${label} ${t}×${h}×${w}: forward ${r.forward.toFixed(0)} ms, fwd+bwd ${r.backward.toFixed(0)} ms, adam ${r.adam.toFixed(1)} ms (load ${os.loadavg()[0]!.toFixed(2)})\n`);
          if (r.ops) printOps(`${label} ${t}×${h}×${w}`, r.ops, top);
        }
      } finally {
        await kernelThreads.stop();
      }
    }
  }
  process.stdout.write('\n' + table(rows) + '\n');
}

interface Figures {
  forward: number;
  backward: number;
  adam: number;
  peakBytes: number;
  peakRss: number;
  /** Per-kernel times of one forward (with the gradient tape on) and of its backward pass. */
  ops?: ProfiledParts;
}

async function measure(t: number, h: number, w: number, repeat: number, profile: boolean): Promise<Figures> {
  const model = new SRDTrans({ ...DEFAULT_MODEL_CONFIG, patchT: t }, 1);
  const adam = new Adam(model.variables, { lr: 1e-4, beta1: 0.5, beta2: 0.999 });
  const rng = new Rng(2);
  const data = () => Float32Array.from({ length: t * h * w }, () => rng.normal());
  const input = tf.tensor4d(data(), [1, t, h, w]);
  const targets = [tf.tensor4d(data(), [1, t, h, w]), tf.tensor4d(data(), [1, t, h, w])];
  const vars = [...model.variables.values()];
  const names = [...model.variables.keys()];
  const times = { forward: [] as number[], backward: [] as number[], adam: [] as number[] };
  let peakRss = process.memoryUsage().rss;
  const info = await tf.profile(async () => {
    for (let i = 0; i <= repeat; i++) {
      let t0 = performance.now();
      const out = tf.tidy(() => model.apply(input, { training: true, seed: i }));
      await out.data();
      out.dispose();
      const forward = performance.now() - t0;
      t0 = performance.now();
      const { value, grads } = tf.variableGrads(() => trainingLoss(model.apply(input, { training: true, seed: i }), targets), vars);
      await value.data();
      const backward = performance.now() - t0;
      const named = new Map(Object.values(grads).map((g, k) => [names[k]!, g]));
      t0 = performance.now();
      adam.apply(named);
      await vars[0]!.data();
      const step = performance.now() - t0;
      tf.dispose([value, ...Object.values(grads)]);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      if (i > 0) {
        // The first round compiles shaders and grows heaps; it is not counted.
        times.forward.push(forward);
        times.backward.push(backward);
        times.adam.push(step);
      }
    }
  });
  let ops: Figures['ops'];
  if (profile) {
    ops = await profileOps(async (mark) => {
      const { value, grads } = tf.variableGrads(() => {
        const loss = trainingLoss(model.apply(input, { training: true, seed: 0 }), targets);
        mark();
        return loss;
      }, vars);
      await value.data();
      tf.dispose([value, ...Object.values(grads)]);
    });
  }
  tf.dispose([input, ...targets]);
  adam.dispose();
  model.dispose();
  return { forward: median(times.forward), backward: median(times.backward), adam: median(times.adam), peakBytes: info.peakBytes, peakRss, ops };
}

function printOps(title: string, ops: NonNullable<Figures['ops']>, top: number): void {
  if (ops.clock === 'none') {
    process.stdout.write(`  ${title}: no per-kernel times (the WebGPU device has no timestamp-query feature)\n`);
    return;
  }
  const clock = ops.clock === 'gpu' ? 'GPU timestamp queries' : 'wall time of each synchronous kernel';
  process.stdout.write(`\n${title}: one fwd+bwd step, ${ops.wallMs.toFixed(0)} ms wall; kernel times from ${clock}, summed per kernel\n`);
  (['forward', 'backward'] as const).forEach((phase, i) => {
    const header = [`${phase} kernel`, 'calls', 'ms', '%'];
    process.stdout.write(`${table([header, ...opRows(ops.parts[i], top)])}\n\n`);
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}
