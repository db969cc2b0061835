import { frameOf, type Stack } from '../data/stack.js';
import type { SamplingStrategy } from '../data/patches.js';
import { PUBLISHED_RECIPE, type TrainingRecord } from '../train/record.js';
import { memorySink, type CheckpointSink } from '../train/sink.js';
import type { StateDict } from '../model/params.js';
import type { ModelConfig } from '../model/config.js';
import { SRDTrans } from '../model/srdtrans.js';
import { train } from '../train/loop.js';
import type { ScheduleKind } from '../train/schedule.js';
import { denoiseToStack } from '../infer/denoise.js';
import { gaussianSpatial, gaussianSpatioTemporal, meanImage, movingAverage } from './baselines.js';
import { linearOracle, linearOracleAffordable } from './oracle.js';
import { evaluate, standardizedSnrDb, type Evaluation } from './metrics.js';
import { simulateCalcium } from './simulate/calcium.js';
import { simulateSmlm } from './simulate/smlm.js';

/** One simulated condition: calcium at a frame rate and photon level, or SMLM. */
export interface Condition {
  name: string;
  kind: 'calcium' | 'smlm';
  frameRate: number | null;
  /** Mean photons per pixel per frame of the calcium simulation (null: SMLM's own). */
  photons: number | null;
}

/**
 * Where a learned model trains: memory unless given; a model folder per method and condition
 * lets an interrupted benchmark continue (`bench quality --resume`).
 */
export interface ModelPlace {
  sink: CheckpointSink;
  /** The sink holds a run to continue. */
  resume: boolean;
  /** The weights to denoise with that the sink holds (a run with nothing left to do returns none). */
  weights(): Promise<StateDict>;
}

export interface QualityOptions {
  conditions: Condition[];
  frames: number;
  size: number;
  /** Training steps (patches) per learned model, at most: fewer when the validation loss goes flat first. */
  steps: number;
  /** Epochs the steps are split into; each is scored on held-out patches. */
  epochs: number;
  /** Stop a model once its validation loss has not fallen for this many epochs (0: never). */
  patience: number;
  /** Adam learning rate for both learned methods. */
  lr: number;
  /** Learning rate over a run; default the published constant rate. */
  schedule?: ScheduleKind;
  /** The learned methods to train; default both (ablations train one to halve the time). */
  samplings?: readonly SamplingStrategy[];
  model: ModelConfig;
  patchXY: number;
  seed: number;
  /** Where each learned model trains, by a key naming condition and method; default memory. */
  place?: (key: string) => Promise<ModelPlace>;
  onEvent?: (e: QualityEvent) => void;
}

export type QualityEvent =
  | { type: 'condition'; condition: Condition }
  | { type: 'method'; condition: Condition; method: string; evaluation: Evaluation; seconds: number; steps: number | null }
  | { type: 'train-step'; condition: Condition; method: string; done: number; total: number; loss: number };

export interface MethodResult {
  method: string;
  evaluation: Evaluation;
  seconds: number;
  /** Training steps a learned method ran (null for the others). */
  steps: number | null;
}

export interface ConditionResult {
  condition: Condition;
  results: MethodResult[];
  /** Middle frame of the noisy input, ground truth and each method's output, for figures. */
  frames: { title: string; frame: Float32Array }[];
  /** The simulation and the learned methods' whole outputs, for trace figures (calcium only). */
  stacks: { noisy: Stack; clean: Stack; labels: ArrayLike<number> | null; learned: { method: string; stack: Stack }[] };
}

/** The learned methods: the same network trained with each sampling strategy. */
const LEARNED = { spatial: 'SRDTrans (spatial)', temporal: 'temporal sampling (DeepCAD-style)' } as const satisfies Record<SamplingStrategy, string>;

/**
 * Not a method: the best linear estimate given the ground truth's own statistics (oracle.ts), to
 * show how far the noise level itself limits any denoiser. Calcium only: there the truth's
 * frames vary in a few directions (one per cell and neuropil component) that the stack's length
 * pins down.
 */
const ORACLE = 'linear oracle (truth statistics)';

export const METHODS = ['raw', 'gaussian xy', 'gaussian xyt', 'moving average', 'mean image', LEARNED.spatial, LEARNED.temporal, ORACLE] as const;

/** The calcium conditions of `bench quality` at a fixed photon level. */
export function calciumConditions(frameRates: readonly number[], photons: number): Condition[] {
  return frameRates.map((r) => ({ name: `calcium ${r} Hz`, kind: 'calcium', frameRate: r, photons }));
}

/**
 * The SRDTrans paper's noise levels on our simulator: raw standardised SNR (metrics.ts) of −1 dB
 * at 0.3 Hz rising linearly in log frame rate to +1 dB at 30 Hz. For each rate, the photon level
 * that gives that SNR on this stack is found by bisection (the simulator keeps the cells and
 * spikes when only the photon level changes, so SNR grows monotonically with it).
 */
export function paperConditions(frameRates: readonly number[], shape: readonly [number, number, number], seed: number): Condition[] {
  return frameRates.map((frameRate) => {
    const target = paperRawSnr(frameRate);
    const snrAt = (photons: number) => {
      const sim = simulateCalcium({ shape, frameRate, seed, photons });
      return standardizedSnrDb(sim.noisy, sim.clean);
    };
    let [lo, hi] = [Math.log(0.05), Math.log(50)];
    for (let i = 0; i < 14; i++) {
      const mid = (lo + hi) / 2;
      if (snrAt(Math.exp(mid)) < target) lo = mid;
      else hi = mid;
    }
    const photons = Number(Math.exp((lo + hi) / 2).toPrecision(3));
    return { name: `calcium ${frameRate} Hz`, kind: 'calcium', frameRate, photons };
  });
}

/** The raw SNR (standardised, dB) of the paper's simulations at a frame rate: −1 at 0.3 Hz, +1 at 30 Hz. */
export function paperRawSnr(frameRate: number): number {
  return -1 + Math.log10(frameRate / 0.3);
}

export const SMLM_CONDITION: Condition = { name: 'SMLM', kind: 'smlm', frameRate: null, photons: null };

/**
 * The ground-truth comparison behind `srdtrans bench quality`: for each condition, simulate,
 * run the classical baselines and train the same network with spatial and with temporal
 * sampling, and score everything against the simulation's ground truth.
 */
export async function runQualityBenchmark(options: QualityOptions): Promise<ConditionResult[]> {
  const out: ConditionResult[] = [];
  for (const condition of options.conditions) {
    options.onEvent?.({ type: 'condition', condition });
    out.push(await runCondition(condition, options));
  }
  return out;
}

async function runCondition(condition: Condition, options: QualityOptions): Promise<ConditionResult> {
  const shape = [options.frames, options.size, options.size] as const;
  const sim = condition.kind === 'calcium'
    ? simulateCalcium({ shape, frameRate: condition.frameRate!, seed: options.seed, photons: condition.photons! })
    : simulateSmlm({ shape, seed: options.seed });
  const masks = 'masks' in sim ? sim.masks : null;
  const score = (x: Stack) => evaluate(x, sim.clean, masks, { baseline: sim.params.offset });
  const middle = Math.floor(options.frames / 2);
  const frames = [
    { title: 'noisy', frame: frameOf(sim.noisy, middle) },
    { title: 'ground truth', frame: frameOf(sim.clean, middle) },
  ];
  const results: MethodResult[] = [];
  const learned: { method: string; stack: Stack }[] = [];
  const record = (method: string, output: Stack, started: number, steps: number | null = null) => {
    const seconds = (performance.now() - started) / 1000;
    const evaluation = score(output);
    results.push({ method, evaluation, seconds, steps });
    if (method !== 'raw') frames.push({ title: method, frame: frameOf(output, middle) });
    options.onEvent?.({ type: 'method', condition, method, evaluation, seconds, steps });
  };
  let t0 = performance.now();
  record('raw', sim.noisy, t0);
  t0 = performance.now();
  record('gaussian xy', gaussianSpatial(sim.noisy, 1), t0);
  t0 = performance.now();
  record('gaussian xyt', gaussianSpatioTemporal(sim.noisy, 1, 1), t0);
  t0 = performance.now();
  record('moving average', movingAverage(sim.noisy, 3), t0);
  t0 = performance.now();
  record('mean image', meanImage(sim.noisy), t0);
  for (const sampling of options.samplings ?? (['spatial', 'temporal'] as const)) {
    const method = LEARNED[sampling];
    t0 = performance.now();
    const { stack, steps } = await trainAndDenoise(sim.noisy, sampling, method, condition, options);
    learned.push({ method, stack });
    record(method, stack, t0, steps);
  }
  // SMLM's truth is a new random set of emitters in every frame: the covariance of its T frames
  // has rank T and would hand the oracle the frames' own span, not the structure of the sample.
  // A stack too large for the oracle's budget goes without it (n/a in the report).
  if (condition.kind === 'calcium' && linearOracleAffordable(sim.clean.shape)) {
    t0 = performance.now();
    record(ORACLE, linearOracle(sim.noisy, sim.clean), t0);
  }
  return { condition, results, frames, stacks: { noisy: sim.noisy, clean: sim.clean, labels: masks?.labels ?? null, learned } };
}

async function trainAndDenoise(
  noisy: Stack, sampling: SamplingStrategy, method: string, condition: Condition, options: QualityOptions,
): Promise<{ stack: Stack; steps: number }> {
  const valFraction = options.epochs > 1 || options.patience > 0 ? 0.05 : 0;
  const training: TrainingRecord = {
    ...PUBLISHED_RECIPE, sampling, patchXY: options.patchXY, patchT: options.model.patchT, overlap: 0.5,
    trainSize: Math.ceil(options.steps / options.epochs / (1 - valFraction)), epochs: options.epochs,
    lr: options.lr, beta1: 0.5, beta2: 0.999, scale: 1, seed: options.seed, frames: null, inputs: [condition.name],
    valFraction, patience: options.patience, schedule: options.schedule ?? PUBLISHED_RECIPE.schedule,
  };
  const place = options.place ? await options.place(`${condition.name} ${sampling}`) : null;
  const result = await train([noisy], {
    model: options.model, training, sink: place?.sink ?? memorySink(), resume: place?.resume ?? false,
    onEvent: (e) => {
      if (e.type === 'step') options.onEvent?.({ type: 'train-step', condition, method, done: e.stepsDone, total: e.stepsTotal, loss: e.loss });
    },
  });
  const model = new SRDTrans(options.model, options.seed);
  try {
    model.loadStateDict(result.weights ?? (await place!.weights()));
    const stack = await denoiseToStack(model, noisy, { patchXY: options.patchXY, overlap: 0.5, scale: 1, asFloat: true });
    return { stack, steps: result.epochs.at(-1)?.step ?? 0 };
  } finally {
    model.dispose();
  }
}
