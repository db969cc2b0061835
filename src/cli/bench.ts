import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import { BACKEND_CHOICES, describeEngine, initEngine, type BackendChoice } from '../engine/backend.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../model/config.js';
import { METHODS, runQualityBenchmark, type ConditionResult } from '../quality/benchmark.js';
import { writeFileAtomic } from '../io/atomic.js';
import { imageMontage, linePlot } from '../report/png.js';
import { makeOutputFolder } from './output.js';
import { choiceOption, numberOption, parseCommand, stringOption, type OptionSpec } from './args.js';
import { ProgressBar, progressMode } from './progress.js';

/** Small enough to train several times on two CPU cores; `--full` takes the published one. */
const CPU_MODEL: ModelConfig = { ...DEFAULT_MODEL_CONFIG, embedDim: 64, heads: 4, mlpDim: 128, patchT: 32 };

const SPEC: OptionSpec = {
  out: { type: 'string', help: 'folder for results.md, results.json and the figures', default: 'quality-output' },
  rates: { type: 'string', help: 'calcium frame rates in Hz', default: '0.3,1,10,30' },
  'no-smlm': { type: 'boolean', help: 'leave out the SMLM condition' },
  frames: { type: 'string', help: 'frames per simulated stack', default: 128 },
  size: { type: 'string', help: 'frame width and height', default: 64 },
  steps: { type: 'string', help: 'training steps per learned model (raise on a GPU)', default: 150 },
  // 1e-3 learns faster but diverged after ~150 steps in a 600-step run; 2e-4 stayed stable.
  lr: { type: 'string', help: 'Adam learning rate of the learned methods', default: 2e-4 },
  full: { type: 'boolean', help: 'published network size and patch_t 32 (for a GPU)' },
  backend: { type: 'string', help: BACKEND_CHOICES.join('|'), default: 'auto' },
  seed: { type: 'string', help: 'random seed', default: 1 },
};

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand('bench', 'quality [--out <folder>] [options]', SPEC, args);
  if (parsed === 'help') return 0;
  const { values, positionals } = parsed;
  if (positionals[0] !== 'quality') throw new ConfigError("bench: the benchmark to run is 'quality' (speed benchmarks: npm run bench)");
  const out = stringOption(values, 'out') ?? 'quality-output';
  const rates = (stringOption(values, 'rates') ?? '0.3,1,10,30').split(',').map(Number);
  if (rates.some((r) => !(r > 0 && r <= 1000))) throw new ConfigError('--rates: expected comma-separated frame rates in Hz, e.g. 0.3,1,10,30');
  const model = values['full'] === true ? { ...DEFAULT_MODEL_CONFIG, patchT: 32 } : CPU_MODEL;
  const size = numberOption(values, 'size', 64, { min: 32, integer: true });
  await makeOutputFolder(out);
  const engine = await initEngine(choiceOption<BackendChoice>(values, 'backend', BACKEND_CHOICES, 'auto'));
  const log = (line: string) => process.stderr.write(line + '\n');
  log(`srdtrans bench quality: ${describeEngine(engine)}`);
  const bars = new Map<string, ProgressBar>();
  const started = Date.now();
  const steps = numberOption(values, 'steps', 150, { min: 1, integer: true });
  const lr = numberOption(values, 'lr', 2e-4, { min: 0 });
  const results = await runQualityBenchmark({
    frameRates: rates, smlm: values['no-smlm'] !== true, size,
    frames: numberOption(values, 'frames', 128, { min: 2 * model.patchT, integer: true }),
    steps, lr,
    model, patchXY: Math.min(64, size - (size % 2)),
    seed: numberOption(values, 'seed', 1, { min: 0, integer: true }),
    onEvent: (e) => {
      if (e.type === 'condition') log(`\n${e.condition.name}`);
      if (e.type === 'method') log(`  ${e.method.padEnd(34)} SNR ${e.evaluation.snr_db.toFixed(2)} dB  SSIM ${e.evaluation.ssim.toFixed(3)}  (${e.seconds.toFixed(1)} s)`);
      if (e.type === 'train-step') {
        const key = `${e.condition.name}/${e.method}`;
        if (!bars.has(key)) bars.set(key, new ProgressBar(`  training ${e.method}`, progressMode(false)));
        bars.get(key)!.update({ done: e.done, total: e.total, fields: { loss: e.loss } });
      }
    },
  });
  await writeReport(out, results, { engine: describeEngine(engine), model, steps, lr, seconds: (Date.now() - started) / 1000 });
  log(`\nsrdtrans bench quality: wrote ${out}/results.md, results.json, snr-vs-frame-rate.png and examples-*.png`);
  return 0;
}

async function writeReport(out: string, results: ConditionResult[], meta: { engine: string; model: ModelConfig; steps: number; lr: number; seconds: number }): Promise<void> {
  const header = ['condition', ...METHODS];
  const cell = (r: ConditionResult, m: string, key: 'snr_db' | 'ssim' | 'trace_r') => {
    const v = r.results.find((x) => x.method === m)?.evaluation[key];
    return v === null || v === undefined ? 'n/a' : key === 'snr_db' ? v.toFixed(2) : v.toFixed(3);
  };
  const table = (key: 'snr_db' | 'ssim' | 'trace_r', title: string) => [
    `### ${title}`, '',
    `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`,
    ...results.map((r) => `| ${r.condition.name} | ${METHODS.map((m) => cell(r, m, key)).join(' | ')} |`), '',
  ].join('\n');
  const md = [
    '# Denoising quality against simulated ground truth', '',
    `Engine: ${meta.engine}. Network: f_maps ${meta.model.fMaps.join(',')}, E ${meta.model.embedDim}, ${meta.model.heads} heads, MLP ${meta.model.mlpDim}, patch_t ${meta.model.patchT}; ${meta.steps} training steps per learned model at lr ${meta.lr}. Total ${meta.seconds.toFixed(0)} s.`, '',
    table('snr_db', 'SNR (dB, after an affine fit to the ground truth)'), table('ssim', 'SSIM'), table('trace_r', 'Neuron trace correlation'),
  ].join('\n');
  await writeFileAtomic(path.join(out, 'results.md'), md);
  await writeFileAtomic(path.join(out, 'results.json'), JSON.stringify({ ...meta, results: results.map(({ condition, results: r }) => ({ condition, results: r })) }, null, 2) + '\n');
  const calcium = results.filter((r) => r.condition.frameRate !== null);
  if (calcium.length > 0) {
    await writeFileAtomic(path.join(out, 'snr-vs-frame-rate.png'), linePlot(
      METHODS.map((m) => ({
        name: m, x: calcium.map((r) => r.condition.frameRate!),
        y: calcium.map((r) => r.results.find((x) => x.method === m)!.evaluation.snr_db),
      })),
      { title: 'Output SNR against imaging rate (simulated calcium)', xLabel: 'frame rate (Hz)', yLabel: 'SNR (dB)', logX: true, markers: true },
    ));
  }
  for (const r of results) {
    const [h, w] = [Math.sqrt(r.frames[0]!.frame.length), Math.sqrt(r.frames[0]!.frame.length)];
    const file = `examples-${r.condition.name.replace(/[^a-z0-9.]+/gi, '-').toLowerCase()}.png`;
    await writeFileAtomic(path.join(out, file), imageMontage(
      r.frames.map((f) => ({ title: f.title, frame: f.frame, h, w })),
      { upscale: 'auto', range: 'shared', columns: 4, title: r.condition.name },
    ));
  }
}
