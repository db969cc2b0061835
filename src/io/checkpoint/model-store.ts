import { CheckpointError } from '../../errors.js';
import type { ModelConfig } from '../../model/config.js';
import type { StateDict } from '../../model/params.js';
import { PUBLISHED_RECIPE, type ModelRecord, type TrainingLog, type TrainingRecord } from '../../train/record.js';
import type { CheckpointSink, ResumeState } from '../../train/sink.js';
import type { ModelStore } from '../store.js';
import { decodeSafetensors, encodeSafetensors, type SafetensorsFile } from './safetensors.js';

/**
 * A model's files in a store (a model directory in Node): `config.json` (architecture and how it
 * was trained, so `denoise` never needs them repeated), one weights file per finished epoch,
 * `best.safetensors`, `resume.safetensors` (weights plus optimiser state for `train --resume`)
 * with `training-log.json`, and `loss.png`.
 */

export const CONFIG_FILE = 'config.json';
export const RESUME_FILE = 'resume.safetensors';
/** The epoch with the lowest validation loss so far (only written when there is validation). */
export const BEST_FILE = 'best.safetensors';
export const LOG_FILE = 'training-log.json';
export const LOSS_CURVE_FILE = 'loss.png';
const FORMAT = 'srdtrans-ts/1';

export function epochFileName(epoch: number): string {
  return `epoch-${String(epoch).padStart(3, '0')}.safetensors`;
}

export function encodeModelRecord(record: Omit<ModelRecord, 'format'>): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ format: FORMAT, ...record }, null, 2) + '\n');
}

/** A config.json's text as a record, fields it predates taking the published values; `file` starts messages. */
export function parseModelRecord(text: string, file: string): ModelRecord {
  let record: ModelRecord;
  try {
    record = JSON.parse(text) as ModelRecord;
  } catch (err) {
    throw new CheckpointError(`${file}: not valid JSON; restore it from the training run or retrain`, { cause: err });
  }
  if (record.format !== FORMAT || !record.model || !record.training) {
    throw new CheckpointError(`${file}: not an srdtrans-ts model config (format '${String(record.format)}')`);
  }
  return { ...record, training: { ...PUBLISHED_RECIPE, ...record.training } };
}

/** A safetensors checkpoint's bytes, decoded; `file` starts messages. */
export function decodeWeights(bytes: Uint8Array, file: string): SafetensorsFile {
  try {
    return decodeSafetensors(bytes);
  } catch (err) {
    throw new CheckpointError(
      `${file}: not a valid safetensors checkpoint (${(err as Error).message}); it may be truncated: copy it again, pass another checkpoint, or train again`,
      { cause: err },
    );
  }
}

/** Training into a store: the sink writes each file whole (see ModelStore.set). */
export function storeSink(store: ModelStore): CheckpointSink {
  const weights = (tensors: StateDict, metadata: Record<string, string>): Uint8Array => encodeSafetensors(tensors, metadata);
  return {
    start: (model: ModelConfig, training: TrainingRecord) => store.set(CONFIG_FILE, encodeModelRecord({ model, training })),

    async epoch(epoch, tensors, best) {
      await store.set(epochFileName(epoch), weights(tensors, { epoch: String(epoch) }));
      if (best) await store.set(BEST_FILE, weights(tensors, { epoch: String(epoch), val_loss: String(best.valLoss) }));
      return store.nameOf(epochFileName(epoch));
    },

    async progress({ tensors, position, log }) {
      await store.set(RESUME_FILE, weights(tensors, { epoch: String(position.epoch), iteration: String(position.iteration), step: String(position.step) }));
      await store.set(LOG_FILE, new TextEncoder().encode(JSON.stringify(log) + '\n'));
      return store.nameOf(RESUME_FILE);
    },

    lossCurve: (png) => store.set(LOSS_CURVE_FILE, png),

    async resumeState(): Promise<ResumeState> {
      const name = store.nameOf(RESUME_FILE);
      const bytes = await store.get(RESUME_FILE);
      if (!bytes) {
        throw new CheckpointError(`${name}: not found; there is no interrupted run to resume in ${store.name}; to start over, train into a new folder without --resume`);
      }
      const { tensors, metadata } = decodeWeights(bytes, name);
      return {
        name, tensors: tensors as StateDict,
        position: { epoch: Number(metadata['epoch']), iteration: Number(metadata['iteration']), step: Number(metadata['step']) },
        log: await readTrainingLog(store),
      };
    },
  };
}

/**
 * The weights a model in a store denoises with, as `srdtrans denoise` chooses them in a model
 * directory: best.safetensors where training wrote one, else the newest epoch; undefined when
 * no epoch has finished yet. `chosen` says which, in words.
 */
export async function chooseStoreWeights(store: ModelStore): Promise<{ tensors: StateDict; chosen: string } | undefined> {
  const keys = await store.list();
  if (keys.includes(BEST_FILE)) {
    const { tensors, metadata } = decodeWeights((await store.get(BEST_FILE))!, store.nameOf(BEST_FILE));
    return { tensors: tensors as StateDict, chosen: describeBest(metadata) };
  }
  const newest = newestEpochName(keys);
  if (!newest) return undefined;
  const { tensors } = decodeWeights((await store.get(newest))!, store.nameOf(newest));
  return { tensors: tensors as StateDict, chosen: describeNewest(newest) };
}

/** The last epoch's checkpoint among `names`, in numeric order (names are zero-padded to three digits only). */
export function newestEpochName(names: readonly string[]): string | undefined {
  const epochOf = (n: string): number => Number(/^epoch-(\d+)\.safetensors$/.exec(n)?.[1] ?? NaN);
  return names.filter((n) => Number.isFinite(epochOf(n))).sort((a, b) => epochOf(a) - epochOf(b)).at(-1);
}

/** How `denoise` says it took best.safetensors, from that file's metadata. */
export function describeBest(metadata: Record<string, string>): string {
  return `best: epoch ${metadata['epoch'] ?? '?'}, lowest validation loss (${Number(metadata['val_loss']).toPrecision(4)})`;
}

/** How `denoise` says it took the newest epoch, where a run without validation has no best. */
export function describeNewest(name: string): string {
  return `newest: ${name} (no validation, so no best epoch)`;
}

/** The training log (what a run has done so far); an empty one where it is missing or unreadable. */
export async function readTrainingLog(store: ModelStore): Promise<TrainingLog> {
  try {
    const bytes = await store.get(LOG_FILE);
    const log = (bytes ? JSON.parse(new TextDecoder().decode(bytes)) : {}) as Partial<TrainingLog>;
    return { losses: log.losses ?? [], epochs: log.epochs ?? [] };
  } catch {
    // The log only feeds the loss curve and the best epoch; a missing one restarts them, not the training.
    return { losses: [], epochs: [] };
  }
}
