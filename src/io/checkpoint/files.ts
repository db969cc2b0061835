/** Checkpoints and exports as files in Node: the codecs on bytes, read and written atomically. */
import { promises as fs } from 'node:fs';
import { CheckpointError } from '../../errors.js';
import type { StateDict } from '../../model/params.js';
import { describeFsError, writeFileAtomic } from '../atomic.js';
import { zipPackage, type PackageFile } from './bioimageio.js';
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

/** Writes an exported model (exportOnnx) atomically. */
export async function writeOnnx(file: string, bytes: Uint8Array): Promise<void> {
  await writeExport(file, bytes);
}

/** Writes a BioImage Model Zoo package as one zip, atomically. */
export async function writeBioimageioPackage(file: string, files: PackageFile[]): Promise<void> {
  await writeExport(file, zipPackage(files));
}

async function writeExport(file: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeFileAtomic(file, bytes);
  } catch (err) {
    throw new CheckpointError(`${file}: cannot write (${describeFsError(err)}); free some space or choose a writable location`, { cause: err });
  }
}
