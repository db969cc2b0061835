import { frameOf, type Stack } from '../data/stack.js';
import type { SamplingStrategy } from '../data/patches.js';
import { PUBLISHED_RECIPE, type TrainingRecord } from '../train/record.js';
import { memorySink } from '../train/sink.js';
import type { ModelConfig } from '../model/config.js';
import { SRDTrans } from '../model/srdtrans.js';
import { train } from '../train/loop.js';
import { denoiseToStack } from '../infer/denoise.js';
import { gaussianSpatial, gaussianSpatioTemporal, movingAverage } from './baselines.js';
import { evaluate, type Evaluation } from './metrics.js';
import { simulateCalcium } from './simulate/calcium.js';
import { simulateSmlm } from './simulate/smlm.js';

/** One simulated condition: a calcium frame rate, or SMLM. */
export interface Condition {
  name: string;
  kind: 'calcium' | 'smlm';
  frameRate: number | null;
}

export interface QualityOptions {
  frameRates: number[];
  smlm: boolean;
  frames: number;
  size: number;
  /** Training steps (patches) per learned model. */
  steps: number;
  /** Adam learning rate for both learned methods. */
  lr: number;
  model: ModelConfig;
  patchXY: number;
  seed: number;
  onEvent?: (e: QualityEvent) => void;
}

export type QualityEvent =
  | { type: 'condition'; condition: Condition }
  | { type: 'method'; condition: Condition; method: string; evaluation: Evaluation; seconds: number }
  | { type: 'train-step'; condition: Condition; method: string; done: number; total: number; loss: number };

export interface MethodResult {
  method: string;
  evaluation: Evaluation;
  seconds: number;
}

export interface ConditionResult {
  condition: Condition;
  results: MethodResult[];
  /** Middle frame of the noisy input, ground truth and each method's output, for figures. */
  frames: { title: string; frame: Float32Array }[];
}

export const METHODS = ['raw', 'gaussian xy', 'gaussian xyt', 'moving average', 'SRDTrans (spatial)', 'temporal sampling (DeepCAD-style)'] as const;

/**
 * The ground-truth comparison behind `srdtrans bench quality`: for each condition, simulate,
 * run the classical baselines and train the same network with spatial and with temporal
 * sampling, and score everything against the simulation's ground truth.
 */
export async function runQualityBenchmark(options: QualityOptions): Promise<ConditionResult[]> {
  const conditions: Condition[] = options.frameRates.map((r) => ({ name: `calcium ${r} Hz`, kind: 'calcium', frameRate: r }));
  if (options.smlm) conditions.push({ name: 'SMLM', kind: 'smlm', frameRate: null });
  const out: ConditionResult[] = [];
  for (const condition of conditions) {
    options.onEvent?.({ type: 'condition', condition });
    out.push(await runCondition(condition, options));
  }
  return out;
}

async function runCondition(condition: Condition, options: QualityOptions): Promise<ConditionResult> {
  const shape = [options.frames, options.size, options.size] as const;
  const sim = condition.kind === 'calcium'
    ? simulateCalcium({ shape, frameRate: condition.frameRate!, seed: options.seed, photons: 2 })
    : simulateSmlm({ shape, seed: options.seed });
  const masks = 'masks' in sim ? sim.masks : null;
  const score = (x: Stack) => evaluate(x, sim.clean, masks, { baseline: sim.params.offset });
  const middle = Math.floor(options.frames / 2);
  const frames = [
    { title: 'noisy', frame: frameOf(sim.noisy, middle) },
    { title: 'ground truth', frame: frameOf(sim.clean, middle) },
  ];
  const results: MethodResult[] = [];
  const record = (method: string, output: Stack, started: number) => {
    const seconds = (performance.now() - started) / 1000;
    const evaluation = score(output);
    results.push({ method, evaluation, seconds });
    if (method !== 'raw') frames.push({ title: method, frame: frameOf(output, middle) });
    options.onEvent?.({ type: 'method', condition, method, evaluation, seconds });
  };
  let t0 = performance.now();
  record('raw', sim.noisy, t0);
  t0 = performance.now();
  record('gaussian xy', gaussianSpatial(sim.noisy, 1), t0);
  t0 = performance.now();
  record('gaussian xyt', gaussianSpatioTemporal(sim.noisy, 1, 1), t0);
  t0 = performance.now();
  record('moving average', movingAverage(sim.noisy, 3), t0);
  for (const [sampling, method] of [['spatial', METHODS[4]], ['temporal', METHODS[5]]] as const) {
    t0 = performance.now();
    record(method, await trainAndDenoise(sim.noisy, sampling, method, condition, options), t0);
  }
  return { condition, results, frames };
}

async function trainAndDenoise(noisy: Stack, sampling: SamplingStrategy, method: string, condition: Condition, options: QualityOptions): Promise<Stack> {
  const training: TrainingRecord = {
    ...PUBLISHED_RECIPE, sampling, patchXY: options.patchXY, patchT: options.model.patchT, overlap: 0.5, trainSize: options.steps, epochs: 1,
    lr: options.lr, beta1: 0.5, beta2: 0.999, scale: 1, seed: options.seed, frames: null, inputs: [condition.name],
  };
  const result = await train([noisy], {
    model: options.model, training, sink: memorySink(),
    onEvent: (e) => {
      if (e.type === 'step') options.onEvent?.({ type: 'train-step', condition, method, done: e.stepsDone, total: e.stepsTotal, loss: e.loss });
    },
  });
  const model = new SRDTrans(options.model, options.seed);
  try {
    model.loadStateDict(result.weights!);
    return await denoiseToStack(model, noisy, { patchXY: options.patchXY, overlap: 0.5, scale: 1, asFloat: true });
  } finally {
    model.dispose();
  }
}
