import type { SamplingStrategy } from '../data/patches.js';
import type { ModelConfig } from '../model/config.js';
import type { ScheduleKind } from './schedule.js';

/** How a model was trained: everything `--resume` needs to go on, and what `denoise` reads back. */
export interface TrainingRecord {
  sampling: SamplingStrategy;
  patchXY: number;
  patchT: number;
  overlap: number;
  trainSize: number;
  epochs: number;
  lr: number;
  beta1: number;
  beta2: number;
  scale: number;
  seed: number;
  frames: number | null;
  inputs: string[];
  /** Fraction of the patch grid held out for the validation loss (0: none). */
  valFraction: number;
  schedule: ScheduleKind;
  /** Steps of linear learning-rate warm-up. */
  warmup: number;
  /** The model whose weights training started from (`train --init`); null: random. */
  init: string | null;
  /**
   * Stop once the validation loss has not fallen by FLAT_TOLERANCE (relative) for this many
   * epochs in a row; 0: run every epoch.
   */
  patience: number;
}

/** The relative fall of the validation loss that counts as progress for `patience`. */
export const FLAT_TOLERANCE = 1e-3;

/** A model: its architecture and how it was trained (a model directory's config.json). */
export interface ModelRecord {
  format: string;
  model: ModelConfig;
  training: TrainingRecord;
}

/**
 * The published recipe's values of the fields it lacks (no validation, a constant rate, no
 * warm-up, a random start): also what a record written before these fields existed means.
 */
export const PUBLISHED_RECIPE: Pick<TrainingRecord, 'valFraction' | 'schedule' | 'warmup' | 'init' | 'patience'> = {
  valFraction: 0, schedule: 'constant', warmup: 0, init: null, patience: 0,
};

/**
 * How many epochs at the end of `epochs` brought no progress: the validation loss stayed above
 * (1 − FLAT_TOLERANCE) times the lowest one before them. Small gains that add up to more than
 * the tolerance count as progress. 0 without validation.
 */
export function flatEpochs(epochs: readonly EpochRecord[]): number {
  let reference = Infinity;
  let flat = 0;
  for (const e of epochs) {
    if (e.valLoss === null) continue;
    if (e.valLoss < reference * (1 - FLAT_TOLERANCE)) {
      reference = e.valLoss;
      flat = 0;
    } else {
      flat++;
    }
  }
  return flat;
}

/** One finished epoch as the training log records it. */
export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  /** Steps done when it ended. */
  step: number;
  trainLoss: number;
  /** Mean loss on the held-out validation patches; null without any. */
  valLoss: number | null;
  /** Learning rate of its last step. */
  lr: number;
}

/** Every step's loss and every epoch's summary (a model directory's training-log.json). */
export interface TrainingLog {
  losses: number[];
  epochs: EpochRecord[];
}
