import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import type { Stack } from '../data/stack.js';
import { temporalExtent, trainGrid, type TrainPatch } from '../data/patches.js';
import { extractPatch, trainingMean } from '../data/normalize.js';
import { spatialPairs, temporalPairs } from '../data/sampling.js';
import { dihedral } from '../data/augment.js';
import { SRDTrans } from '../model/srdtrans.js';
import type { StateDict } from '../model/params.js';
import {
  RESUME_FILE, epochFileName, readWeights, writeModelRecord, writeWeights, type TrainingRecord,
} from '../io/checkpoint/model-dir.js';
import { CheckpointError } from '../errors.js';
import { describeFsError, makeDirectory } from '../io/atomic.js';
import { Rng } from '../util/rng.js';
import type { ModelConfig } from '../model/config.js';
import { Adam } from './adam.js';
import { trainStep, type TrainingPair } from './step.js';
import { writeLossCurve } from './loss-curve.js';

export interface TrainOptions {
  model: ModelConfig;
  training: TrainingRecord;
  outDir: string;
  /** Stack names (file paths) for error messages. */
  names?: readonly string[];
  resume?: boolean;
  /** Aborting saves a resumable checkpoint after the step in flight. */
  signal?: AbortSignal;
  onEvent?: (event: TrainEvent) => void;
}

export type TrainEvent =
  | { type: 'start'; patches: number; epochs: number; startEpoch: number; startIteration: number; parameters: number }
  | { type: 'step'; epoch: number; epochs: number; iteration: number; iterations: number; loss: number; stepsDone: number; stepsTotal: number }
  | { type: 'epoch'; epoch: number; meanLoss: number; checkpoint: string }
  | { type: 'interrupted'; epoch: number; iteration: number; checkpoint: string };

export interface TrainResult {
  interrupted: boolean;
  epochsDone: number;
  lastCheckpoint: string | null;
  losses: number[];
}

interface Progress {
  epoch: number;
  iteration: number;
  losses: number[];
}

const LOG_FILE = 'training-log.json';

/**
 * The published training procedure: every epoch visits each patch of the grid once in a
 * random order, each with a random dihedral transform, sampled into a training pair.
 * Randomness is derived from (seed, epoch, iteration) alone, so a resumed run continues
 * exactly where the interrupted one stopped.
 */
export async function train(stacks: readonly Stack[], options: TrainOptions): Promise<TrainResult> {
  const { training, outDir } = options;
  const extentT = temporalExtent(training.sampling, training.patchT);
  const grid = trainGrid(stacks.map((s) => s.shape), {
    patchXY: training.patchXY,
    patchT: training.patchT,
    extentT,
    overlap: training.overlap,
    trainSize: training.trainSize,
    names: options.names,
  });
  const means = stacks.map((s) => trainingMean(s, training.scale));
  const model = new SRDTrans(options.model, training.seed);
  const adam = new Adam(model.variables, { lr: training.lr, beta1: training.beta1, beta2: training.beta2 });
  try {
    await makeDirectory(outDir).catch((err: unknown) => {
      throw new CheckpointError(`${outDir}: cannot create the model directory (${describeFsError(err)}); choose a writable location`);
    });
    const progress: Progress = options.resume
      ? await loadResume(outDir, model, adam)
      : { epoch: 0, iteration: 0, losses: [] };
    await writeModelRecord(outDir, { model: options.model, training });
    options.onEvent?.({
      type: 'start', patches: grid.length, epochs: training.epochs,
      startEpoch: progress.epoch, startIteration: progress.iteration, parameters: model.parameterCount(),
    });
    let lastCheckpoint: string | null = null;
    const stepsTotal = training.epochs * grid.length;
    for (let epoch = progress.epoch; epoch < training.epochs; epoch++) {
      const order = new Rng(mix(training.seed, epoch, 0x5eed)).shuffle([...grid]);
      const first = epoch === progress.epoch ? progress.iteration : 0;
      for (let iteration = first; iteration < order.length; iteration++) {
        const rng = new Rng(mix(training.seed, epoch, iteration));
        const pair = makePair(stacks, means, order[iteration]!, training, extentT, rng);
        const loss = await trainStep(model, adam, pair, rng.nextUint32());
        progress.losses.push(loss);
        options.onEvent?.({
          type: 'step', epoch, epochs: training.epochs, iteration, iterations: order.length, loss,
          stepsDone: epoch * grid.length + iteration + 1, stepsTotal,
        });
        // A step on the cpu/wasm backends never yields to the event loop, so a SIGINT handler
        // (which sets `signal`) would otherwise only run at the end of the epoch's file writes.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (options.signal?.aborted) {
          const checkpoint = await saveResume(outDir, model, adam, { epoch, iteration: iteration + 1, losses: progress.losses });
          options.onEvent?.({ type: 'interrupted', epoch, iteration: iteration + 1, checkpoint });
          return { interrupted: true, epochsDone: epoch, lastCheckpoint: checkpoint, losses: progress.losses };
        }
      }
      lastCheckpoint = path.join(outDir, epochFileName(epoch + 1));
      await writeWeights(lastCheckpoint, await model.stateDict(), { epoch: String(epoch + 1) });
      await saveResume(outDir, model, adam, { epoch: epoch + 1, iteration: 0, losses: progress.losses });
      await writeLossCurve(path.join(outDir, 'loss.png'), progress.losses, grid.length);
      const epochLosses = progress.losses.slice(-order.length);
      options.onEvent?.({
        type: 'epoch', epoch, meanLoss: epochLosses.reduce((a, b) => a + b, 0) / epochLosses.length, checkpoint: lastCheckpoint,
      });
    }
    return { interrupted: false, epochsDone: training.epochs, lastCheckpoint, losses: progress.losses };
  } finally {
    adam.dispose();
    model.dispose();
  }
}

function makePair(
  stacks: readonly Stack[], means: readonly number[], patch: TrainPatch, training: TrainingRecord, extentT: number, rng: Rng,
): TrainingPair {
  const p = training.patchXY;
  const raw = extractPatch(stacks[patch.stack]!, { t: patch.t, y: patch.y, x: patch.x }, { t: extentT, h: p, w: p }, training.scale, means[patch.stack]!);
  const turned = dihedral(raw, extentT, p, p, rng.int(8));
  if (training.sampling === 'temporal') {
    // DeepCAD-RT also swaps which interleaved half is the input, half of the time.
    const { input, target } = temporalPairs(turned.data, extentT, turned.h, turned.w, rng.next() < 0.5);
    return { input, targets: [target], t: training.patchT, h: turned.h, w: turned.w };
  }
  const { input, target1, target2 } = spatialPairs(turned.data, extentT, turned.h, turned.w, rng);
  return { input, targets: [target1, target2], t: extentT, h: turned.h / 2, w: turned.w / 2 };
}

async function saveResume(outDir: string, model: SRDTrans, adam: Adam, progress: Progress): Promise<string> {
  const tensors: StateDict = await model.stateDict();
  for (const [k, v] of await adam.state()) tensors.set(k, v);
  const file = path.join(outDir, RESUME_FILE);
  await writeWeights(file, tensors, {
    epoch: String(progress.epoch), iteration: String(progress.iteration), step: String(adam.step),
  });
  await fs.writeFile(path.join(outDir, LOG_FILE), JSON.stringify({ losses: progress.losses }) + '\n');
  return file;
}

async function loadResume(outDir: string, model: SRDTrans, adam: Adam): Promise<Progress> {
  const file = path.join(outDir, RESUME_FILE);
  if (!(await fs.stat(file).then((st) => st.isFile(), () => false))) {
    throw new CheckpointError(`${file}: not found; there is no interrupted run to resume in ${outDir}; to start over, train into a new folder without --resume`);
  }
  const { tensors, metadata } = await readWeights(file);
  const weights: StateDict = new Map([...tensors].filter(([k]) => !k.startsWith('adam.')));
  try {
    model.loadStateDict(weights);
  } catch (err) {
    if (!(err instanceof CheckpointError)) throw err;
    throw new CheckpointError(`${file}: does not fit the model's config.json (${err.message}); to start over, train into a new folder without --resume`);
  }
  try {
    adam.loadState(tensors, Number(metadata['step']));
  } catch (err) {
    throw new CheckpointError(`${file}: ${(err as Error).message}; it was not written by this version, start without --resume`);
  }
  let losses: number[] = [];
  try {
    losses = (JSON.parse(await fs.readFile(path.join(outDir, LOG_FILE), 'utf8')) as { losses: number[] }).losses;
  } catch {
    // The log only feeds the loss curve; a missing one restarts the curve, not the training.
  }
  return { epoch: Number(metadata['epoch']), iteration: Number(metadata['iteration']), losses };
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
