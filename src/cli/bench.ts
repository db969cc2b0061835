import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import { BACKEND_CHOICES, describeEngine, initEngine, type BackendChoice } from '../engine/backend.js';
import { autoKernelThreads, startKernelThreads } from '../engine/kernel-threads.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../model/config.js';
import {
  calciumConditions, METHODS, paperConditions, paperRawSnr, runQualityBenchmark, SMLM_CONDITION,
  type Condition, type ConditionResult, type ModelPlace,
} from '../quality/benchmark.js';
import type { Evaluation } from '../quality/metrics.js';
import { ORACLE_MAX_WORK } from '../quality/oracle.js';
import type { SamplingStrategy } from '../data/patches.js';
import { SCHEDULE_KINDS, type ScheduleKind } from '../train/schedule.js';
import { writeFileAtomic } from '../io/atomic.js';
import { modelFolder } from '../io/checkpoint/model-folder.js';
import { isFile, resolveModel, RESUME_FILE } from '../io/checkpoint/model-dir.js';
import { figure, imageMontage, legendRaster, PALETTE, plotRaster } from '../report/png.js';
import { comparisonFigure } from '../report/comparison.js';
import { makeOutputFolder } from './output.js';
import { choiceOption, numberOption, parseCommand, stringOption, type OptionSpec } from './args.js';
import { ProgressBar, progressMode } from './progress.js';

/** Small enough to train several times on two CPU cores; `--full` takes the published one. */
const CPU_MODEL: ModelConfig = { ...DEFAULT_MODEL_CONFIG, embedDim: 64, heads: 4, mlpDim: 128, patchT: 32 };

/**
 * Settings of a plain run (minutes: too few steps for the learned methods to win) and of
 * `--paper` (the paper's noise levels; every model trained until its validation loss is flat,
 * hours on two CPU cores). 32-pixel patches: a third of a 64-pixel step's time on the CPU. The
 * demo's 5e-4 is stable for its ~900 steps but not for thousands: at the paper's noise level a
 * run spiked to a loss of 10⁵ after 650 steps and never came back below its epoch-2 validation
 * loss; 2e-4 is the rate `npm run bench -- budget` trained stably to plateau with.
 */
const PRESETS = {
  plain: { rates: '0.3,1,10,30', frames: 128, size: 64, steps: 150, epochs: 1, patience: 0, lr: 2e-4, patchXY: 64 },
  paper: { rates: '0.3,1,3,10,30', frames: 200, size: 96, steps: 9000, epochs: 45, patience: 4, lr: 2e-4, patchXY: 32 },
} as const;

const SPEC: OptionSpec = {
  out: { type: 'string', help: 'folder for results.md, results.json, the figures (and models/ with --paper)', default: 'quality-output' },
  paper: { type: 'boolean', help: 'the SRDTrans paper\'s comparison: raw SNR -1 dB at 0.3 Hz to +1 dB at 30 Hz, models trained until flat (hours on a CPU; continue with --resume)' },
  resume: { type: 'boolean', help: 'continue the models that an interrupted run left in --out/models' },
  rates: { type: 'string', help: 'calcium frame rates in Hz', default: `${PRESETS.plain.rates} (--paper: ${PRESETS.paper.rates})` },
  photons: { type: 'string', help: 'mean photons per pixel per frame (--paper: set per rate for the paper\'s raw SNR)', default: 2 },
  'no-smlm': { type: 'boolean', help: 'leave out the SMLM condition (--paper leaves it out)' },
  frames: { type: 'string', help: 'frames per simulated stack', default: `${PRESETS.plain.frames} (--paper: ${PRESETS.paper.frames})` },
  size: { type: 'string', help: 'frame width and height', default: `${PRESETS.plain.size} (--paper: ${PRESETS.paper.size})` },
  steps: { type: 'string', help: 'training steps per learned model, at most', default: `${PRESETS.plain.steps} (--paper: ${PRESETS.paper.steps})` },
  epochs: { type: 'string', help: 'epochs the steps are split into, each scored on held-out patches', default: `${PRESETS.plain.epochs} (--paper: ${PRESETS.paper.epochs})` },
  patience: { type: 'string', help: 'stop a model once its validation loss is flat for this many epochs (0: never)', default: `${PRESETS.plain.patience} (--paper: ${PRESETS.paper.patience})` },
  // 1e-3 learns faster but diverged after ~150 steps in a 600-step run; 2e-4 stayed stable.
  lr: { type: 'string', help: 'Adam learning rate of the learned methods', default: `${PRESETS.plain.lr} (--paper: ${PRESETS.paper.lr})` },
  'patch-xy': { type: 'string', help: 'training patch width and height', default: `${PRESETS.plain.patchXY} (--paper: ${PRESETS.paper.patchXY})` },
  full: { type: 'boolean', help: 'published network size and patch_t 32 (for a GPU)' },
  sampling: { type: 'string', help: 'the learned methods to train: spatial|temporal|both', default: 'both' },
  schedule: { type: 'string', help: 'learning rate over a run: constant (published)|cosine', default: 'constant' },
  backend: { type: 'string', help: BACKEND_CHOICES.join('|'), default: 'auto' },
  seed: { type: 'string', help: 'random seed', default: 1 },
};

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand('bench', 'quality [--out <folder>] [--paper [--resume]] [options]', SPEC, args);
  if (parsed === 'help') return 0;
  const { values, positionals } = parsed;
  if (positionals[0] !== 'quality') throw new ConfigError("bench: the benchmark to run is 'quality' (speed benchmarks: npm run bench)");
  const paper = values['paper'] === true;
  const resume = values['resume'] === true;
  const preset = paper ? PRESETS.paper : PRESETS.plain;
  const out = stringOption(values, 'out') ?? 'quality-output';
  const rates = (values['rates'] === undefined ? preset.rates : stringOption(values, 'rates')!).split(',').map(Number);
  if (rates.some((r) => !(r > 0 && r <= 1000))) throw new ConfigError('--rates: expected comma-separated frame rates in Hz, e.g. 0.3,1,10,30');
  const model = values['full'] === true ? { ...DEFAULT_MODEL_CONFIG, patchT: 32 } : CPU_MODEL;
  const opt = (name: string, fallback: number, min: number, integer = true) => numberOption(values, name, fallback, { min, integer });
  const size = opt('size', preset.size, 32);
  const frames = opt('frames', preset.frames, 2 * model.patchT);
  const steps = opt('steps', preset.steps, 1);
  const epochs = opt('epochs', Math.min(preset.epochs, steps), 1);
  const patience = opt('patience', preset.patience, 0);
  const lr = opt('lr', preset.lr, 0, false);
  const patchXY = Math.min(opt('patch-xy', preset.patchXY, 2), size - (size % 2));
  const seed = numberOption(values, 'seed', 1, { min: 0, integer: true });
  const sampling = choiceOption(values, 'sampling', ['spatial', 'temporal', 'both'] as const, 'both');
  const samplings: SamplingStrategy[] = sampling === 'both' ? ['spatial', 'temporal'] : [sampling];
  const schedule = choiceOption<ScheduleKind>(values, 'schedule', SCHEDULE_KINDS, 'constant');
  const modelsDir = path.join(out, 'models');
  if (!resume && (await fs.readdir(modelsDir).catch(() => [])).length > 0) {
    throw new ConfigError(`--out ${out}: already holds models from an earlier run (${modelsDir}); continue it with --resume, or choose a new folder`);
  }
  await makeOutputFolder(out);
  const engine = await initEngine(choiceOption<BackendChoice>(values, 'backend', BACKEND_CHOICES, 'auto'));
  const log = (line: string) => process.stderr.write(line + '\n');
  log(`srdtrans bench quality: ${describeEngine(engine)}`);
  const shape = [frames, size, size] as const;
  let conditions: Condition[];
  const conditionsFile = path.join(out, 'conditions.json');
  if (paper && values['photons'] === undefined) {
    // The search simulates each stack ~14 times (minutes): a resumed run reuses what it found.
    const saved = resume ? await readConditions(conditionsFile) : [];
    const missing = rates.filter((r) => !saved.some((c) => c.frameRate === r));
    if (missing.length > 0) {
      log(`srdtrans bench quality: finding the photon levels that give the paper's raw SNR (${missing.map((r) => `${paperRawSnr(r).toFixed(1)} dB at ${r} Hz`).join(', ')})`);
    }
    const found = paperConditions(missing, shape, seed);
    conditions = rates.map((r) => [...saved, ...found].find((c) => c.frameRate === r)!);
    await writeFileAtomic(conditionsFile, JSON.stringify(conditions, null, 2) + '\n');
  } else {
    conditions = calciumConditions(rates, opt('photons', 2, 0.01, false));
  }
  if (!paper && values['no-smlm'] !== true) conditions.push(SMLM_CONDITION);

  const bars = new Map<string, ProgressBar>();
  const started = Date.now();
  const kernelThreads = await startKernelThreads(engine.backend === 'wasm' ? autoKernelThreads() : 1);
  try {
    // One condition at a time, the report rewritten after each: a long run shows what it has so far.
    const results: ConditionResult[] = [];
    for (const condition of conditions) {
      results.push(...await runQualityBenchmark({
        conditions: [condition], frames, size, steps, epochs, patience, lr, schedule, samplings, model, patchXY, seed,
        place: paper || resume ? (key) => modelPlace(path.join(modelsDir, slug(key)), resume) : undefined,
        onEvent: (e) => {
          if (e.type === 'condition') log(`\n${e.condition.name}${e.condition.photons === null ? '' : `, ${e.condition.photons} photons/px`}`);
          if (e.type === 'method') log(`  ${e.method.padEnd(34)} ${formatScores(e.evaluation)}${e.steps === null ? '' : `  ${e.steps} steps`}  (${e.seconds.toFixed(1)} s)`);
          if (e.type === 'train-step') {
            const key = `${e.condition.name}/${e.method}`;
            if (!bars.has(key)) bars.set(key, new ProgressBar(`  training ${e.method}`, progressMode(false)));
            bars.get(key)!.update({ done: e.done, total: e.total, fields: { loss: e.loss } });
          }
        },
      }));
      await writeReport(out, results, { engine: describeEngine(engine), model, steps, epochs, patience, lr, schedule, patchXY, paper, seconds: (Date.now() - started) / 1000 });
    }
  } finally {
    await kernelThreads.stop();
  }
  log(`\nsrdtrans bench quality: wrote ${out}/results.md, results.json, snr-vs-frame-rate.png, examples-*.png and traces-*.png`);
  return 0;
}

async function readConditions(file: string): Promise<Condition[]> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as Condition[];
  } catch {
    return [];
  }
}

function slug(name: string): string {
  return name.replace(/[^a-z0-9.]+/gi, '-').toLowerCase();
}

/** A model folder that a rerun with --resume continues (or, finished, just reads back). */
async function modelPlace(dir: string, resume: boolean): Promise<ModelPlace> {
  return {
    sink: modelFolder(dir),
    resume: resume && (await isFile(path.join(dir, RESUME_FILE))),
    weights: async () => (await resolveModel(dir)).load(),
  };
}

function formatScores(e: Evaluation): string {
  return `SNR ${e.snr_z_db.toFixed(2)} dB (affine ${e.snr_db.toFixed(2)})  SSIM ${e.ssim.toFixed(3)}  trace r ${e.trace_r === null ? 'n/a' : e.trace_r.toFixed(3)}`;
}

interface ReportMeta {
  engine: string; model: ModelConfig; steps: number; epochs: number; patience: number; lr: number; schedule: ScheduleKind;
  patchXY: number; paper: boolean; seconds: number;
}

type Metric = 'snr_z_db' | 'snr_db' | 'psnr_db' | 'ssim' | 'trace_r';

async function writeReport(out: string, results: ConditionResult[], meta: ReportMeta): Promise<void> {
  // A run that trained one sampling strategy (--sampling) has no column for the other.
  const methods = METHODS.filter((m) => results.some((r) => r.results.some((x) => x.method === m)));
  const header = ['condition', ...methods];
  const value = (r: ConditionResult, m: string, key: Metric) => r.results.find((x) => x.method === m)?.evaluation[key] ?? null;
  const cell = (r: ConditionResult, m: string, key: Metric) => {
    const v = value(r, m, key);
    return v === null ? 'n/a' : key.endsWith('_db') ? v.toFixed(2) : v.toFixed(3);
  };
  const table = (key: Metric, title: string) => [
    `### ${title}`, '',
    `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`,
    ...results.map((r) => `| ${r.condition.name} | ${methods.map((m) => cell(r, m, key)).join(' | ')} |`), '',
  ].join('\n');
  const split = results.filter((r) => r.results.some((x) => x.evaluation.error_split !== null));
  const stepsRun = results.map((r) => `${r.condition.name}${r.condition.photons === null ? '' : ` (${r.condition.photons} photons/px)`}: ` +
    r.results.filter((x) => x.steps !== null).map((x) => `${x.method} ${x.steps}`).join(', ')).join('; ');
  const md = [
    '# Denoising quality against simulated ground truth', '',
    `Engine: ${meta.engine}. Network: f_maps ${meta.model.fMaps.join(',')}, E ${meta.model.embedDim}, ${meta.model.heads} heads, MLP ${meta.model.mlpDim}, patch_t ${meta.model.patchT}; ` +
      `training patches ${meta.patchXY} px, lr ${meta.lr} (${meta.schedule}), at most ${meta.steps} steps in ${meta.epochs} epochs` +
      `${meta.patience > 0 ? `, stopped once the validation loss was flat for ${meta.patience} epochs (the best epoch denoises)` : ''}. Total ${meta.seconds.toFixed(0)} s.`, '',
    `Training steps run: ${stepsRun}.`, '',
    table('snr_z_db', 'SNR (dB, both stacks standardised: the scale of the SRDTrans paper)'),
    table('snr_db', 'SNR (dB, after an affine fit to the ground truth, camera offset left out)'),
    table('psnr_db', 'PSNR (dB)'), table('ssim', 'SSIM'), table('trace_r', 'Neuron trace correlation'),
    ...(split.length > 0 ? [
      '### Where the error lies', '',
      'The mean squared difference of the standardised stacks (10^(−SNR/10) of the first table) in three parts: ' +
        'static image / cell activity / background activity. The static part is the error of the temporal mean image; ' +
        'the other two are the error left in the frames\' variations around it, inside the cells and outside them.', '',
      `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`,
      ...split.map((r) => `| ${r.condition.name} | ${methods.map((m) => {
        const e = r.results.find((x) => x.method === m)?.evaluation.error_split;
        return e ? `${e.static.toFixed(3)} / ${e.cells.toFixed(3)} / ${e.background.toFixed(3)}` : 'n/a';
      }).join(' | ')} |`), '',
    ] : []),
    'The linear oracle is not a method: it is the best linear estimate of each frame given the ground truth\'s own mean image, ' +
      'frame covariance and noise variance, which no denoiser has. It shows how much of the truth the noisy stack holds. ' +
      'Calcium only: SMLM\'s emitters are new in every frame, so the covariance of its frames would hand the oracle the frames themselves; ' +
      `and only up to frames² × pixels = ${ORACLE_MAX_WORK.toExponential(0)} (a couple of minutes' work).`, '',
  ].join('\n');
  await writeFileAtomic(path.join(out, 'results.md'), md);
  await writeFileAtomic(path.join(out, 'results.json'), JSON.stringify({ ...meta, results: results.map(({ condition, results: r }) => ({ condition, results: r })) }, null, 2) + '\n');
  const calcium = results.filter((r) => r.condition.frameRate !== null).sort((a, b) => a.condition.frameRate! - b.condition.frameRate!);
  if (calcium.length > 0) {
    // Eight methods make a tall legend that would hide lines inside either plot: both share one below.
    const lines = methods.map((m, i) => ({ name: m, color: PALETTE[i % PALETTE.length]! }));
    const plot = (key: Metric, yLabel: string, title: string) => plotRaster(
      lines.map((l) => ({ name: '', color: l.color, x: calcium.map((r) => r.condition.frameRate!), y: calcium.map((r) => value(r, l.name, key) ?? NaN) })),
      { width: 640, height: 420, title, xLabel: 'frame rate (Hz)', yLabel, logX: true, markers: true },
    );
    const plots = [
      plot('snr_z_db', 'SNR (dB, standardised)', 'Output SNR against imaging rate (simulated calcium)'),
      plot('trace_r', 'trace r', 'Neuron trace correlation against imaging rate'),
    ];
    const width = plots.reduce((a, p) => a + p.width, 0);
    const legend = legendRaster(lines, width, 2);
    await writeFileAtomic(path.join(out, 'snr-vs-frame-rate.png'), figure([plots, [legend]]));
  }
  for (const r of results) {
    const name = slug(r.condition.name);
    const [h, w] = [Math.sqrt(r.frames[0]!.frame.length), Math.sqrt(r.frames[0]!.frame.length)];
    await writeFileAtomic(path.join(out, `examples-${name}.png`), imageMontage(
      r.frames.map((f) => ({ title: f.title, frame: f.frame, h, w })),
      { upscale: 'auto', range: 'shared', columns: 4, title: r.condition.name },
    ));
    const { noisy, clean, labels, learned } = r.stacks;
    if (labels && r.condition.frameRate !== null) {
      await writeFileAtomic(path.join(out, `traces-${name}.png`), comparisonFigure({
        noisy, clean, labels, outputs: learned.map((l) => ({ title: l.method, stack: l.stack })),
        frame: Math.floor(noisy.shape[0] / 2), frameRate: r.condition.frameRate, title: r.condition.name,
      }));
    }
  }
}
