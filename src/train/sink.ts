import type { ModelConfig } from '../model/config.js';
import type { StateDict } from '../model/params.js';
import type { TrainingLog, TrainingRecord } from './record.js';

/** Where a run stands, to continue it: the next epoch and patch, and Adam's step count. */
export interface RunPosition {
  epoch: number;
  iteration: number;
  step: number;
}

/** What a run left to resume from: weights and optimiser moments (`adam.m.*`, `adam.v.*`), position, log. */
export interface ResumeState {
  /** Where it is kept, for messages (a file path). */
  name: string;
  tensors: StateDict;
  position: RunPosition;
  log: TrainingLog;
}

/**
 * Where training puts what it makes, so that the loop itself touches no files: a model store
 * (io/checkpoint/model-store.ts: a model folder in Node, the origin-private file system in a
 * browser), or memory (memorySink) where the result is used at once.
 * Each method returns once the thing is safely kept; names returned are for messages.
 */
export interface CheckpointSink {
  /** The architecture and training record, once before the first step. */
  start(model: ModelConfig, training: TrainingRecord): Promise<void>;
  /** The weights after epoch `epoch` (1-based); `best` when its validation loss is the lowest so far. Returns its name. */
  epoch(epoch: number, weights: StateDict, best: { valLoss: number } | null): Promise<string>;
  /** State to resume from (after an epoch, or when interrupted). Returns its name. */
  progress(state: Omit<ResumeState, 'name'>): Promise<string>;
  /** The loss curve as PNG bytes. */
  lossCurve(png: Uint8Array): Promise<void>;
  /** The state a previous run left (for `--resume`); throws a CheckpointError saying what to do when there is none. */
  resumeState(): Promise<ResumeState>;
}

/** A sink that keeps only the latest resume state, in memory: training whose result is used at once. */
export function memorySink(): CheckpointSink {
  let saved: ResumeState | undefined;
  return {
    start: async () => undefined,
    epoch: async (epoch) => `epoch ${epoch} (in memory)`,
    progress: async (state) => {
      saved = { ...state, name: 'resume state (in memory)' };
      return saved.name;
    },
    lossCurve: async () => undefined,
    resumeState: async () => {
      if (!saved) throw new Error('internal: nothing to resume in this memory sink');
      return saved;
    },
  };
}
