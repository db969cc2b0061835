/**
 * `npm run bench -- compare`: our network against the PyTorch reference (tools/torch-reference)
 * at the same shapes, in one invocation. Python runs as a subprocess that prints JSON.
 *
 *   --rows forward,forward-onnx,step-32,step-128,train,denoise   which rows (default: all;
 *                       forward-onnx: the eval forward as `srdtrans denoise` runs it on a CPU)
 *   --repeat N          timed runs per micro row, after one warm-up run (default 3); medians
 *   --command-repeat N  runs per whole-command row, each timed, median (default 1; no warm-up:
 *                       start-up is part of a command's time)
 *   --backend wasm[,webgpu]   our backend(s) (default wasm)
 *   --denoise-backend B  `srdtrans denoise --backend` of the denoise row (default auto: what a
 *                       user gets: ONNX Runtime on a CPU-only machine)
 *   --threads N         torch.set_num_threads, and our wasm kernel threads (default 2)
 *   --train-steps N     steps of the train row (default 50)
 *   --python PATH       Python with torch and NumPy 1.x (default /usr/bin/python3)
 *   --torch-eval-mode / --torch-train-mode   conv mode of the reference (tools/torch-reference/runtime.py)
 *   --torch-env NAME    allocator and OpenMP settings of the reference (default tuned: the fastest
 *                       `npm run bench -- torch-env` found; bench/torch.ts lists the choices)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { describeEngine, initEngine, type BackendName } from '../src/engine/backend.js';
import { startKernelThreads } from '../src/engine/kernel-threads.js';
import { readStack } from '../src/io/tiff/index.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../src/model/config.js';
import { SRDTrans } from '../src/model/srdtrans.js';
import { Adam } from '../src/train/adam.js';
import { trainStep } from '../src/train/step.js';
import { Rng } from '../src/util/rng.js';
import { inferenceGrid } from '../src/data/patches.js';
import { onnxNetwork } from '../src/infer/onnx-network.js';
import { forwardFlops, trainStepFlops } from './flops.js';
import { BenchOptionError, listOf, positiveInt } from './options.js';
import { table as markdownTable } from './table.js';
import { describeEnvironment, probeTorch, REFERENCE, runPython, torchEnvironments, tunedTorchEnvironment, type TorchEnvironment } from './torch.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'srdtrans.js');
// train before denoise: the denoise row then uses the model the train row made.
const ROW_IDS = ['forward', 'forward-onnx', 'step-32', 'step-128', 'train', 'denoise'] as const;
type RowId = (typeof ROW_IDS)[number];

/** The denoise row: a 64×256×256 uint16 stack, patch 128, overlap 0.5, patch_t 32. */
const DENOISE = { frames: 64, size: 256, patchXY: 128, overlap: 0.5 };
/** The train row: published patch 128 (network input 64×64 after sampling), patch_t 32. */
const TRAIN = { patchXY: 128, patchT: 32 };

interface Options {
  rows: RowId[];
  repeat: number;
  commandRepeat: number;
  backends: BackendName[];
  threads: number;
  trainSteps: number;
  python: string;
  /** `srdtrans denoise --backend` of the denoise row. */
  denoiseBackend: string;
  evalMode: string;
  trainMode: string;
  /** Allocator and OpenMP settings of the reference's processes (bench/torch.ts). */
  torchEnv: TorchEnvironment;
}

interface Result {
  row: string;
  backend: string;
  ours: number | null;
  torch: number | null;
  gflop: number;
}

export async function main(args: string[]): Promise<void> {
  const opts = parseOptions(args);
  const torch = probeTorch(opts.python);
  const load = os.loadavg().map((v) => v.toFixed(2)).join(' ');
  out(`machine: ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length}, load average ${load} at start, Node ${process.version}`);
  out(torch.ok
    ? `PyTorch: ${torch.detail}; ${opts.threads} threads (torch.set_num_threads); conv mode eval '${opts.evalMode}', training '${opts.trainMode}'; ` +
      `environment ${describeEnvironment(opts.torchEnv)} (--torch-env; npm run bench -- torch-env measures the choices)`
    : `PyTorch: not available (${torch.detail}); printing ours alone`);
  out(`ours: wasm with ${opts.threads} kernel thread${opts.threads > 1 ? 's' : ''} (src/engine/kernel-threads.ts; srdtrans train --threads ${opts.threads}), as many as PyTorch's; webgpu when selected`);
  out('FLOPs: analytic per layer (bench/flops.ts), multiply-add = 2; convolutions, linears, attention products; element-wise work left out; a training step = 3 × forward\n');

  const work = mkdtempSync(path.join(os.tmpdir(), 'srdtrans-compare-'));
  const results: Result[] = [];
  const notes: string[] = [];
  try {
    const torchMs = new Map<RowId, number | null>();
    const torchTime = async (row: RowId, f: () => Promise<number>): Promise<number | null> => {
      if (!torch.ok) return null;
      if (!torchMs.has(row)) torchMs.set(row, await f());
      return torchMs.get(row)!;
    };
    let trainedModel: string | undefined;
    for (const backend of opts.backends) {
      out(`${describeEngine(await initEngine(backend))}`);
      const kernelThreads = await startKernelThreads(backend === 'wasm' ? opts.threads : 1);
      try {
        for (const row of opts.rows) {
          let r: Awaited<ReturnType<typeof runRow>>;
          try {
            r = await runRow(row, backend, opts, work, torchTime, notes, trainedModel);
          } catch (err) {
            // One failing row (say, out of memory) should not cost the others' figures.
            notes.push(`${row} [${backend}]: failed: ${(err as Error).message.split('\n').slice(0, 3).join(' / ')}`);
            out(`  ${row} [${backend}]: failed (see notes)`);
            continue;
          }
          if (r.trainedModel) trainedModel = r.trainedModel;
          results.push(r.result);
          out(`  ${r.result.row} [${r.result.backend}]: ours ${fmt(r.result.ours)} ms, PyTorch ${fmt(r.result.torch)} ms (load ${os.loadavg()[0]!.toFixed(2)})`);
        }
      } finally {
        await kernelThreads.stop();
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  out('\n' + table(results));
  for (const n of notes) out(n);
  out(`load average at end: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
}

function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      rows: { type: 'string', default: ROW_IDS.join(',') },
      repeat: { type: 'string', default: '3' },
      'command-repeat': { type: 'string', default: '1' },
      backend: { type: 'string', default: 'wasm' },
      'denoise-backend': { type: 'string', default: 'auto' },
      threads: { type: 'string', default: '2' },
      'train-steps': { type: 'string', default: '50' },
      python: { type: 'string', default: '/usr/bin/python3' },
      'torch-eval-mode': { type: 'string', default: 'to-mkldnn' },
      'torch-train-mode': { type: 'string', default: 'onednn' },
      'torch-env': { type: 'string', default: 'tuned' },
    },
  });
  const rows = listOf('rows', values.rows, ROW_IDS);
  rows.sort((a, b) => ROW_IDS.indexOf(a) - ROW_IDS.indexOf(b));
  const backends = listOf<BackendName>('backend', values.backend, ['wasm', 'webgpu', 'cpu']);
  const int = positiveInt;
  return {
    rows, backends, python: values.python!, denoiseBackend: values['denoise-backend']!,
    repeat: int('repeat', values.repeat), commandRepeat: int('command-repeat', values['command-repeat']),
    threads: int('threads', values.threads), trainSteps: int('train-steps', values['train-steps']),
    evalMode: values['torch-eval-mode']!, trainMode: values['torch-train-mode']!, torchEnv: torchEnvironment(values['torch-env']!),
  };
}

function torchEnvironment(name: string): TorchEnvironment {
  if (name === 'tuned') return tunedTorchEnvironment();
  const found = torchEnvironments().find((e) => e.name === name);
  if (!found) throw new BenchOptionError(`--torch-env: expected tuned or one of ${torchEnvironments().map((e) => `'${e.name}'`).join(', ')}, got '${name}'`);
  return found;
}

type TorchTime = (row: RowId, f: () => Promise<number>) => Promise<number | null>;

async function runRow(
  row: RowId, backend: BackendName, o: Options, work: string, torchTime: TorchTime, notes: string[], trainedModel: string | undefined,
): Promise<{ result: Result; trainedModel?: string }> {
  const cfg = (t: number): ModelConfig => ({ ...DEFAULT_MODEL_CONFIG, fMaps: [...DEFAULT_MODEL_CONFIG.fMaps], patchT: t });
  const py = (script: string, args: string[]) => runPython(o.python, script, args, o.torchEnv);
  if (row === 'forward' || row === 'forward-onnx') {
    const [t, h, w] = [32, 128, 128];
    const ours = median(await (row === 'forward' ? oursForward(cfg(t), h, w, o.repeat) : onnxForward(cfg(t), h, w, o)));
    // One PyTorch figure for both rows: the reference is the same.
    const torch = await torchTime('forward', async () => (await py('bench.py', ['forward', '--shape', `1,1,${t},${h},${w}`, ...common(o, o.evalMode)])).median_ms as number);
    return { result: { row: `eval forward (1,1,${t},${h},${w})`, backend: row === 'forward' ? backend : 'onnx', ours, torch, gflop: forwardFlops(cfg(t), h, w) / 1e9 } };
  }
  if (row === 'step-32' || row === 'step-128') {
    const [t, h, w] = [row === 'step-32' ? 32 : 128, 64, 64];
    const ours = median(await oursStep(cfg(t), h, w, o.repeat));
    const torch = await torchTime(row, async () => (await py('bench.py', ['step', '--shape', `1,1,${t},${h},${w}`, ...common(o, o.trainMode)])).median_ms as number);
    return { result: { row: `train step (1,1,${t},${h},${w})`, backend, ours, torch, gflop: trainStepFlops(cfg(t), h, w) / 1e9 } };
  }
  if (row === 'train') {
    const stack = await simulated(work, 'train-stack', TRAIN.patchT + o.trainSteps - 1, TRAIN.patchXY);
    const dir = path.join(work, `ours-train-${backend}`);
    const trainArgs = ['--patch-xy', String(TRAIN.patchXY), '--patch-t', String(TRAIN.patchT), '--train-size', String(o.trainSteps), '--epochs', '1'];
    const ours = median(await repeatCommand(o.commandRepeat, async (i) => {
      const target = `${dir}-${i}`;
      const ms = await timedCommand(process.execPath, [BIN, 'train', stack, '--out', target, ...trainArgs, '--backend', backend, '--threads', String(o.threads)]);
      return ms;
    }));
    const torch = await torchTime(row, async () => median(await repeatCommand(o.commandRepeat, async (i) =>
      timedCommand(o.python, [path.join(REFERENCE, 'train.py'), stack, '--out', path.join(work, `torch-train-${i}.pth`), ...trainArgs, ...common(o, o.trainMode)], o.torchEnv.env))));
    notes.push(`train: ${o.trainSteps} patches of ${TRAIN.patchT}×${TRAIN.patchXY}×${TRAIN.patchXY} (network input ${TRAIN.patchT}×${TRAIN.patchXY / 2}×${TRAIN.patchXY / 2}), one epoch; both sides build the published grid from --train-size ${o.trainSteps}`);
    return {
      result: { row: `srdtrans train, ${o.trainSteps} steps (whole command)`, backend, ours, torch, gflop: (o.trainSteps * trainStepFlops(cfg(TRAIN.patchT), TRAIN.patchXY / 2, TRAIN.patchXY / 2)) / 1e9 },
      trainedModel: `${dir}-0`,
    };
  }
  // denoise
  const stack = await simulated(work, 'denoise-stack', DENOISE.frames, DENOISE.size);
  const pth = path.join(work, 'model.pth');
  if (!trainedModel) {
    // No train row: a default model (patch_t 32) from a one-patch training run.
    const small = await simulated(work, 'one-patch', TRAIN.patchT, TRAIN.patchXY);
    trainedModel = path.join(work, 'one-step-model');
    await timedCommand(process.execPath, [BIN, 'train', small, '--out', trainedModel, '--patch-xy', String(TRAIN.patchXY), '--patch-t', String(TRAIN.patchT), '--train-size', '1', '--epochs', '1', '--backend', backend]);
  }
  await timedCommand(process.execPath, [BIN, 'export', '--pth', pth, '--model', trainedModel]);
  const denoiseArgs = ['--patch-xy', String(DENOISE.patchXY), '--overlap', String(DENOISE.overlap)];
  const denoiseBackend = o.denoiseBackend;
  const oursOut = path.join(work, `ours-${denoiseBackend}.tif`);
  const torchOut = path.join(work, 'torch.tif');
  const ours = median(await repeatCommand(o.commandRepeat, () =>
    timedCommand(process.execPath, [BIN, 'denoise', stack, '--model', pth, '--out', oursOut, ...denoiseArgs, '--backend', denoiseBackend])));
  const torch = await torchTime(row, async () => median(await repeatCommand(o.commandRepeat, () =>
    timedCommand(o.python, [path.join(REFERENCE, 'denoise.py'), '--model', pth, '--input', stack, '--out', torchOut, ...denoiseArgs, ...common(o, o.evalMode)], o.torchEnv.env))));
  const patches = inferenceGrid([DENOISE.frames, DENOISE.size, DENOISE.size], { patchXY: DENOISE.patchXY, patchT: TRAIN.patchT, overlap: DENOISE.overlap }).length;
  if (torch !== null) notes.push(`denoise [${denoiseBackend}]: ${await outputDifference(oursOut, torchOut)} (same .pth, same stack)`);
  return {
    result: { row: `srdtrans denoise ${DENOISE.frames}×${DENOISE.size}×${DENOISE.size}, ${patches} patches (whole command)`, backend: denoiseBackend, ours, torch, gflop: (patches * forwardFlops(cfg(TRAIN.patchT), DENOISE.patchXY, DENOISE.patchXY)) / 1e9 },
    trainedModel,
  };
}

function common(o: Options, mode: string): string[] {
  return ['--threads', String(o.threads), '--conv-mode', mode];
}

/** Median ms of eval forward passes on [1, T, H, W] after one warm-up pass. */
async function oursForward(c: ModelConfig, h: number, w: number, repeat: number): Promise<number[]> {
  const model = new SRDTrans(c, 1);
  const rng = new Rng(2);
  const x = tf.tensor4d(Float32Array.from({ length: c.patchT * h * w }, () => rng.normal()), [1, c.patchT, h, w]);
  try {
    return await timed(repeat, async () => {
      const y = tf.tidy(() => model.apply(x));
      await y.data();
      y.dispose();
    });
  } finally {
    x.dispose();
    model.dispose();
  }
}

/**
 * Eval forward passes through ONNX Runtime, as `srdtrans denoise` runs them on a CPU (src/infer/
 * onnx-network.ts, with the kernel threads' count as its intra-op threads).
 */
async function onnxForward(c: ModelConfig, h: number, w: number, o: Options): Promise<number[]> {
  const model = new SRDTrans(c, 1);
  const network = await onnxNetwork(c, await model.stateDict(), { patchXY: h, threads: o.threads });
  model.dispose();
  const rng = new Rng(2);
  const x = Float32Array.from({ length: c.patchT * h * w }, () => rng.normal());
  try {
    return await timed(o.repeat, async () => {
      await network.run(x, { t: c.patchT, h, w });
    });
  } finally {
    await network.dispose();
  }
}

/** Training steps (forward, published loss, backward, Adam) through src/train/step.ts. */
async function oursStep(c: ModelConfig, h: number, w: number, repeat: number): Promise<number[]> {
  const model = new SRDTrans(c, 1);
  const adam = new Adam(model.variables, { lr: 1e-4, beta1: 0.5, beta2: 0.999 });
  const rng = new Rng(2);
  const data = () => Float32Array.from({ length: c.patchT * h * w }, () => rng.normal());
  const pair = { input: data(), targets: [data(), data()], t: c.patchT, h, w };
  let seed = 0;
  try {
    return await timed(repeat, async () => {
      await trainStep(model, adam, pair, seed++);
    });
  } finally {
    adam.dispose();
    model.dispose();
  }
}

async function timed(repeat: number, f: () => Promise<void>): Promise<number[]> {
  await f(); // warm-up: kernel set-up, heap growth, shader compilation
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    await f();
    times.push(performance.now() - t0);
  }
  return times;
}

async function repeatCommand(n: number, f: (i: number) => Promise<number>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) times.push(await f(i));
  return times;
}

/** Wall time of a command in ms; throws with its stderr tail if it fails. */
function timedCommand(cmd: string, args: string[], env: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(performance.now() - t0);
      else reject(new Error(`${path.basename(cmd)} ${args.slice(0, 3).join(' ')} ... exited with ${code}\n${stderr}`));
    });
  });
}

async function simulated(work: string, name: string, frames: number, size: number): Promise<string> {
  const dir = path.join(work, name);
  await timedCommand(process.execPath, [BIN, 'simulate', 'calcium', '--out', dir, '--frames', String(frames), '--size', String(size), '--photons', '30']);
  return path.join(dir, 'noisy.tif');
}

async function outputDifference(a: string, b: string): Promise<string> {
  const [x, y] = [await readStack(a), await readStack(b)];
  let max = 0;
  let differing = 0;
  for (let i = 0; i < x.data.length; i++) {
    const d = Math.abs(x.data[i]! - y.data[i]!);
    if (d > 0) differing++;
    if (d > max) max = d;
  }
  return `${x.dtype} outputs differ by at most ${max} count(s); ${differing} of ${x.data.length} voxels (${((100 * differing) / x.data.length).toFixed(4)} %) differ`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function fmt(v: number | null): string {
  return v === null ? 'n/a' : v.toFixed(0);
}

function table(results: Result[]): string {
  const gfs = (gflop: number, ms: number | null) => (ms === null ? 'n/a' : (gflop / (ms / 1e3)).toFixed(2));
  const rows = [
    ['row', 'backend', 'ours ms', 'PyTorch ms', 'ratio ours/PyTorch', 'GFLOP', 'ours GFLOP/s', 'PyTorch GFLOP/s'],
    ...results.map((r) => [
      r.row, r.backend, fmt(r.ours), fmt(r.torch), r.ours !== null && r.torch !== null ? (r.ours / r.torch).toFixed(2) : 'n/a',
      r.gflop.toFixed(1), gfs(r.gflop, r.ours), gfs(r.gflop, r.torch),
    ]),
  ];
  return markdownTable(rows);
}

function out(line: string): void {
  process.stdout.write(line + '\n');
}
