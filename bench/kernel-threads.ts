/**
 * `npm run bench -- kernel-threads`: the kernels that kernel threads split (src/engine/kernel-threads.ts),
 * each timed unsplit and split, on wasm, at shapes from a training step of the published network
 * at 32×64×64, plus a sweep of small matrix products that shows where splitting starts to pay
 * (MIN_SPLIT_FLOPS).
 *
 *   --threads N   threads of the split runs (default 2)
 *   --repeat N    timed calls per shape, after one warm-up call (default 5); medians
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../src/engine/backend.js';
import { startKernelThreads } from '../src/engine/kernel-threads.js';
import { table } from './table.js';
import { positiveInt } from './options.js';

interface Case {
  label: string;
  flops: number;
  /** Makes the inputs, and a call that runs the kernel once on them. */
  setup(): { call: () => tf.Tensor; inputs: tf.Tensor[] };
}

type Shape5 = [number, number, number, number, number];

function convOut(x: Shape5, w: Shape5, pad: 'same' | 'valid'): Shape5 {
  const info = tf.backend_util.computeConv3DInfo(x, w, 1, 1, pad);
  return [info.batchSize, info.outDepth, info.outHeight, info.outWidth, info.outChannels];
}

function conv(x: Shape5, w: Shape5, pad: 'same' | 'valid'): Case {
  const out = convOut(x, w, pad);
  return {
    label: `Conv3D x [${x}] w [${w}] ${pad}`,
    flops: 2 * w[0] * w[1] * w[2] * w[3] * out.reduce((a, b) => a * b, 1),
    setup: () => {
      const inputs = [tf.randomNormal(x, 0, 1, 'float32', 1), tf.randomNormal(w, 0, 1, 'float32', 2)] as tf.Tensor5D[];
      return { inputs, call: () => tf.conv3d(inputs[0]!, inputs[1]!, 1, pad) };
    },
  };
}

function filterGrad(x: Shape5, w: Shape5, pad: 'same' | 'valid'): Case {
  const out = convOut(x, w, pad);
  return {
    label: `Conv3DBackpropFilterV2 x [${x}] w [${w}] ${pad}`,
    flops: 2 * w[0] * w[1] * w[2] * w[3] * out.reduce((a, b) => a * b, 1),
    setup: () => {
      const inputs = [tf.randomNormal(x, 0, 1, 'float32', 3), tf.randomNormal(out, 0, 1, 'float32', 4)];
      const attrs = { strides: [1, 1, 1], pad, filterShape: w };
      return { inputs, call: () => tf.engine().runKernel('Conv3DBackpropFilterV2', { x: inputs[0]!, dy: inputs[1]! }, attrs) as tf.Tensor };
    },
  };
}

function matMul(a: number[], b: number[], transposeA = false, transposeB = false): Case {
  const m = transposeA ? a.at(-1)! : a.at(-2)!;
  const k = transposeA ? a.at(-2)! : a.at(-1)!;
  const n = transposeB ? b.at(-2)! : b.at(-1)!;
  const batch = Math.max(a.slice(0, -2).reduce((x, y) => x * y, 1), b.slice(0, -2).reduce((x, y) => x * y, 1));
  return {
    label: `BatchMatMul a [${a}] b [${b}]${transposeA ? ' tA' : ''}${transposeB ? ' tB' : ''}`,
    flops: 2 * batch * m * n * k,
    setup: () => {
      const inputs = [tf.randomNormal(a, 0, 1, 'float32', 5), tf.randomNormal(b, 0, 1, 'float32', 6)];
      return { inputs, call: () => tf.matMul(inputs[0]!, inputs[1]!, transposeA, transposeB) };
    },
  };
}

/** The slowest calls of one fwd+bwd at 32×64×64 (from an instrumented run), one per kind. */
const NETWORK: Case[] = [
  conv([1, 2, 64, 64, 128], [3, 3, 3, 128, 64], 'same'),
  conv([1, 4, 68, 68, 64], [2, 3, 3, 64, 64], 'valid'),
  conv([1, 8, 64, 64, 16], [3, 3, 3, 16, 16], 'same'),
  conv([1, 32, 64, 64, 8], [3, 3, 3, 8, 4], 'same'),
  conv([1, 32, 64, 64, 1], [3, 3, 3, 1, 8], 'same'),
  filterGrad([1, 2, 64, 64, 64], [3, 3, 3, 64, 128], 'same'),
  filterGrad([1, 3, 66, 66, 64], [2, 3, 3, 64, 64], 'valid'),
  filterGrad([1, 32, 64, 64, 1], [3, 3, 3, 1, 4], 'same'),
  matMul([100, 8, 49, 16], [100, 8, 16, 49]),
  matMul([100, 8, 49, 49], [100, 8, 49, 16], true),
  matMul([1024, 128], [128, 512]),
  matMul([4900, 128], [128, 384]),
  matMul([128, 1024], [1024, 512]),
];

/** Products of growing size, to place the threshold. */
const SWEEP: Case[] = [16, 32, 64, 128, 256, 512].map((m) => matMul([m, 128], [128, 128]));

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { threads: { type: 'string', default: '2' }, repeat: { type: 'string', default: '5' } } });
  const threads = positiveInt('threads', values.threads);
  const repeat = positiveInt('repeat', values.repeat);
  const load = () => os.loadavg().map((v) => v.toFixed(2)).join(' ');
  process.stdout.write(`machine: ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length}, Node ${process.version}, load average ${load()} at start\n`);
  await initEngine('wasm');
  const cases = [...NETWORK, ...SWEEP];
  const unsplit = cases.map((c) => time(c, repeat));
  const kt = await startKernelThreads(threads, { minFlops: 0 });
  let split: number[];
  try {
    split = cases.map((c) => time(c, repeat));
  } finally {
    await kt.stop();
  }
  const rows = [['kernel call', 'MFLOP', '1 thread ms', `${threads} threads ms`, 'speed-up']];
  cases.forEach((c, i) => {
    if (i === NETWORK.length) rows.push(['(threshold sweep)', '', '', '', '']);
    rows.push([c.label, (c.flops / 1e6).toFixed(1), unsplit[i]!.toFixed(2), split[i]!.toFixed(2), (unsplit[i]! / split[i]!).toFixed(2)]);
  });
  process.stdout.write(`\n${table(rows)}\n\nload average at end: ${load()}\n`);
}

/** Median ms of `repeat` calls after one warm-up call. */
function time(c: Case, repeat: number): number {
  const { call, inputs } = c.setup();
  const times: number[] = [];
  for (let i = 0; i <= repeat; i++) {
    const t0 = performance.now();
    const y = call();
    y.dataSync();
    if (i > 0) times.push(performance.now() - t0);
    y.dispose();
  }
  tf.dispose(inputs);
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}
