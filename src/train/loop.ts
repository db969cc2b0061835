import type { Stack } from '../data/stack.js';
import { temporalExtent, trainGrid, type TrainPatch } from '../data/patches.js';
import { memoryPatchSource, type PatchSource } from '../data/patch-source.js';
import { spatialPairs, temporalPairs } from '../data/sampling.js';
import { splitValidation } from '../data/validation.js';
import { dihedral } from '../data/augment.js';
import { SRDTrans } from '../model/srdtrans.js';
import type { StateDict } from '../model/params.js';
import type { ModelConfig } from '../model/config.js';
import { CheckpointError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { Adam } from './adam.js';
import { evaluationLoss, trainStep, type TrainingPair } from './step.js';
import { lossCurvePng } from './loss-curve.js';
import { learningRate, type Schedule } from './schedule.js';
import { flatEpochs, type EpochRecord, type TrainingLog, type TrainingRecord } from './record.js';
import type { CheckpointSink, ResumeState } from './sink.js';

export interface TrainOptions {
  model: ModelConfig;
  training: TrainingRecord;
  /** Where checkpoints, the resume state and the loss curve go (a model folder, memory). */
  sink: CheckpointSink;
  /** Stack names (file paths) for error messages. */
  names?: readonly string[];
  /** Continue from the sink's resume state. */
  resume?: boolean;
  /** Weights to start from instead of a random initialisation (`train --init`; not on resume). */
  init?: StateDict;
  /** Aborting saves a resumable state after the step in flight. */
  signal?: AbortSignal;
  onEvent?: (event: TrainEvent) => void;
}

export type TrainEvent =
  | { type: 'start'; patches: number; validationPatches: number; epochs: number; startEpoch: number; startIteration: number; parameters: number }
  | { type: 'step'; epoch: number; epochs: number; iteration: number; iterations: number; loss: number; lr: number; stepsDone: number; stepsTotal: number; valLoss: number | null }
  | { type: 'epoch'; epoch: number; meanLoss: number; valLoss: number | null; best: boolean; checkpoint: string }
  | { type: 'interrupted'; epoch: number; iteration: number; checkpoint: string }
  /** Stopped before the last epoch: the validation loss was flat for `patience` epochs. */
  | { type: 'flat'; epochsDone: number; patience: number };

export interface TrainResult {
  interrupted: boolean;
  /** Ended before the last epoch because the validation loss went flat (TrainingRecord.patience). */
  flat: boolean;
  epochsDone: number;
  /** Name of the last epoch's checkpoint (or, interrupted, of the resume state). */
  lastCheckpoint: string | null;
  /** The epoch with the lowest validation loss (null without validation). */
  best: EpochRecord | null;
  /**
   * The weights to denoise with: the best epoch's, else (no validation) the last epoch's; null
   * when no epoch finished in this call, or the best one was before a resume (the sink has it).
   */
  weights: StateDict | null;
  losses: number[];
  epochs: EpochRecord[];
}

/**
 * The published training procedure: every epoch visits each patch of the grid once in a
 * random order, each with a random dihedral transform, sampled into a training pair; plus a
 * held-out part of the grid scored after every epoch, the best epoch marked, and an optional
 * learning-rate schedule. Randomness is derived from (seed, epoch, iteration) alone, so a
 * resumed run continues exactly where the interrupted one stopped.
 */
export async function train(stacks: readonly (Stack | PatchSource)[], options: TrainOptions): Promise<TrainResult> {
  const { training, sink } = options;
  const extentT = temporalExtent(training.sampling, training.patchT);
  const grid = trainGrid(stacks.map((s) => s.shape), {
    patchXY: training.patchXY,
    patchT: training.patchT,
    extentT,
    overlap: training.overlap,
    trainSize: training.trainSize,
    names: options.names,
  });
  const { train: patches, validation } = splitValidation(grid, training.valFraction, training.seed);
  const sources = stacks.map((s) => ('data' in s ? memoryPatchSource(s) : s));
  const means: number[] = [];
  for (const source of sources) means.push(await source.trainingMean(training.scale));
  // Fixed pairs (one draw of the sampling, no transform), so epochs are scored alike.
  const valPairs: TrainingPair[] = [];
  for (const [i, patch] of validation.entries()) {
    valPairs.push(await makePair(sources, means, patch, training, extentT, new Rng(mix(training.seed, i, 0x7a1)), 0));
  }
  const model = new SRDTrans(options.model, training.seed);
  const adam = new Adam(model.variables, { lr: training.lr, beta1: training.beta1, beta2: training.beta2 });
  const stepsTotal = training.epochs * patches.length;
  const schedule: Schedule = { kind: training.schedule, lr: training.lr, warmup: training.warmup, total: stepsTotal };
  try {
    const resumed = options.resume ? await sink.resumeState() : undefined;
    const start = resumed ? resumeInto(resumed, model, adam) : { epoch: 0, iteration: 0 };
    const log: TrainingLog = resumed?.log ?? { losses: [], epochs: [] };
    if (options.init && !options.resume) model.loadStateDict(options.init);
    await sink.start(options.model, training);
    options.onEvent?.({
      type: 'start', patches: patches.length, validationPatches: validation.length, epochs: training.epochs,
      startEpoch: start.epoch, startIteration: start.iteration, parameters: model.parameterCount(),
    });
    let lastCheckpoint: string | null = null;
    let weights: StateDict | null = null;
    let best = bestOf(log.epochs);
    for (let epoch = start.epoch; epoch < training.epochs; epoch++) {
      // Checked before each epoch, so that a resumed run that had gone flat stops at once.
      if (training.patience > 0 && flatEpochs(log.epochs) >= training.patience) {
        options.onEvent?.({ type: 'flat', epochsDone: epoch, patience: training.patience });
        return { interrupted: false, flat: true, epochsDone: epoch, lastCheckpoint, best, weights, losses: log.losses, epochs: log.epochs };
      }
      const order = new Rng(mix(training.seed, epoch, 0x5eed)).shuffle([...patches]);
      const first = epoch === start.epoch ? start.iteration : 0;
      let lr = training.lr;
      for (let iteration = first; iteration < order.length; iteration++) {
        const rng = new Rng(mix(training.seed, epoch, iteration));
        const pair = await makePair(sources, means, order[iteration]!, training, extentT, rng);
        const stepsDone = epoch * patches.length + iteration;
        lr = learningRate(schedule, stepsDone);
        const loss = await trainStep(model, adam, pair, rng.nextUint32(), lr);
        log.losses.push(loss);
        options.onEvent?.({
          type: 'step', epoch, epochs: training.epochs, iteration, iterations: order.length, loss, lr,
          stepsDone: stepsDone + 1, stepsTotal, valLoss: log.epochs.at(-1)?.valLoss ?? null,
        });
        // A step on the cpu/wasm backends never yields to the event loop, so a SIGINT handler
        // (which sets `signal`) would otherwise only run at the end of the epoch's writes.
        await new Promise<void>((resolve) => setTimeout(resolve, 0));
        if (options.signal?.aborted) {
          const checkpoint = await saveProgress(sink, model, adam, epoch, iteration + 1, log);
          options.onEvent?.({ type: 'interrupted', epoch, iteration: iteration + 1, checkpoint });
          return { interrupted: true, flat: false, epochsDone: epoch, lastCheckpoint: checkpoint, best, weights, losses: log.losses, epochs: log.epochs };
        }
      }
      const valLoss = valPairs.length > 0 ? mean(await evaluationLoss(model, valPairs)) : null;
      const record: EpochRecord = {
        epoch: epoch + 1, step: (epoch + 1) * patches.length, trainLoss: mean(log.losses.slice(-order.length)), valLoss, lr,
      };
      log.epochs.push(record);
      const improved = valLoss !== null && (best === null || valLoss < best.valLoss!);
      if (improved) best = record;
      const state = await model.stateDict();
      if (improved || best === null) weights = state;
      lastCheckpoint = await sink.epoch(epoch + 1, state, improved ? { valLoss: valLoss! } : null);
      await saveProgress(sink, model, adam, epoch + 1, 0, log);
      const png = lossCurvePng(log.losses, patches.length, log.epochs);
      if (png) await sink.lossCurve(png);
      options.onEvent?.({ type: 'epoch', epoch, meanLoss: record.trainLoss, valLoss, best: improved, checkpoint: lastCheckpoint });
    }
    return { interrupted: false, flat: false, epochsDone: training.epochs, lastCheckpoint, best, weights, losses: log.losses, epochs: log.epochs };
  } finally {
    adam.dispose();
    model.dispose();
  }
}

/** Loads a resume state's weights and optimiser moments; returns where to go on. */
function resumeInto(state: ResumeState, model: SRDTrans, adam: Adam): { epoch: number; iteration: number } {
  const weights: StateDict = new Map([...state.tensors].filter(([k]) => !k.startsWith('adam.')));
  try {
    model.loadStateDict(weights);
  } catch (err) {
    if (!(err instanceof CheckpointError)) throw err;
    throw new CheckpointError(`${state.name}: does not fit the model's config.json (${err.message}); to start over, train into a new folder without --resume`, { cause: err });
  }
  try {
    adam.loadState(state.tensors, state.position.step);
  } catch (err) {
    throw new CheckpointError(`${state.name}: ${(err as Error).message}; it was not written by this version, start without --resume`, { cause: err });
  }
  return { epoch: state.position.epoch, iteration: state.position.iteration };
}

async function saveProgress(sink: CheckpointSink, model: SRDTrans, adam: Adam, epoch: number, iteration: number, log: TrainingLog): Promise<string> {
  const tensors: StateDict = await model.stateDict();
  for (const [k, v] of await adam.state()) tensors.set(k, v);
  return sink.progress({ tensors, position: { epoch, iteration, step: adam.step }, log });
}

/** The epoch with the lowest validation loss, if any was scored. */
function bestOf(epochs: readonly EpochRecord[]): EpochRecord | null {
  let best: EpochRecord | null = null;
  for (const e of epochs) if (e.valLoss !== null && (best === null || e.valLoss < best.valLoss!)) best = e;
  return best;
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** A training pair from one patch; `turn` fixes the dihedral transform (default: drawn from rng). */
async function makePair(
  sources: readonly PatchSource[], means: readonly number[], patch: TrainPatch, training: TrainingRecord, extentT: number, rng: Rng, turn?: number,
): Promise<TrainingPair> {
  const p = training.patchXY;
  const raw = await sources[patch.stack]!.patch({ t: patch.t, y: patch.y, x: patch.x }, { t: extentT, h: p, w: p }, training.scale, means[patch.stack]!);
  const turned = dihedral(raw, extentT, p, p, turn ?? rng.int(8));
  if (training.sampling === 'temporal') {
    // DeepCAD-RT also swaps which interleaved half is the input, half of the time.
    const { input, target } = temporalPairs(turned.data, extentT, turned.h, turned.w, rng.next() < 0.5);
    return { input, targets: [target], t: training.patchT, h: turned.h, w: turned.w };
  }
  const { input, target1, target2 } = spatialPairs(turned.data, extentT, turned.h, turned.w, rng);
  return { input, targets: [target1, target2], t: extentT, h: turned.h / 2, w: turned.w / 2 };
}

/** Hashes a few integers into one seed. */
function mix(...values: number[]): number {
  let h = 0x811c9dc5;
  for (const v of values) {
    h = Math.imul(h ^ (v >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  }
  return h;
}
