/** Expands command-line inputs (TIFF files, OME-Zarr stores, folders of TIFFs) into a list of stacks. */
import { promises as fsp } from 'node:fs';
import * as nodePath from 'node:path';
import { StackError } from '../errors.js';
import { isZarrPath } from './zarr/files.js';

const TIFF_NAME = /\.tiff?$/i;
const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** Natural order: "frame2.tif" before "frame10.tif"; ties broken by code points so the order is total. */
export function naturalCompare(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

function q(p: string): string {
  return `"${p.replace(/[\u0000-\u001f]/g, '?')}"`;
}

/**
 * Each argument is a TIFF file, an OME-Zarr store (a folder named *.zarr, or an http(s) URL) or a
 * folder; a folder stands for its *.tif / *.tiff files (not recursive, hidden files skipped), in
 * natural order. A file given twice is listed once.
 * Throws StackError for a missing path, an unreadable folder, a folder without TIFFs, or no inputs.
 */
export async function expandInputs(paths: readonly string[]): Promise<string[]> {
  if (paths.length === 0) throw new StackError('No input given. Pass a TIFF file or a folder of TIFF files.');
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (p: string): void => {
    const key = nodePath.resolve(p);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(p);
    }
  };
  for (const p of paths) {
    if (/^https?:\/\//i.test(p)) {
      add(p);
      continue;
    }
    let isDir: boolean;
    try {
      isDir = (await fsp.stat(p)).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new StackError(`Input ${q(p)} does not exist. Check the path.`);
      if (code === 'EACCES' || code === 'EPERM') throw new StackError(`Input ${q(p)} cannot be read: permission denied. Check its permissions.`);
      throw new StackError(`Input ${q(p)} cannot be read: the file system reported ${code ?? 'an I/O error'}. Check that the disk is available.`);
    }
    if (!isDir || isZarrPath(p)) {
      add(p);
      continue;
    }
    let names: string[];
    try {
      const entries = await fsp.readdir(p, { withFileTypes: true });
      names = entries
        .filter((e) => !e.name.startsWith('.') && TIFF_NAME.test(e.name) && (e.isFile() || e.isSymbolicLink()))
        .map((e) => e.name);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new StackError(`Folder ${q(p)} cannot be listed (${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code ?? 'I/O error'}). Check its permissions.`);
    }
    if (names.length === 0) {
      throw new StackError(`Folder ${q(p)} contains no .tif or .tiff files. Pass a folder of TIFF stacks or the files themselves.`);
    }
    names.sort(naturalCompare);
    for (const name of names) add(nodePath.join(p, name));
  }
  return out;
}
