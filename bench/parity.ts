/**
 * `npm run bench -- parity`: does our training learn what an independent PyTorch implementation
 * of the published training (tools/torch-reference/train.py) learns? Both sides train the same
 * network on the same simulated calcium stack with the same settings, once per training seed;
 * both results are denoised by the published inference (float output) and scored against the
 * ground truth. The two sides draw different random numbers (initialisation, patch order,
 * transforms, sampling, dropout), so single seeds differ; the means over seeds should agree
 * within their spread.
 *
 *   --seeds 1,2,3        training seeds (default 1,2,3)
 *   --stack-seed N       seed of the simulated stack, the same for every training seed (default 1)
 *   --out DIR            work folder: noisy.tif, the denoised stacks, the .pth files and results.json (default scratch/parity)
 *   --epochs N           (default 7)   --train-size N  patches per epoch, as the published train_datasets_size (default 100)
 *   --lr X               constant learning rate (default 2e-4); Adam betas 0.5, 0.999 as published
 *   --frames N --size N --rate HZ --photons X   the stack (default 96 frames of 64×64, 0.3 Hz, 2 photons/px)
 *   --ours-only          skip the PyTorch side
 *   --python PATH        Python with torch and NumPy 1.x (default /usr/bin/python3)
 *
 * Table and summary go to stdout, progress to stderr.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { Stack } from '../src/data/stack.js';
import { describeEngine, initEngine } from '../src/engine/backend.js';
import { autoKernelThreads, startKernelThreads } from '../src/engine/kernel-threads.js';
import { denoiseToStack } from '../src/infer/denoise.js';
import { readStack, writeStack } from '../src/io/tiff/index.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../src/model/config.js';
import { SRDTrans } from '../src/model/srdtrans.js';
import { evaluate, type Evaluation } from '../src/quality/metrics.js';
import { simulateCalcium } from '../src/quality/simulate/calcium.js';
import { train } from '../src/train/loop.js';
import { PUBLISHED_RECIPE } from '../src/train/record.js';
import { memorySink } from '../src/train/sink.js';
import { machineLine } from './cli-run.js';
import { BenchOptionError, integer, positiveInt, positiveInts, positiveNumber } from './options.js';
import { table } from './table.js';
import { probeTorch, runPython, tunedTorchEnvironment } from './torch.js';

const INSTALL = 'apt-get install python3-torch libopenblas0-pthread';

/**
 * The CPU network of `bench budget` and `srdtrans demo`, spelled out rather than imported so that
 * a change to the demo cannot silently change what this bench compares; the PyTorch side gets
 * its sizes from this object too.
 */
const MODEL: ModelConfig = { ...DEFAULT_MODEL_CONFIG, fMaps: [8, 16, 32, 64], embedDim: 64, heads: 4, mlpDim: 128, patchT: 32 };
const OVERLAP = 0.5;
const BETAS = [0.5, 0.999] as const;

type Side = 'ours' | 'pytorch';

interface Options {
  seeds: number[];
  stackSeed: number;
  out: string;
  epochs: number;
  trainSize: number;
  lr: number;
  frames: number;
  size: number;
  rate: number;
  photons: number;
  oursOnly: boolean;
  python: string;
}

interface Run {
  seed: number;
  side: Side;
  snr_db: number;
  psnr_db: number;
  ssim: number;
  trace_r: number | null;
  steps: number;
  training_s: number;
  denoised: string;
}

export async function main(args: string[]): Promise<void> {
  const o = parseOptions(args);
  let torchLine = 'PyTorch: skipped (--ours-only)';
  if (!o.oursOnly) {
    const probe = probeTorch(o.python);
    if (!probe.ok) {
      // Found before any training, so a missing reference costs nothing.
      process.stderr.write(`bench parity: no usable PyTorch reference (${probe.detail}); install it with \`${INSTALL}\`, or pass --ours-only\n`);
      process.exitCode = 2;
      return;
    }
    torchLine = `PyTorch: ${probe.detail}`;
  }
  const patchXY = Math.min(64, o.size - (o.size % 2));
  await mkdir(o.out, { recursive: true });
  const sim = simulateCalcium({ shape: [o.frames, o.size, o.size], seed: o.stackSeed, frameRate: o.rate, photons: o.photons });
  const noisyFile = path.join(o.out, 'noisy.tif');
  await writeStack(noisyFile, sim.noisy);
  // Ours trains on the file PyTorch reads, not on the simulation in memory: the same bytes for both.
  const noisy = await readStack(noisyFile);
  const score = (x: Stack) => evaluate(x, sim.clean, sim.masks, { baseline: sim.params.offset });

  console.log(machineLine());
  const engine = await initEngine('wasm');
  const kernelThreads = await startKernelThreads(autoKernelThreads());
  const threads = kernelThreads.threads;
  console.log(`ours: ${describeEngine(engine)}, ${threads} kernel thread${threads > 1 ? 's' : ''}`);
  console.log(o.oursOnly ? torchLine : `${torchLine}; ${threads} thread${threads > 1 ? 's' : ''} (torch.set_num_threads)`);
  console.log(
    `calcium ${o.rate} Hz, ${o.frames}×${o.size}×${o.size}, ${o.photons} photons/px, stack seed ${o.stackSeed}; ` +
    `spatial sampling, patch ${patchXY}×${patchXY}×${MODEL.patchT}, overlap ${OVERLAP}, train size ${o.trainSize}, ${o.epochs} epoch${o.epochs > 1 ? 's' : ''}, ` +
    `lr ${o.lr} constant, betas ${BETAS.join(', ')}; network f_maps ${MODEL.fMaps.join(',')}, E ${MODEL.embedDim}, ${MODEL.heads} heads, MLP ${MODEL.mlpDim}`,
  );
  const raw = score(sim.noisy);
  console.log(`raw noisy stack: SNR ${raw.snr_db.toFixed(2)} dB, SSIM ${raw.ssim.toFixed(3)}, trace r ${fmtR(raw.trace_r)}`);

  const runs: Run[] = [];
  try {
    const report = (r: Run): void => {
      runs.push(r);
      // Each run as it ends: a long bench stopped half-way still says what it measured.
      process.stderr.write(`parity: seed ${r.seed}, ${r.side}: SNR ${r.snr_db.toFixed(2)} dB, SSIM ${r.ssim.toFixed(3)}, trace r ${fmtR(r.trace_r)}\n`);
    };
    for (const seed of o.seeds) {
      report(await trainOurs(o, seed, noisy, patchXY, score));
      if (!o.oursOnly) report(await trainTorch(o, seed, noisyFile, patchXY, threads, score));
    }
  } finally {
    await kernelThreads.stop();
  }

  const sides: Side[] = o.oursOnly ? ['ours'] : ['ours', 'pytorch'];
  const summary = Object.fromEntries(sides.map((side) => {
    const of = runs.filter((r) => r.side === side);
    return [side, {
      snr_db: spread(of.map((r) => r.snr_db)),
      ssim: spread(of.map((r) => r.ssim)),
      // A run with no neuron trace has no r; the others still say how traces fare.
      trace_r: spread(of.flatMap((r) => (r.trace_r === null ? [] : [r.trace_r]))),
    }];
  })) as Record<Side, Record<'snr_db' | 'ssim' | 'trace_r', Spread>>;
  const rows = [
    ['seed', 'side', 'SNR dB', 'SSIM', 'trace r', 'steps', 'training s'],
    ...runs.map((r) => [String(r.seed), r.side, r.snr_db.toFixed(2), r.ssim.toFixed(3), fmtR(r.trace_r), String(r.steps), r.training_s.toFixed(0)]),
    ...sides.map((side) => {
      const s = summary[side];
      return [`mean ± sd (${o.seeds.length})`, side, fmtSpread(s.snr_db, 2), fmtSpread(s.ssim, 3), fmtSpread(s.trace_r, 3), '', ''];
    }),
  ];
  console.log('\n' + table(rows));
  const resultsFile = path.join(o.out, 'results.json');
  await writeFile(resultsFile, JSON.stringify({
    settings: {
      seeds: o.seeds, stack: { seed: o.stackSeed, frames: o.frames, size: o.size, rate: o.rate, photons: o.photons, offset: sim.params.offset },
      training: { ...PUBLISHED_RECIPE, sampling: 'spatial', patchXY, patchT: MODEL.patchT, overlap: OVERLAP, trainSize: o.trainSize, epochs: o.epochs, lr: o.lr, beta1: BETAS[0], beta2: BETAS[1] },
      model: MODEL, threads, pytorch: o.oursOnly ? null : torchLine,
    },
    raw, runs, summary,
  }, null, 2) + '\n');
  console.log(`\nresults: ${resultsFile}`);
}

function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      seeds: { type: 'string', default: '1,2,3' },
      'stack-seed': { type: 'string', default: '1' },
      out: { type: 'string', default: 'scratch/parity' },
      epochs: { type: 'string', default: '7' },
      'train-size': { type: 'string', default: '100' },
      lr: { type: 'string', default: '2e-4' },
      frames: { type: 'string', default: '96' },
      size: { type: 'string', default: '64' },
      rate: { type: 'string', default: '0.3' },
      photons: { type: 'string', default: '2' },
      'ours-only': { type: 'boolean', default: false },
      python: { type: 'string', default: '/usr/bin/python3' },
    },
  });
  const seeds = positiveInts('seeds', values.seeds);
  if (new Set(seeds).size !== seeds.length) throw new BenchOptionError(`--seeds: each seed once, got '${values.seeds}'`);
  const frames = positiveInt('frames', values.frames);
  if (frames < MODEL.patchT) throw new BenchOptionError(`--frames: at least ${MODEL.patchT} (one patch), got '${values.frames}'`);
  const size = positiveInt('size', values.size);
  if (size < 2) throw new BenchOptionError(`--size: at least 2 (one 2×2 sampling cell), got '${values.size}'`);
  return {
    seeds, frames, size,
    stackSeed: integer('stack-seed', values['stack-seed']),
    out: values.out!,
    epochs: positiveInt('epochs', values.epochs),
    trainSize: positiveInt('train-size', values['train-size']),
    lr: positiveNumber('lr', values.lr),
    rate: positiveNumber('rate', values.rate),
    photons: positiveNumber('photons', values.photons),
    oursOnly: values['ours-only']!,
    python: values.python!,
  };
}

async function trainOurs(o: Options, seed: number, noisy: Stack, patchXY: number, score: (x: Stack) => Evaluation): Promise<Run> {
  progress(`seed ${seed}, ours: training`);
  const started = performance.now();
  const result = await train([noisy], {
    model: MODEL, sink: memorySink(),
    training: {
      ...PUBLISHED_RECIPE, sampling: 'spatial', patchXY, patchT: MODEL.patchT, overlap: OVERLAP, trainSize: o.trainSize, epochs: o.epochs,
      lr: o.lr, beta1: BETAS[0], beta2: BETAS[1], scale: 1, seed, frames: null, inputs: [path.join(o.out, 'noisy.tif')],
    },
    onEvent: (e) => {
      if (e.type === 'start') progress(`seed ${seed}, ours: ${e.patches} patches per epoch, ${e.patches * e.epochs} steps`);
      if (e.type === 'epoch') progress(`seed ${seed}, ours: epoch ${e.epoch + 1}/${o.epochs}, mean loss ${e.meanLoss.toFixed(4)}`);
    },
  });
  const trainingS = (performance.now() - started) / 1000;
  progress(`seed ${seed}, ours: denoising`);
  const network = new SRDTrans(MODEL, seed);
  try {
    // Without validation the weights are the last epoch's, as train.py's state dict is.
    network.loadStateDict(result.weights!);
    const denoised = await denoiseToStack(network, noisy, { patchXY, overlap: OVERLAP, scale: 1, asFloat: true });
    const file = path.join(o.out, `ours-seed-${seed}.tif`);
    await writeStack(file, denoised);
    return { seed, side: 'ours', ...score(denoised), steps: result.losses.length, training_s: trainingS, denoised: file };
  } finally {
    network.dispose();
  }
}

async function trainTorch(
  o: Options, seed: number, noisyFile: string, patchXY: number, threads: number, score: (x: Stack) => Evaluation,
): Promise<Run> {
  const pth = path.join(o.out, `pytorch-seed-${seed}.pth`);
  const file = path.join(o.out, `pytorch-seed-${seed}.tif`);
  const shared = ['--patch-xy', String(patchXY), '--overlap', String(OVERLAP), '--threads', String(threads)];
  // train.py fixes Adam's betas at the published (0.5, 0.999) and the sampling at spatial.
  progress(`seed ${seed}, PyTorch: training (train.py reports only when done)`);
  const trained = await runPython(o.python, 'train.py', [
    noisyFile, '--out', pth, ...shared, '--patch-t', String(MODEL.patchT), '--train-size', String(o.trainSize),
    '--epochs', String(o.epochs), '--lr', String(o.lr), '--seed', String(seed),
    '--embed-dim', String(MODEL.embedDim), '--heads', String(MODEL.heads), '--mlp-dim', String(MODEL.mlpDim),
  ], tunedTorchEnvironment());
  progress(`seed ${seed}, PyTorch: ${String(trained['steps'])} steps, last loss ${Number(trained['last_loss']).toFixed(4)}; denoising`);
  await runPython(o.python, 'denoise.py', ['--model', pth, '--input', noisyFile, '--out', file, ...shared, '--float'], tunedTorchEnvironment());
  const denoised = await readStack(file);
  return { seed, side: 'pytorch', ...score(denoised), steps: Number(trained['steps']), training_s: Number(trained['train_s']), denoised: file };
}

interface Spread {
  n: number;
  mean: number | null;
  /** Sample standard deviation (n − 1); null below two values. */
  sd: number | null;
}

function spread(xs: number[]): Spread {
  const n = xs.length;
  if (n === 0) return { n, mean: null, sd: null };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const sd = n < 2 ? null : Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  return { n, mean, sd };
}

function fmtSpread(s: Spread, digits: number): string {
  if (s.mean === null) return 'n/a';
  return s.sd === null ? s.mean.toFixed(digits) : `${s.mean.toFixed(digits)} ± ${s.sd.toFixed(digits)}`;
}

function fmtR(r: number | null): string {
  return r === null ? 'n/a' : r.toFixed(3);
}

function progress(line: string): void {
  process.stderr.write(`parity: ${line}\n`);
}
