/**
 * The demo's stack, network and recipe (`srdtrans demo` and the browser app's Demo button): a
 * small simulated calcium stack and a network small enough to train on it in minutes on two
 * CPU cores.
 */
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../model/config.js';
import type { TrainingRecord } from '../train/record.js';
import type { ScheduleKind } from '../train/schedule.js';

/**
 * The published network made narrower (E 64, 4 heads, MLP 128) and shorter (32 frames), so that
 * the demo trains in minutes on two CPU cores.
 */
export const DEMO_MODEL: ModelConfig = { ...DEFAULT_MODEL_CONFIG, fMaps: [8, 16, 32, 64], embedDim: 64, heads: 4, mlpDim: 128, patchT: 32 };
export const DEMO_STACK = { frames: 96, size: 64, frameRate: 0.3, photons: 2 } as const;

/**
 * The demo's recipe (README, "How long to train"), measured on seeds 1–3 on two CPU cores:
 * 32-pixel patches (a step takes a third of a 64-pixel one's time), a constant rate half the
 * one at which runs diverged (1e-3; at 5e-4 it beat a cosine schedule in SNR and SSIM on all
 * three seeds), the best of 8 epochs by validation loss. The same recipe fine-tunes the bundled
 * prior (the default) or trains from scratch; only the prior keeps every seed's dynamics.
 */
export const DEMO_RECIPE = { steps: 800, epochs: 8, lr: 5e-4, patchXY: 32, valFraction: 0.05 } as const;

/** Whether `config` is the demo's network (a prior to fine-tune must be). */
export function isDemoModel(config: ModelConfig): boolean {
  return (Object.keys(DEMO_MODEL) as (keyof ModelConfig)[]).every((k) => JSON.stringify(config[k]) === JSON.stringify(DEMO_MODEL[k]));
}

/** The demo's training settings for a simulated stack of `size`×`size` pixels. */
export function demoTraining(o: {
  size: number; steps: number; epochs: number; seed: number; schedule: ScheduleKind; inputs: string[]; lr?: number; init?: string | null;
}): TrainingRecord {
  const patchXY = Math.min(DEMO_RECIPE.patchXY, o.size - (o.size % 2));
  return {
    sampling: 'spatial', patchXY, patchT: DEMO_MODEL.patchT, overlap: 0.5,
    // Patches per epoch, before the validation share is held out.
    trainSize: Math.ceil(o.steps / o.epochs / (1 - DEMO_RECIPE.valFraction)), epochs: o.epochs,
    lr: o.lr ?? DEMO_RECIPE.lr, beta1: 0.5, beta2: 0.999, scale: 1, seed: o.seed, frames: null, inputs: o.inputs,
    valFraction: DEMO_RECIPE.valFraction, schedule: o.schedule, warmup: o.schedule === 'cosine' ? Math.round(0.03 * o.steps) : 0, init: o.init ?? null, patience: 0,
  };
}

/** The demo denoises with patches as large as the stack allows, up to 64 pixels. */
export function demoDenoisePatchXY(size: number): number {
  return Math.min(64, size - (size % 2));
}
