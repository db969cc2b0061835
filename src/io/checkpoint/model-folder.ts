import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CheckpointError } from '../../errors.js';
import type { StateDict } from '../../model/params.js';
import type { TrainingLog } from '../../train/record.js';
import type { CheckpointSink, ResumeState } from '../../train/sink.js';
import { writeFileAtomic } from '../atomic.js';
import { BEST_FILE, RESUME_FILE, epochFileName, isFile, readWeights, writeModelRecord, writeWeights } from './model-dir.js';

export const LOG_FILE = 'training-log.json';
export const LOSS_CURVE_FILE = 'loss.png';

/**
 * Training into a model directory: config.json, epoch-NNN.safetensors, best.safetensors,
 * resume.safetensors with training-log.json, and loss.png, each written atomically.
 */
export function modelFolder(dir: string): CheckpointSink {
  return {
    start: (model, training) => writeModelRecord(dir, { model, training }),

    async epoch(epoch, weights, best) {
      const file = path.join(dir, epochFileName(epoch));
      await writeWeights(file, weights, { epoch: String(epoch) });
      if (best) await writeWeights(path.join(dir, BEST_FILE), weights, { epoch: String(epoch), val_loss: String(best.valLoss) });
      return file;
    },

    async progress({ tensors, position, log }) {
      const file = path.join(dir, RESUME_FILE);
      await writeWeights(file, tensors, { epoch: String(position.epoch), iteration: String(position.iteration), step: String(position.step) });
      await writeFileAtomic(path.join(dir, LOG_FILE), JSON.stringify(log) + '\n');
      return file;
    },

    lossCurve: (png) => writeFileAtomic(path.join(dir, LOSS_CURVE_FILE), png),

    async resumeState(): Promise<ResumeState> {
      const file = path.join(dir, RESUME_FILE);
      if (!(await isFile(file))) {
        throw new CheckpointError(`${file}: not found; there is no interrupted run to resume in ${dir}; to start over, train into a new folder without --resume`);
      }
      const { tensors, metadata } = await readWeights(file);
      return {
        name: file, tensors: tensors as StateDict,
        position: { epoch: Number(metadata['epoch']), iteration: Number(metadata['iteration']), step: Number(metadata['step']) },
        log: await readLog(dir),
      };
    },
  };
}

/** The training log of a model directory; an empty one where it is missing or unreadable. */
export async function readLog(dir: string): Promise<TrainingLog> {
  try {
    const log = JSON.parse(await fs.readFile(path.join(dir, LOG_FILE), 'utf8')) as Partial<TrainingLog>;
    return { losses: log.losses ?? [], epochs: log.epochs ?? [] };
  } catch {
    // The log only feeds the loss curve and the best epoch; a missing one restarts them, not the training.
    return { losses: [], epochs: [] };
  }
}
