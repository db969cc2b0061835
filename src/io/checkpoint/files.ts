/** Checkpoints as files in Node: the codecs on bytes, read and written atomically. */
import { promises as fs } from 'node:fs';
import { CheckpointError } from '../../errors.js';
import type { StateDict } from '../../model/params.js';
import { writeFileAtomic } from '../atomic.js';
import { decodePth, type PthCheckpoint } from './pth.js';
import { encodePth } from './pth-write.js';

export async function readPth(file: string): Promise<PthCheckpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    throw new CheckpointError(`${file}: cannot read the checkpoint; check the path`, { cause: err });
  }
  return decodePth(bytes, file);
}

export async function writePth(file: string, sd: StateDict): Promise<void> {
  await writeFileAtomic(file, encodePth(sd));
}
