import { promises as fs } from 'node:fs';
import { ConfigError } from '../errors.js';
import { DEFAULT_MODEL_CONFIG, validateModelConfig, type ModelConfig } from '../model/config.js';
import { readModelRecord, resolveModel } from '../io/checkpoint/model-dir.js';
import { modelFolder } from '../io/checkpoint/model-folder.js';
import type { TrainingRecord } from '../train/record.js';
import { SCHEDULE_KINDS, type ScheduleKind } from '../train/schedule.js';
import { train } from '../train/loop.js';
import { temporalExtent, trainGrid, type SamplingStrategy } from '../data/patches.js';
import { BACKEND_CHOICES, describeEngine, initEngine, type BackendChoice } from '../engine/backend.js';
import { autoKernelThreads, startKernelThreads } from '../engine/kernel-threads.js';
import { TRAIN_DEFAULTS } from '../train/defaults.js';
import { choiceOption, listOption, numberOption, parseCommand, stringOption, threadCountOption, type OptionSpec } from './args.js';
import { ProgressBar, progressMode } from './progress.js';
import { openTrainingStacks } from './stacks.js';

/** Architecture flags, which --init takes from the model it starts from. */
const ARCHITECTURE_FLAGS = ['f-maps', 'embed-dim', 'heads', 'mlp-dim', 'window', 'blocks', 'patch-t'] as const;

const SPEC: OptionSpec = {
  out: { type: 'string', help: 'model directory to write (config, checkpoints, loss curve)' },
  epochs: { type: 'string', help: 'passes over all training patches', default: TRAIN_DEFAULTS.epochs },
  'patch-xy': { type: 'string', help: 'patch width and height in pixels (even)', default: TRAIN_DEFAULTS.patchXY },
  'patch-t': { type: 'string', help: 'patch length in frames (multiple of 2^levels)', default: TRAIN_DEFAULTS.patchT },
  overlap: { type: 'string', help: 'overlap of neighbouring patches, 0..<1', default: TRAIN_DEFAULTS.overlap },
  'train-size': { type: 'string', help: 'about how many patches per epoch', default: TRAIN_DEFAULTS.trainSize },
  lr: { type: 'string', help: 'Adam learning rate', default: TRAIN_DEFAULTS.lr },
  beta1: { type: 'string', help: 'Adam beta1', default: TRAIN_DEFAULTS.beta1 },
  beta2: { type: 'string', help: 'Adam beta2', default: TRAIN_DEFAULTS.beta2 },
  scale: { type: 'string', help: 'divide pixel values by this before training', default: TRAIN_DEFAULTS.scale },
  frames: { type: 'string', help: 'use only the first N frames of each stack' },
  channel: { type: 'string', help: 'channel to use in a multi-channel file (0-based)' },
  sampling: { type: 'string', help: 'training pairs: spatial (SRDTrans) or temporal (DeepCAD-style)', default: 'spatial' },
  'val-fraction': { type: 'string', help: 'share of the patches held out to score each epoch (best.safetensors); 0: none', default: TRAIN_DEFAULTS.valFraction },
  schedule: { type: 'string', help: `learning rate over the run: ${SCHEDULE_KINDS.join('|')} (published: constant)`, default: TRAIN_DEFAULTS.schedule },
  warmup: { type: 'string', help: 'steps of linear learning-rate warm-up', default: 0 },
  patience: { type: 'string', help: 'stop once the validation loss has not fallen 0.1 % for this many epochs (0: run every epoch)', default: 0 },
  init: { type: 'string', help: 'start from this model\'s weights (fine-tuning; its architecture is used)' },
  backend: { type: 'string', help: BACKEND_CHOICES.join('|'), default: 'auto' },
  threads: { type: 'string', help: 'wasm: threads sharing each large kernel call (auto: one per core, at most 8)', default: 'auto' },
  seed: { type: 'string', help: 'random seed (initialisation, order, sampling, dropout)', default: 0 },
  resume: { type: 'boolean', help: 'continue an interrupted run in --out (its config is reused)' },
  json: { type: 'boolean', help: 'one JSON object per event on stdout instead of a progress bar' },
  'f-maps': { type: 'string', help: 'encoder channels per level', default: DEFAULT_MODEL_CONFIG.fMaps.join(',') },
  'embed-dim': { type: 'string', help: 'transformer embedding width', default: DEFAULT_MODEL_CONFIG.embedDim },
  heads: { type: 'string', help: 'attention heads', default: DEFAULT_MODEL_CONFIG.heads },
  'mlp-dim': { type: 'string', help: 'transformer MLP width', default: DEFAULT_MODEL_CONFIG.mlpDim },
  window: { type: 'string', help: 'Swin window size', default: DEFAULT_MODEL_CONFIG.window },
  blocks: { type: 'string', help: 'temporal+spatial transformer blocks', default: DEFAULT_MODEL_CONFIG.blocks },
};

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand('train', '<stack.tif|folder>... --out <model dir> [options]', SPEC, args);
  if (parsed === 'help') return 0;
  const { values, positionals } = parsed;
  const outDir = stringOption(values, 'out');
  if (!outDir) throw new ConfigError("train: --out <model dir> is required");
  if (positionals.length === 0) throw new ConfigError('train: name at least one stack (TIFF file or folder)');
  const resume = values['resume'] === true;
  const previous = resume ? await readModelRecord(outDir) : undefined;
  if (!resume) {
    // Starting over in a used folder would mix the old run's later epochs with the new run's
    // (denoise takes the highest-numbered one), so refuse rather than overwrite.
    const names = await fs.readdir(outDir).catch(() => [] as string[]);
    const epochs = names.filter((n) => /^epoch-\d+\.safetensors$/.test(n)).sort();
    if (epochs.length > 0) {
      throw new ConfigError(`--out ${outDir}: already holds a trained model (${epochs.at(-1)}); continue it with --resume, or choose a new folder (or delete this one) to start over`);
    }
  }

  const initPath = stringOption(values, 'init');
  if (initPath !== undefined && resume) throw new ConfigError('--init: a resumed run continues from its own checkpoint; drop --init or --resume');
  const initModel = initPath === undefined ? undefined : await resolveModel(initPath);
  if (initModel) {
    const given = ARCHITECTURE_FLAGS.filter((f) => values[f] !== undefined);
    if (given.length > 0) throw new ConfigError(`--${given[0]}: --init takes the architecture from the model it starts from; drop --${given[0]}`);
  }
  const modelConfig: ModelConfig = previous?.model ?? initModel?.record.model ?? {
    fMaps: listOption(values, 'f-maps', DEFAULT_MODEL_CONFIG.fMaps),
    embedDim: numberOption(values, 'embed-dim', DEFAULT_MODEL_CONFIG.embedDim, { min: 1, integer: true }),
    heads: numberOption(values, 'heads', DEFAULT_MODEL_CONFIG.heads, { min: 1, integer: true }),
    mlpDim: numberOption(values, 'mlp-dim', DEFAULT_MODEL_CONFIG.mlpDim, { min: 1, integer: true }),
    window: numberOption(values, 'window', DEFAULT_MODEL_CONFIG.window, { min: 1, integer: true }),
    blocks: numberOption(values, 'blocks', DEFAULT_MODEL_CONFIG.blocks, { min: 1, integer: true }),
    patchT: numberOption(values, 'patch-t', TRAIN_DEFAULTS.patchT, { min: 1, integer: true }),
    attnDropout: DEFAULT_MODEL_CONFIG.attnDropout,
  };
  validateModelConfig(modelConfig);
  const frames = values['frames'] === undefined ? null : numberOption(values, 'frames', 0, { min: 1, integer: true });
  const training: TrainingRecord = previous
    ? {
        ...previous.training,
        epochs: numberOption(values, 'epochs', previous.training.epochs, { min: 1, integer: true }),
        patience: numberOption(values, 'patience', previous.training.patience, { min: 0, integer: true }),
      }
    : {
        valFraction: numberOption(values, 'val-fraction', TRAIN_DEFAULTS.valFraction, { min: 0, max: 0.5 }),
        schedule: choiceOption<ScheduleKind>(values, 'schedule', SCHEDULE_KINDS, TRAIN_DEFAULTS.schedule),
        warmup: numberOption(values, 'warmup', 0, { min: 0, integer: true }),
        patience: numberOption(values, 'patience', 0, { min: 0, integer: true }),
        init: initModel ? initModel.weightsFile : null,
        sampling: choiceOption<SamplingStrategy>(values, 'sampling', ['spatial', 'temporal'], 'spatial'),
        patchXY: numberOption(values, 'patch-xy', TRAIN_DEFAULTS.patchXY, { min: 2, integer: true }),
        patchT: modelConfig.patchT,
        overlap: numberOption(values, 'overlap', TRAIN_DEFAULTS.overlap, { min: 0, max: 0.95 }),
        trainSize: numberOption(values, 'train-size', TRAIN_DEFAULTS.trainSize, { min: 1, integer: true }),
        epochs: numberOption(values, 'epochs', TRAIN_DEFAULTS.epochs, { min: 1, integer: true }),
        lr: numberOption(values, 'lr', TRAIN_DEFAULTS.lr, { min: 0 }),
        beta1: numberOption(values, 'beta1', TRAIN_DEFAULTS.beta1, { min: 0, max: 0.999999 }),
        beta2: numberOption(values, 'beta2', TRAIN_DEFAULTS.beta2, { min: 0, max: 0.999999 }),
        scale: numberOption(values, 'scale', TRAIN_DEFAULTS.scale, { min: Number.MIN_VALUE }),
        seed: numberOption(values, 'seed', 0, { min: 0, integer: true }),
        frames,
        inputs: positionals,
      };
  if (training.patience > 0 && training.valFraction === 0) throw new ConfigError('--patience: stopping on a flat validation loss needs validation patches; drop --patience or give --val-fraction above 0');
  if (training.patchXY % 2 !== 0) throw new ConfigError(`--patch-xy ${training.patchXY}: must be even (pixels are split into 2×2 cells)`);

  const json = values['json'] === true;
  const log = (line: string) => (json ? undefined : process.stderr.write(line + '\n'));
  const channel = values['channel'] === undefined ? undefined : numberOption(values, 'channel', 0, { min: 0, integer: true });
  const backend = choiceOption<BackendChoice>(values, 'backend', BACKEND_CHOICES, 'auto');
  const threadsOption = threadCountOption(values, 'threads');
  const stacks = await openTrainingStacks(positionals, { channel, frames: training.frames });
  const names = stacks.map((s) => s.path);
  // Check that the stacks fit the patches before starting an engine (train() builds the same grid).
  trainGrid(stacks.map((s) => s.shape), {
    patchXY: training.patchXY, patchT: training.patchT, extentT: temporalExtent(training.sampling, training.patchT),
    overlap: training.overlap, trainSize: training.trainSize, names,
  });
  const init = initModel ? await initModel.load() : undefined;
  const engine = await initEngine(backend);
  const threads = engine.backend === 'wasm' ? (threadsOption === 'auto' ? autoKernelThreads() : threadsOption) : 1;
  if (engine.backend !== 'wasm' && values['threads'] !== undefined) log(`srdtrans train: --threads applies to the wasm backend only; ignored on ${engine.backend}`);
  if (json) emit({ event: 'engine', backend: engine.backend, adapter: engine.adapter ?? null, reason: engine.reason, threads });

  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    log('\nsrdtrans train: interrupted; saving a checkpoint to resume from (Ctrl-C again to quit at once)');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const bar = new ProgressBar('train', progressMode(json));
  const resumeCommand = `srdtrans train ${positionals.map(shellQuote).join(' ')} --out ${shellQuote(outDir)}` +
    `${channel === undefined ? '' : ` --channel ${channel}`} --resume`;
  const kernelThreads = await startKernelThreads(threads);
  try {
    const result = await train(stacks.map((s) => s.source), {
      model: modelConfig, training, sink: modelFolder(outDir), names, resume, init, signal: controller.signal,
      onEvent: (e) => {
        if (json) emit({ event: e.type, ...e, type: undefined, ...(e.type === 'interrupted' ? { resume: resumeCommand } : {}) });
        switch (e.type) {
          case 'start':
            // Logged here, once the model directory and any resume checkpoint have been read, so a
            // bad --out or checkpoint is reported as one line.
            log(`srdtrans train: ${describeEngine(engine)}${threads > 1 ? `, ${threads} kernel threads` : ''}`);
            if (initModel) log(`srdtrans train: starting from ${initModel.weightsFile}${initModel.chosen ? ` (${initModel.chosen})` : ''}`);
            log(`srdtrans train: ${e.patches} patches per epoch (+${e.validationPatches} held out for validation), ${e.epochs} epochs, ${e.parameters.toLocaleString('en')} parameters, ${training.sampling} sampling, ${training.schedule} learning rate ${training.lr}` +
              (e.startEpoch >= e.epochs ? `; all ${e.epochs} epochs are already done (pass a larger --epochs with --resume to train on)`
                : e.startEpoch > 0 || e.startIteration > 0 ? `, resuming at epoch ${e.startEpoch + 1} patch ${e.startIteration + 1}` : ''));
            break;
          case 'step':
            bar.update({ done: e.stepsDone, total: e.stepsTotal, fields: { epoch: `${e.epoch + 1}/${e.epochs}`, loss: e.loss, ...(e.valLoss === null ? {} : { val: e.valLoss }) } });
            break;
          case 'epoch':
            if (!process.stderr.isTTY) {
              const val = e.valLoss === null ? '' : `, validation ${e.valLoss.toFixed(5)}${e.best ? ' (best so far)' : ''}`;
              log(`epoch ${e.epoch + 1}: mean loss ${e.meanLoss.toFixed(5)}${val} -> ${e.checkpoint}`);
            }
            break;
          case 'interrupted':
            log(`srdtrans train: saved ${e.checkpoint}; continue with: ${resumeCommand}`);
            break;
          case 'flat':
            log(`srdtrans train: the validation loss has not fallen 0.1 % in ${e.patience} epochs: stopping after epoch ${e.epochsDone} of ${training.epochs}`);
            break;
        }
      },
    });
    if (!result.interrupted && (result.lastCheckpoint || result.flat)) {
      const { best } = result;
      const which = best ? `best epoch ${best.epoch} (validation loss ${best.valLoss!.toFixed(5)}), which denoise uses` : `latest ${result.lastCheckpoint}`;
      log(`srdtrans train: done; model in ${outDir}: ${which}; loss curve ${outDir}/loss.png`);
    }
    return result.interrupted ? 130 : 0;
  } finally {
    process.off('SIGINT', onSigint);
    await kernelThreads.stop();
  }
}

/** A word as a POSIX shell reads it back (quoted only when needed). */
function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function emit(obj: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}
