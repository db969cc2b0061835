import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** A temporary name beside `target`, so the final rename stays on one file system. */
export function temporaryPath(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.partial-${process.pid}`);
}

/** Writes a whole file under a temporary name and renames it into place, so no reader ever sees half of it. */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  const tmp = temporaryPath(target);
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}
