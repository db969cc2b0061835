/** Exports as files in Node: the ONNX and BioImage Model Zoo bytes, written atomically. */
import { CheckpointError } from '../errors.js';
import { describeFsError, writeFileAtomic } from '../io/atomic.js';
import { zipPackage, type PackageFile } from './bioimageio/package.js';

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
