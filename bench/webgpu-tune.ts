/**
 * `npm run bench -- webgpu-tune`: the launch shapes of our WGSL convolutions
 * (src/engine/kernels/webgpu-tuning.ts) timed on this machine's WebGPU adapter, one setting at a
 * time from the defaults (each tried with the best of the ones before it), by the time of a
 * training step of the published network, the convolutions' heaviest user. With --write the
 * fastest is kept for this adapter (src/engine/webgpu-tuning-file.ts), and every later run of
 * the engine on it uses it.
 *
 *   --shape TxHxW   training patch after sampling (default 32x64x64)
 *   --repeat N      timed steps per candidate after one warm-up (default 3); the median counts
 *   --write         keep the fastest for this adapter
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { describeEngine, initEngine } from '../src/engine/backend.js';
import { registerWebGpuConvKernels } from '../src/engine/kernels/conv3d.webgpu.js';
import { DEFAULT_WEBGPU_TUNING, describeTuning, type WebGpuTuning } from '../src/engine/kernels/webgpu-tuning.js';
import { tuningFile, writeWebGpuTuning } from '../src/engine/webgpu-tuning-file.js';
import { DEFAULT_MODEL_CONFIG } from '../src/model/config.js';
import { SRDTrans } from '../src/model/srdtrans.js';
import { Adam } from '../src/train/adam.js';
import { trainStep } from '../src/train/step.js';
import { Rng } from '../src/util/rng.js';
import { BenchOptionError, positiveInt } from './options.js';
import { table } from './table.js';

/** The values tried for each setting, in the order the settings are tuned. */
const CHOICES: { [K in keyof WebGpuTuning]: readonly WebGpuTuning[K][] } = {
  convRows: [1, 2, 4],
  convQuads: [1, 2, 4],
  minThreads: [2048, 8192, 32768],
  targetWorkgroups: [512, 2048, 8192],
};

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      shape: { type: 'string', default: '32x64x64' },
      repeat: { type: 'string', default: '3' },
      write: { type: 'boolean', default: false },
    },
  });
  const dims = values.shape!.split('x').map((d) => positiveInt('shape', d));
  if (dims.length !== 3) throw new BenchOptionError(`--shape: expected TxHxW, got '${values.shape}'`);
  const [t, h, w] = dims as [number, number, number];
  const repeat = positiveInt('repeat', values.repeat);
  const engine = await initEngine('webgpu');
  const adapter = engine.adapter!;
  out(`machine: ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length}; ${describeEngine(engine)}`);
  out(`a training step of the published network on (1,1,${t},${h},${w}), median of ${repeat} after a warm-up, per candidate\n`);

  const config = { ...DEFAULT_MODEL_CONFIG, patchT: t };
  const model = new SRDTrans(config, 1);
  const adam = new Adam(model.variables, { lr: 1e-4, beta1: 0.5, beta2: 0.999 });
  const rng = new Rng(2);
  const data = () => Float32Array.from({ length: t * h * w }, () => rng.normal());
  const pair = { input: data(), targets: [data(), data()], t, h, w };
  const timeStep = async (tuning: WebGpuTuning): Promise<number> => {
    registerWebGpuConvKernels(tuning);
    await trainStep(model, adam, pair, 0); // compiles this tuning's shaders
    const times: number[] = [];
    for (let i = 0; i < repeat; i++) {
      const t0 = performance.now();
      await trainStep(model, adam, pair, i + 1);
      times.push(performance.now() - t0);
    }
    return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  };

  /** Step ms by tuning, in the order timed. */
  const timed = new Map<string, number>();
  const measure = async (tuning: WebGpuTuning): Promise<number> => {
    const key = describeTuning(tuning);
    if (!timed.has(key)) {
      const ms = await timeStep(tuning);
      timed.set(key, ms);
      out(`  ${key}: ${ms.toFixed(1)} ms`);
    }
    return timed.get(key)!;
  };
  try {
    let best = DEFAULT_WEBGPU_TUNING;
    let bestMs = await measure(best);
    for (const key of Object.keys(CHOICES) as (keyof WebGpuTuning)[]) {
      for (const value of CHOICES[key]) {
        const candidate = { ...best, [key]: value };
        const ms = await measure(candidate);
        if (ms < bestMs) [best, bestMs] = [candidate, ms];
      }
    }
    // Timed first, the defaults met a colder process than the rest: time them again.
    const defaultMs = Math.min(timed.get(describeTuning(DEFAULT_WEBGPU_TUNING))!, await timeStep(DEFAULT_WEBGPU_TUNING));
    out('\n' + table([['launch shapes', 'step ms'], ...[...timed].map(([key, ms]) => [key, ms.toFixed(1)])]));
    out(`\nfastest: ${describeTuning(best)}: ${bestMs.toFixed(1)} ms, ${(defaultMs / bestMs).toFixed(2)}× the defaults' speed`);
    if (values.write) {
      await writeWebGpuTuning(adapter, best);
      out(`kept for ${adapter} in ${tuningFile()}`);
    } else {
      out('not kept (--write keeps it for this adapter)');
    }
  } finally {
    registerWebGpuConvKernels();
    adam.dispose();
    model.dispose();
    tf.disposeVariables();
  }
}

function out(line: string): void {
  process.stdout.write(line + '\n');
}
