import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BACKEND_CHOICES, describeEngine, initEngine, type BackendChoice } from '../engine/backend.js';
import { autoKernelThreads, startKernelThreads } from '../engine/kernel-threads.js';
import { simulateCalcium } from '../quality/simulate/calcium.js';
import { evaluate } from '../quality/metrics.js';
import { train } from '../train/loop.js';
import { denoiseToStack } from '../infer/denoise.js';
import type { Stack } from '../data/stack.js';
import { writeStack } from '../io/tiff/index.js';
import { writeFileAtomic } from '../io/atomic.js';
import { modelFolder } from '../io/checkpoint/model-folder.js';
import { SCHEDULE_KINDS, type ScheduleKind } from '../train/schedule.js';
import { comparisonFigure } from '../report/comparison.js';
import { SRDTrans } from '../model/srdtrans.js';
import { resolveModel } from '../io/checkpoint/model-dir.js';
import { ConfigError } from '../errors.js';
import type { StateDict } from '../model/params.js';
import { makeOutputFolder } from './output.js';
import { choiceOption, numberOption, parseCommand, stringOption, type OptionSpec } from './args.js';
import { ProgressBar, progressMode } from './progress.js';
import { formatEvaluation, formatGains } from '../quality/format.js';
import { DEMO_MODEL, DEMO_RECIPE, DEMO_STACK, demoDenoisePatchXY, demoTraining, isDemoModel } from '../quality/demo.js';

const SPEC: OptionSpec = {
  out: { type: 'string', help: 'output folder', default: 'demo-output' },
  frames: { type: 'string', help: 'frames to simulate', default: DEMO_STACK.frames },
  size: { type: 'string', help: 'frame width and height to simulate', default: DEMO_STACK.size },
  'frame-rate': { type: 'string', help: 'simulated imaging rate in Hz (SRDTrans shines at low rates)', default: DEMO_STACK.frameRate },
  photons: { type: 'string', help: 'mean photons per pixel per frame', default: DEMO_STACK.photons },
  steps: { type: 'string', help: 'about how many training steps (patches) in all (the patch grid rounds it)', default: DEMO_RECIPE.steps },
  epochs: { type: 'string', help: 'epochs the steps are split into, each scored on held-out patches', default: DEMO_RECIPE.epochs },
  schedule: { type: 'string', help: `learning rate: ${SCHEDULE_KINDS.join('|')} (cosine with a 3 % warm-up; README compares them)`, default: 'constant' },
  backend: { type: 'string', help: BACKEND_CHOICES.join('|'), default: 'auto' },
  seed: { type: 'string', help: 'random seed (simulation and training)', default: 1 },
  lr: { type: 'string', help: 'Adam learning rate, constant (or the cosine schedule\'s peak)', default: DEMO_RECIPE.lr },
  'from-scratch': { type: 'boolean', help: 'start from random weights instead of fine-tuning the bundled prior (models/demo-prior)' },
};

/**
 * The small model the demo fine-tunes by default: trained by tools/train-demo-prior.sh, self-
 * supervised, on simulated recordings with other seeds (101–104), so the demo's stack is new to it.
 */
const PRIOR_DIR = fileURLToPath(new URL('../../models/demo-prior/', import.meta.url));

interface Start {
  kind: 'prior' | 'scratch';
  weights?: StateDict;
  file: string | null;
}

async function startingPoint(fromScratch: boolean): Promise<Start> {
  if (fromScratch) return { kind: 'scratch', file: null };
  const prior = await resolveModel(PRIOR_DIR).catch(() => {
    throw new ConfigError(`${PRIOR_DIR}: the demo's prior model is missing or unreadable; run 'bash tools/train-demo-prior.sh', or pass --from-scratch`);
  });
  if (!isDemoModel(prior.record.model)) {
    throw new ConfigError(`${PRIOR_DIR}: its architecture is not the demo's; retrain it with 'bash tools/train-demo-prior.sh', or pass --from-scratch`);
  }
  return { kind: 'prior', weights: await prior.load(), file: path.relative(process.cwd(), prior.weightsFile) };
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand('demo', '[--out <folder>] [options]', SPEC, args);
  if (parsed === 'help') return 0;
  const { values } = parsed;
  const out = stringOption(values, 'out') ?? 'demo-output';
  const frames = numberOption(values, 'frames', DEMO_STACK.frames, { min: 32, integer: true });
  const size = numberOption(values, 'size', DEMO_STACK.size, { min: 32, integer: true });
  const steps = numberOption(values, 'steps', DEMO_RECIPE.steps, { min: 1, integer: true });
  const epochs = numberOption(values, 'epochs', Math.min(DEMO_RECIPE.epochs, steps), { min: 1, max: steps, integer: true });
  const seed = numberOption(values, 'seed', 1, { min: 0, integer: true });
  const frameRate = numberOption(values, 'frame-rate', DEMO_STACK.frameRate, { min: 0.01, max: 1000 });
  const photons = numberOption(values, 'photons', DEMO_STACK.photons, { min: 0.01 });
  const schedule = choiceOption<ScheduleKind>(values, 'schedule', SCHEDULE_KINDS, 'constant');
  const backend = choiceOption<BackendChoice>(values, 'backend', BACKEND_CHOICES, 'auto');
  const start = await startingPoint(values['from-scratch'] === true);
  const lr = numberOption(values, 'lr', DEMO_RECIPE.lr, { min: 0 });
  const started = Date.now();
  const log = (line: string) => process.stderr.write(line + '\n');
  await makeOutputFolder(out);

  const engine = await initEngine(backend);
  log(`srdtrans demo: ${describeEngine(engine)}`);
  const sim = simulateCalcium({ shape: [frames, size, size], seed, frameRate, photons });
  log(`srdtrans demo: simulated ${frames} frames of ${size}×${size} px, ${sim.masks.count} neurons at ${frameRate} Hz, ${photons} photons/px`);
  const files = { noisy: path.join(out, 'noisy.tif'), clean: path.join(out, 'clean.tif'), denoised: path.join(out, 'denoised.tif'), figure: path.join(out, 'comparison.png') };
  await writeStack(files.noisy, sim.noisy);
  await writeStack(files.clean, sim.clean);

  const training = demoTraining({ size, steps, epochs, seed, schedule, lr, inputs: [files.noisy], init: start.file });
  const { patchXY } = training;
  const modelDir = path.join(out, 'model');
  const trainBar = new ProgressBar('train', progressMode(false));
  const threads = engine.backend === 'wasm' ? autoKernelThreads() : 1;
  if (threads > 1) log(`srdtrans demo: ${threads} kernel threads`);
  const kernelThreads = await startKernelThreads(threads);
  let denoised: Stack;
  let bestEpoch: number | null = null;
  let trained = 0;
  try {
    const result = await train([sim.noisy], {
      model: DEMO_MODEL, training, sink: modelFolder(modelDir), names: training.inputs, init: start.weights,
      onEvent: (e) => {
        if (e.type === 'start') {
          const how = start.kind === 'prior' ? `fine-tuning the bundled prior (${start.file}, trained on other simulated recordings)` : 'training from random weights';
          log(`srdtrans demo: ${how}, ${e.parameters.toLocaleString('en')} parameters, on the noisy stack alone: ${e.epochs} epochs of ${e.patches} patches (+${e.validationPatches} held out)`);
        }
        if (e.type === 'step') {
          const fields = { epoch: `${e.epoch + 1}/${e.epochs}`, loss: e.loss, ...(e.valLoss === null ? {} : { val: e.valLoss }) };
          trainBar.update({ done: e.stepsDone, total: e.stepsTotal, fields });
        }
      },
    });
    bestEpoch = result.best?.epoch ?? null;
    trained = result.losses.length;
    const model = new SRDTrans(DEMO_MODEL, seed);
    try {
      model.loadStateDict(result.weights!);
      const bar = new ProgressBar('denoise', progressMode(false));
      denoised = await denoiseToStack(model, sim.noisy, {
        patchXY: demoDenoisePatchXY(size), overlap: 0.5, scale: 1, asFloat: true, onProgress: (done, total) => bar.update({ done, total }),
      });
    } finally {
      model.dispose();
    }
  } finally {
    await kernelThreads.stop();
  }
  await writeStack(files.denoised, denoised);

  const baseline = { baseline: sim.params.offset };
  const raw = evaluate(sim.noisy, sim.clean, sim.masks, baseline);
  const ours = evaluate(denoised, sim.clean, sim.masks, baseline);
  const frame = Math.floor(frames / 2);
  await writeFileAtomic(files.figure, comparisonFigure({
    noisy: sim.noisy, outputs: [{ title: 'denoised', stack: denoised }], clean: sim.clean, labels: sim.masks.labels, frame, frameRate,
    title: `frame ${frame} of ${frames}: SNR ${raw.snr_db.toFixed(1)} -> ${ours.snr_db.toFixed(1)} dB, SSIM ${raw.ssim.toFixed(2)} -> ${ours.ssim.toFixed(2)}`,
  }));
  const seconds = (Date.now() - started) / 1000;
  const record = {
    start: start.kind, init: start.file, steps: trained, epochs, bestEpoch, lr: training.lr, schedule: training.schedule, patchXY, model: DEMO_MODEL,
  };
  await writeFileAtomic(path.join(out, 'summary.json'), JSON.stringify({ raw, denoised: ours, backend: engine.backend, seconds, seed, training: record }, null, 2) + '\n');
  process.stdout.write([
    '', 'raw (noisy input)', indent(formatEvaluation(raw)), '',
    `denoised (${bestEpoch === null ? `last epoch, ${epochs}` : `best epoch by validation loss, ${bestEpoch}`} of ${epochs}; ${start.kind === 'prior' ? 'the bundled prior fine-tuned for ' : ''}${trained} steps on this noisy stack alone)`,
    indent(formatEvaluation(ours)), '', formatGains(raw, ours), '',
    `figure   ${files.figure}`, `stacks   ${files.noisy}, ${files.denoised}, ${files.clean} (ground truth)`,
    `model    ${modelDir}`, `time     ${seconds.toFixed(0)} s on ${engine.backend}`, '',
  ].join('\n'));
  return 0;
}

function indent(text: string): string {
  return text.split('\n').map((l) => `  ${l}`).join('\n');
}
