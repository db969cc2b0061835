import * as path from 'node:path';
import { BACKEND_CHOICES, describeEngine, initEngine, type BackendChoice } from '../engine/backend.js';
import { autoKernelThreads, startKernelThreads } from '../engine/kernel-threads.js';
import { simulateCalcium } from '../quality/simulate/calcium.js';
import { evaluate } from '../quality/metrics.js';
import { train } from '../train/loop.js';
import { denoiseToStack } from '../infer/denoise.js';
import { frameOf, type Stack } from '../data/stack.js';
import { writeStack } from '../io/tiff/index.js';
import { writeFileAtomic } from '../io/atomic.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../model/config.js';
import type { TrainingRecord } from '../io/checkpoint/model-dir.js';
import { imageMontage } from '../report/png.js';
import { SRDTrans } from '../model/srdtrans.js';
import { readWeights } from '../io/checkpoint/model-dir.js';
import { makeOutputFolder } from './output.js';
import { choiceOption, numberOption, parseCommand, stringOption, type OptionSpec } from './args.js';
import { ProgressBar, progressMode } from './progress.js';
import { formatEvaluation } from './evaluate.js';

/**
 * A network and budget sized so the whole demo takes a few minutes on two CPU cores; the
 * published architecture is the default everywhere else.
 */
const DEMO_MODEL: ModelConfig = { ...DEFAULT_MODEL_CONFIG, fMaps: [8, 16, 32, 64], embedDim: 64, heads: 4, mlpDim: 128, patchT: 32 };

const SPEC: OptionSpec = {
  out: { type: 'string', help: 'output folder', default: 'demo-output' },
  frames: { type: 'string', help: 'frames to simulate', default: 96 },
  size: { type: 'string', help: 'frame width and height to simulate', default: 64 },
  'frame-rate': { type: 'string', help: 'simulated imaging rate in Hz (SRDTrans shines at low rates)', default: 0.3 },
  photons: { type: 'string', help: 'mean photons per pixel per frame', default: 2 },
  steps: { type: 'string', help: 'training patches (steps) in all', default: 100 },
  backend: { type: 'string', help: BACKEND_CHOICES.join('|'), default: 'auto' },
  seed: { type: 'string', help: 'random seed', default: 1 },
};

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand('demo', '[--out <folder>] [options]', SPEC, args);
  if (parsed === 'help') return 0;
  const { values } = parsed;
  const out = stringOption(values, 'out') ?? 'demo-output';
  const frames = numberOption(values, 'frames', 96, { min: 32, integer: true });
  const size = numberOption(values, 'size', 64, { min: 32, integer: true });
  const steps = numberOption(values, 'steps', 100, { min: 1, integer: true });
  const seed = numberOption(values, 'seed', 1, { min: 0, integer: true });
  const started = Date.now();
  const log = (line: string) => process.stderr.write(line + '\n');
  await makeOutputFolder(out);

  const engine = await initEngine(choiceOption<BackendChoice>(values, 'backend', BACKEND_CHOICES, 'auto'));
  log(`srdtrans demo: ${describeEngine(engine)}`);
  const sim = simulateCalcium({
    shape: [frames, size, size], seed,
    frameRate: numberOption(values, 'frame-rate', 0.3, { min: 0.01, max: 1000 }),
    photons: numberOption(values, 'photons', 2, { min: 0.01 }),
  });
  log(`srdtrans demo: simulated ${frames} frames of ${size}×${size} px, ${sim.masks.count} neurons at ${sim.params.frameRate} Hz, ${sim.params.photons} photons/px`);
  await writeStack(path.join(out, 'noisy.tif'), sim.noisy);
  await writeStack(path.join(out, 'clean.tif'), sim.clean);

  const patchXY = Math.min(64, size - (size % 2));
  const training: TrainingRecord = {
    sampling: 'spatial', patchXY, patchT: DEMO_MODEL.patchT, overlap: 0.5, trainSize: steps, epochs: 1,
    lr: 1e-3, beta1: 0.5, beta2: 0.999, scale: 1, seed, frames: null, inputs: [path.join(out, 'noisy.tif')],
  };
  const modelDir = path.join(out, 'model');
  const trainBar = new ProgressBar('train', progressMode(false));
  const threads = engine.backend === 'wasm' ? autoKernelThreads() : 1;
  if (threads > 1) log(`srdtrans demo: ${threads} kernel threads`);
  const kernelThreads = await startKernelThreads(threads);
  let denoised: Stack;
  try {
    const result = await train([sim.noisy], {
      model: DEMO_MODEL, training, outDir: modelDir, names: training.inputs,
      onEvent: (e) => {
        if (e.type === 'start') log(`srdtrans demo: training ${e.parameters.toLocaleString('en')} parameters on ${e.patches} patches`);
        if (e.type === 'step') trainBar.update({ done: e.stepsDone, total: e.stepsTotal, fields: { loss: e.loss } });
      },
    });

    const model = new SRDTrans(DEMO_MODEL, seed);
    try {
      model.loadStateDict((await readWeights(result.lastCheckpoint!)).tensors);
      const bar = new ProgressBar('denoise', progressMode(false));
      denoised = await denoiseToStack(model, sim.noisy, {
        patchXY, overlap: 0.5, scale: 1, asFloat: true, onProgress: (done, total) => bar.update({ done, total }),
      });
    } finally {
      model.dispose();
    }
  } finally {
    await kernelThreads.stop();
  }
  await writeStack(path.join(out, 'denoised.tif'), denoised);

  const baseline = { baseline: sim.params.offset };
  const raw = evaluate(sim.noisy, sim.clean, sim.masks, baseline);
  const ours = evaluate(denoised, sim.clean, sim.masks, baseline);
  const seconds = (Date.now() - started) / 1000;
  const frame = Math.floor(frames / 2);
  await writeFileAtomic(path.join(out, 'comparison.png'), imageMontage(
    [
      { title: 'noisy input', frame: frameOf(sim.noisy, frame), h: size, w: size },
      { title: 'SRDTrans (ours)', frame: frameOf(denoised, frame), h: size, w: size },
      { title: 'ground truth', frame: frameOf(sim.clean, frame), h: size, w: size },
    ],
    { upscale: 'auto', title: `frame ${frame}: SNR ${raw.snr_db.toFixed(1)} dB -> ${ours.snr_db.toFixed(1)} dB` },
  ));
  await writeFileAtomic(path.join(out, 'summary.json'), JSON.stringify({ raw, denoised: ours, backend: engine.backend, seconds }, null, 2) + '\n');
  process.stdout.write(`\nraw (noisy input)\n${indent(formatEvaluation(raw))}\n\ndenoised\n${indent(formatEvaluation(ours))}\n\n`);
  log(`srdtrans demo: ${seconds.toFixed(0)} s; wrote ${out}/noisy.tif, clean.tif, denoised.tif, comparison.png, summary.json and model/`);
  return 0;
}


function indent(text: string): string {
  return text.split('\n').map((l) => `  ${l}`).join('\n');
}
