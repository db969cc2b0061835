import { CheckpointError } from '../errors.js';
import type { ModelStore } from './store.js';

/**
 * A directory of the File System Access API as a ModelStore: in a browser, a folder of the
 * origin-private file system (navigator.storage.getDirectory()), which outlives the page.
 * `name` is what messages call the directory.
 */
export function directoryStore(dir: FileSystemDirectoryHandle, name: string): ModelStore {
  const nameOf = (key: string): string => `${name}/${key}`;
  return {
    name,
    nameOf,
    async get(key) {
      let file: File;
      try {
        file = await (await dir.getFileHandle(key)).getFile();
      } catch (err) {
        if ((err as DOMException).name === 'NotFoundError') return undefined;
        throw new CheckpointError(`${nameOf(key)}: cannot read (${(err as Error).message}); the browser's storage may have been cleared`, { cause: err });
      }
      return new Uint8Array(await file.arrayBuffer());
    },
    async set(key, bytes) {
      // A writable stream writes to a copy that replaces the file only on close: old bytes or new.
      try {
        const stream = await (await dir.getFileHandle(key, { create: true })).createWritable();
        await stream.write(bytes as Uint8Array<ArrayBuffer>);
        await stream.close();
      } catch (err) {
        throw new CheckpointError(`${nameOf(key)}: cannot write (${(err as Error).message}); free some of the browser's storage (delete saved models) and try again`, { cause: err });
      }
    },
    async list() {
      const keys: string[] = [];
      for await (const [key, handle] of dir.entries()) if (handle.kind === 'file') keys.push(key);
      return keys;
    },
  };
}
