/**
 * A flat store of bytes by key, in the style of zarrita's stores: a model folder in Node
 * (io/checkpoint/model-folder.ts), the origin-private file system or memory in a browser.
 */
export interface ModelStore {
  /** What messages call the store (a folder's path). */
  readonly name: string;
  /** What messages call the entry under `key` (a file's path). */
  nameOf(key: string): string;
  /** The bytes under `key`, or undefined when there are none. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Keeps `bytes` under `key`, whole: a reader sees the old bytes or the new, never a part. */
  set(key: string, bytes: Uint8Array): Promise<void>;
  /** The keys held, in no particular order. */
  list(): Promise<string[]>;
}

/** A store in memory (tests, a browser page that offers the files for download). */
export function memoryStore(name = 'memory'): ModelStore {
  const entries = new Map<string, Uint8Array>();
  return {
    name,
    nameOf: (key) => `${name}/${key}`,
    get: async (key) => entries.get(key),
    set: async (key, bytes) => {
      entries.set(key, bytes.slice());
    },
    list: async () => [...entries.keys()],
  };
}
