import { CheckpointError } from '../../errors.js';
import { inferModelConfig } from '../../model/infer-config.js';
import type { StateDict } from '../../model/params.js';
import { PUBLISHED_RECIPE, type ModelRecord, type TrainingRecord } from '../../train/record.js';
import type { PthCheckpoint } from './pth.js';

/**
 * A PyTorch `.pth` state dict used as `--model`: it carries no config.json, so the architecture
 * comes from its tensor shapes and everything about training takes the published defaults
 * (patch 128×128, overlap 0.5, scale 1), which are what the published test.py uses too.
 */

/** `format` of the ModelRecord made for a `.pth` (no config.json behind it). */
export const PTH_RECORD_FORMAT = 'pytorch-state-dict';

export function pthTrainingDefaults(patchT: number): TrainingRecord {
  return {
    ...PUBLISHED_RECIPE,
    sampling: 'spatial',
    patchXY: 128,
    patchT,
    overlap: 0.5,
    trainSize: 6000,
    epochs: 30,
    lr: 1e-4,
    beta1: 0.5,
    beta2: 0.999,
    scale: 1,
    seed: 0,
    frames: null,
    inputs: [],
  };
}

export interface ResolvedPth {
  record: ModelRecord;
  weightsFile: string;
  format: 'pth';
  checkpoint: PthCheckpoint;
  load(): Promise<StateDict>;
}

/** A decoded state dict as a model; `file` (its path or name) starts messages. */
export function pthModel(checkpoint: PthCheckpoint, file: string): ResolvedPth {
  let model;
  try {
    model = inferModelConfig(checkpoint.tensors);
  } catch (err) {
    if (err instanceof CheckpointError) throw new CheckpointError(`${file}: ${err.message}`, { cause: err });
    throw err;
  }
  return {
    record: { format: PTH_RECORD_FORMAT, model, training: pthTrainingDefaults(model.patchT) },
    weightsFile: file,
    format: 'pth',
    checkpoint,
    load: async () => checkpoint.tensors,
  };
}
