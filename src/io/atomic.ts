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

/**
 * `mkdir -p` that always ends: Node's own recursive mkdir spins forever on some paths whose
 * parent exists but refuses new entries (e.g. `/proc/x` on Linux). Throws the system error
 * (with its `code`) when the folder cannot be made, EEXIST→ENOTDIR when a file is in the way.
 */
export async function makeDirectory(dir: string): Promise<void> {
  const abs = path.resolve(dir);
  const ensureDir = async (err: unknown): Promise<void> => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') throw err;
    if (!(await fs.stat(abs).then((s) => s.isDirectory(), () => false))) {
      throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${abs}'`), { code: 'ENOTDIR', path: abs });
    }
  };
  const parent = path.dirname(abs);
  try {
    await fs.mkdir(abs);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === abs) return ensureDir(err);
  }
  await makeDirectory(parent);
  await fs.mkdir(abs).catch(ensureDir);
}

/** A short reason for a failed file-system call, for messages a user reads ("permission denied"). */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT': return 'a folder on the way does not exist or cannot hold new entries';
    case 'ENOTDIR': return 'a part of the path is a file, not a folder';
    case 'EEXIST': return 'a file of that name is in the way';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EROFS': return 'the file system is read-only';
    case 'ENOSPC': return 'the disk is full';
    case 'EDQUOT': return 'the disk quota is exceeded';
    case 'ENAMETOOLONG': return 'the name is too long';
    case 'EISDIR': return 'a folder of that name is in the way';
    default: return code ? `the file system reported ${code}` : (err instanceof Error ? err.message.split('\n')[0]! : String(err));
  }
}
