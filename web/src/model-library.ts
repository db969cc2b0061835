/**
 * The models kept in the browser: one folder each in the origin-private file system, holding
 * what `srdtrans train --out` writes (config.json, epoch checkpoints, best, resume state, log;
 * model-store.ts) plus entry.json (the name the user gave it, when it was made). They outlive
 * the page, so a reload finds them, and an interrupted run can go on from its resume state.
 */
import {
  chooseStoreWeights, CONFIG_FILE, decodeWeights, directoryStore, encodeModelRecord, encodeSafetensors, parseModelRecord,
  readTrainingLog, RESUME_FILE, UserError, type ModelConfig, type ModelRecord, type ModelStore, type StateDict,
} from '../../src/index.js';
import type { ModelEntry } from './protocol.js';

const FOLDER = 'srdtrans-models';
const ENTRY_FILE = 'entry.json';
/** The weights of a model loaded from a file (a .pth), which has no epochs. */
const IMPORTED_FILE = 'imported.safetensors';

interface EntryFile {
  name: string;
  created: string;
}

/** A model read back from the library: weights null while no epoch of its training has finished. */
export interface StoredModel {
  entry: ModelEntry;
  record: ModelRecord;
  weights: StateDict | null;
  /** Which weights, in words (best epoch, newest epoch, imported). */
  chosen: string;
}

export function describeConfig(c: ModelConfig): string {
  return `f-maps ${c.fMaps.join(',')}, embed ${c.embedDim}, ${c.heads} heads, MLP ${c.mlpDim}, window ${c.window}, ${c.blocks} blocks, ${c.patchT} frames`;
}

export class ModelLibrary {
  private constructor(private readonly root: FileSystemDirectoryHandle) {}

  static async open(): Promise<ModelLibrary> {
    try {
      return new ModelLibrary(await (await navigator.storage.getDirectory()).getDirectoryHandle(FOLDER, { create: true }));
    } catch (err) {
      throw new UserError(`the browser's storage (origin-private file system) is not available here (${(err as Error).message}); models cannot be kept`, { cause: err });
    }
  }

  /** A new, empty entry; its folder is the store training writes to. */
  async create(name: string): Promise<{ id: string; store: ModelStore }> {
    const created = new Date().toISOString();
    const id = `${created.replace(/[^0-9]/g, '')}-${Math.random().toString(36).slice(2, 8)}`;
    const store = await this.store(id, true);
    await writeEntry(store, { name, created });
    return { id, store };
  }

  /** A model from a file: its record and weights, as an entry of its own. */
  async import(name: string, record: ModelRecord, weights: StateDict): Promise<string> {
    const { id, store } = await this.create(name);
    await store.set(CONFIG_FILE, encodeModelRecord({ model: record.model, training: record.training }));
    await store.set(IMPORTED_FILE, encodeSafetensors(weights, { source: name }));
    return id;
  }

  async store(id: string, create = false): Promise<ModelStore> {
    let dir: FileSystemDirectoryHandle;
    try {
      dir = await this.root.getDirectoryHandle(id, { create });
    } catch (err) {
      throw new UserError(`model ${id}: not in the browser's storage any more (deleted in another tab?); reload the page`, { cause: err });
    }
    return directoryStore(dir, `${FOLDER}/${id}`);
  }

  /** Every entry, newest first; a folder that is not a whole entry (a run that failed at once) is left out. */
  async list(): Promise<ModelEntry[]> {
    const entries: ModelEntry[] = [];
    for await (const [id, handle] of this.root.entries()) {
      if (handle.kind !== 'directory') continue;
      const entry = await this.entry(id).catch(() => null);
      if (entry) entries.push(entry);
    }
    return entries.sort((a, b) => b.created.localeCompare(a.created));
  }

  async entry(id: string): Promise<ModelEntry> {
    const store = await this.store(id);
    const keys = await store.list();
    const { name, created } = JSON.parse(await text(store, ENTRY_FILE)) as EntryFile;
    const record = parseModelRecord(await text(store, CONFIG_FILE), store.nameOf(CONFIG_FILE));
    const imported = keys.includes(IMPORTED_FILE);
    const epochsDone = imported ? 0 : (await readTrainingLog(store)).epochs.length;
    return {
      id, name, created, architecture: describeConfig(record.model),
      trained: imported ? null : { epochsDone, epochs: record.training.epochs },
      resumable: keys.includes(RESUME_FILE),
      usable: imported || epochsDone > 0,
    };
  }

  async load(id: string): Promise<StoredModel> {
    const entry = await this.entry(id);
    const store = await this.store(id);
    const record = parseModelRecord(await text(store, CONFIG_FILE), store.nameOf(CONFIG_FILE));
    const imported = await store.get(IMPORTED_FILE);
    if (imported) return { entry, record, weights: decodeWeights(imported, store.nameOf(IMPORTED_FILE)).tensors as StateDict, chosen: 'imported' };
    const chosen = await chooseStoreWeights(store);
    return { entry, record, weights: chosen?.tensors ?? null, chosen: chosen?.chosen ?? 'no epoch finished yet' };
  }

  async rename(id: string, name: string): Promise<void> {
    if (!name.trim()) throw new UserError('a model needs a name; type one, or press Escape to keep the old one');
    const store = await this.store(id);
    const entry = JSON.parse(await text(store, ENTRY_FILE)) as EntryFile;
    await writeEntry(store, { ...entry, name: name.trim() });
  }

  async remove(id: string): Promise<void> {
    await this.root.removeEntry(id, { recursive: true });
  }
}

async function text(store: ModelStore, key: string): Promise<string> {
  const bytes = await store.get(key);
  if (!bytes) throw new UserError(`${store.nameOf(key)}: missing; this saved model is incomplete, delete it`);
  return new TextDecoder().decode(bytes);
}

function writeEntry(store: ModelStore, entry: EntryFile): Promise<void> {
  return store.set(ENTRY_FILE, new TextEncoder().encode(JSON.stringify(entry) + '\n'));
}
