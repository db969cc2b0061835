import * as os from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { describeEngine, initEngine, webGpuAvailable, type BackendName } from '../src/engine/backend.js';
import { DEFAULT_MODEL_CONFIG } from '../src/model/config.js';
import { SRDTrans } from '../src/model/srdtrans.js';
import { Adam } from '../src/train/adam.js';
import { trainingLoss } from '../src/train/loss.js';
import { Rng } from '../src/util/rng.js';

/**
 * The published default network on sub-sampled training patches [T, H, W] (a 2P×2P patch
 * becomes P×P after spatial-redundancy sampling). Prints median times of forward (training
 * mode), forward+backward, and one Adam update, with peak tensor memory.
 */
export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      backends: { type: 'string', default: 'cpu,wasm,webgpu' },
      shapes: { type: 'string', default: '32x64x64,128x64x64' },
      repeat: { type: 'string', default: '3' },
    },
  });
  const backends = values.backends!.split(',') as BackendName[];
  const shapes = values.shapes!.split(',').map((s) => s.split('x').map(Number) as [number, number, number]);
  const repeat = Number(values.repeat);
  process.stdout.write(`machine: ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}\n`);
  process.stdout.write('network: published defaults (f_maps 8,16,32,64; E 128; 8 heads; MLP 512; window 7; 1 block)\n\n');
  const rows: string[][] = [['backend', 'patch (1,1,T,H,W)', 'forward ms', 'fwd+bwd ms', 'adam ms', 'peak tensor MiB', 'peak RSS MiB']];
  for (const backend of backends) {
    if (backend === 'webgpu' && !(await webGpuAvailable())) {
      process.stdout.write('webgpu: no adapter, skipped\n');
      continue;
    }
    const engine = await initEngine(backend);
    process.stdout.write(`${describeEngine(engine)}\n`);
    for (const [t, h, w] of shapes) {
      const r = await measure(t, h, w, repeat);
      rows.push([backend, `${t}×${h}×${w}`, r.forward.toFixed(0), r.backward.toFixed(0), r.adam.toFixed(1), (r.peakBytes / 2 ** 20).toFixed(0), (r.peakRss / 2 ** 20).toFixed(0)]);
      process.stdout.write(`  ${t}×${h}×${w}: forward ${r.forward.toFixed(0)} ms, fwd+bwd ${r.backward.toFixed(0)} ms, adam ${r.adam.toFixed(1)} ms\n`);
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
}

async function measure(t: number, h: number, w: number, repeat: number): Promise<Figures> {
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
  tf.dispose([input, ...targets]);
  adam.dispose();
  model.dispose();
  return { forward: median(times.forward), backward: median(times.backward), adam: median(times.adam), peakBytes: info.peakBytes, peakRss };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => `| ${r.map((v, c) => v.padEnd(widths[c]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}
