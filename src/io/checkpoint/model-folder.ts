import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CheckpointError } from '../../errors.js';
import type { CheckpointSink } from '../../train/sink.js';
import { describeFsError, makeDirectory, writeFileAtomic } from '../atomic.js';
import type { ModelStore } from '../store.js';
import { storeSink } from './model-store.js';

/** A folder as a ModelStore: each key a file, written atomically; the folder is made on the first write. */
export function folderStore(dir: string): ModelStore {
  let made = false;
  return {
    name: dir,
    nameOf: (key) => path.join(dir, key),
    async get(key) {
      const file = path.join(dir, key);
      try {
        return await fs.readFile(file);
      } catch (err) {
        if ((err as { code?: string }).code === 'ENOENT') return undefined;
        throw new CheckpointError(`${file}: cannot read (${describeFsError(err)}); check the folder's permissions`, { cause: err });
      }
    },
    async set(key, bytes) {
      if (!made) {
        await makeDirectory(dir).catch((err: unknown) => {
          throw new CheckpointError(`${dir}: cannot create the model directory (${describeFsError(err)}); choose a writable location`, { cause: err });
        });
        made = true;
      }
      await writeChecked(path.join(dir, key), bytes);
    },
    list: () => fs.readdir(dir),
  };
}

/** writeFileAtomic with a message a user can act on (a full disk, a read-only folder). */
export async function writeChecked(file: string, data: Uint8Array): Promise<void> {
  try {
    await writeFileAtomic(file, data);
  } catch (err) {
    throw new CheckpointError(`${file}: cannot write (${describeFsError(err)}); free some space or choose a writable model directory`, { cause: err });
  }
}

/**
 * Training into a model directory: config.json, epoch-NNN.safetensors, best.safetensors,
 * resume.safetensors with training-log.json, and loss.png (see model-store.ts).
 */
export function modelFolder(dir: string): CheckpointSink {
  return storeSink(folderStore(dir));
}
