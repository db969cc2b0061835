import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CheckpointError } from '../../errors.js';
import type { StateDict } from '../../model/params.js';
import { encodeSafetensors, type SafetensorsFile } from './safetensors.js';
import { isPthPath } from './pth.js';
import { pthModel } from './pth-model.js';
import { readPth } from './files.js';
import type { ModelRecord } from '../../train/record.js';
import { folderStore, writeChecked } from './model-folder.js';
import {
  BEST_FILE, CONFIG_FILE, decodeWeights, describeBest, describeNewest, encodeModelRecord, epochFileName, newestEpochName, parseModelRecord,
} from './model-store.js';

/** Model directories in Node (the layout: model-store.ts): reading them, choosing the weights to denoise with. */

export { BEST_FILE, CONFIG_FILE, epochFileName, RESUME_FILE } from './model-store.js';

export async function writeModelRecord(dir: string, record: Omit<ModelRecord, 'format'>): Promise<void> {
  await folderStore(dir).set(CONFIG_FILE, encodeModelRecord(record));
}

export async function readModelRecord(dir: string): Promise<ModelRecord> {
  const file = path.join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new CheckpointError(`${file}: not found; a model directory made by 'srdtrans train' holds a config.json beside its checkpoints`, { cause: err });
  }
  return parseModelRecord(text, file);
}

export async function writeWeights(file: string, tensors: StateDict, metadata: Record<string, string>): Promise<void> {
  await writeChecked(file, encodeSafetensors(tensors, metadata));
}

export async function readWeights(file: string): Promise<SafetensorsFile> {
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    throw new CheckpointError(`${file}: cannot read the checkpoint; check the path`, { cause: err });
  }
  return decodeWeights(bytes, file);
}

/** The newest per-epoch checkpoint of a model directory. */
export async function latestEpochFile(dir: string): Promise<string> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    throw new CheckpointError(`${dir}: model directory not found`, { cause: err });
  }
  const newest = newestEpochName(names);
  if (!newest) throw new CheckpointError(`${dir}: holds no epoch checkpoint yet; train at least one epoch or pass a checkpoint file`);
  return path.join(dir, newest);
}

export interface ResolvedModel {
  record: ModelRecord;
  weightsFile: string;
  /** Which weights of a model directory these are, in words ("best: epoch 7, …"); undefined for a file named directly. */
  chosen?: string;
  /** 'pth': a PyTorch state dict, its record inferred from the tensor shapes (pth-model.ts). */
  format: 'safetensors' | 'pth';
  /** The weights (published names and layouts). */
  load(): Promise<StateDict>;
}

function safetensorsModel(record: ModelRecord, weightsFile: string): ResolvedModel {
  return { record, weightsFile, format: 'safetensors', load: async () => (await readWeights(weightsFile)).tensors };
}

/**
 * The weights a model directory denoises with: epoch `epoch` when given, else best.safetensors
 * (lowest validation loss) where training wrote one, else the newest epoch.
 */
export async function chooseWeights(dir: string, epoch?: number): Promise<{ file: string; chosen: string }> {
  if (epoch !== undefined) {
    const file = path.join(dir, epochFileName(epoch));
    if (!(await isFile(file))) throw new CheckpointError(`${file}: not found; --epoch ${epoch} names an epoch this model directory does not hold`);
    return { file, chosen: `epoch ${epoch} (--epoch)` };
  }
  const best = path.join(dir, BEST_FILE);
  if (await isFile(best)) {
    const meta = await readMetadata(best);
    return { file: best, chosen: describeBest(meta) };
  }
  const latest = await latestEpochFile(dir);
  return { file: latest, chosen: describeNewest(path.basename(latest)) };
}

export async function isFile(file: string): Promise<boolean> {
  return fs.stat(file).then((st) => st.isFile(), () => false);
}

/**
 * The metadata of a safetensors file, reading only its header (8-byte length, JSON): the
 * weights themselves are read once, when the chosen model is loaded.
 */
async function readMetadata(file: string): Promise<Record<string, string>> {
  const handle = await fs.open(file, 'r').catch((err: unknown) => {
    throw new CheckpointError(`${file}: cannot read the checkpoint; check the path`, { cause: err });
  });
  try {
    const length = new Uint8Array(8);
    await handle.read(length, 0, 8, 0);
    const size = Number(new DataView(length.buffer).getBigUint64(0, true));
    const header = new Uint8Array(Math.min(size, 100_000_000));
    const { bytesRead } = await handle.read(header, 0, header.length, 8);
    const parsed = JSON.parse(new TextDecoder().decode(header.subarray(0, bytesRead))) as { __metadata__?: Record<string, string> };
    return parsed.__metadata__ ?? {};
  } catch (err) {
    throw new CheckpointError(`${file}: not a valid safetensors checkpoint (${(err as Error).message}); copy it again or train again`, { cause: err });
  } finally {
    await handle.close();
  }
}

/**
 * `--model` may name a model directory (with `epoch`: that epoch's checkpoint), one checkpoint
 * file inside one, or a PyTorch `.pth` state dict.
 */
export async function resolveModel(modelPath: string, epoch?: number): Promise<ResolvedModel> {
  let stat;
  try {
    stat = await fs.stat(modelPath);
  } catch (err) {
    throw new CheckpointError(`${modelPath}: model not found; pass the directory given to 'srdtrans train --out' or a checkpoint in it`, { cause: err });
  }
  if (stat.isDirectory()) {
    const record = await readModelRecord(modelPath);
    const { file, chosen } = await chooseWeights(modelPath, epoch);
    return { ...safetensorsModel(record, file), chosen };
  }
  if (epoch !== undefined) throw new CheckpointError(`--epoch ${epoch}: applies to a model directory; ${modelPath} is one checkpoint file`);
  // Read once: the tensors are needed to know the configuration anyway.
  if (isPthPath(modelPath)) return pthModel(await readPth(modelPath), modelPath);
  if (!modelPath.endsWith('.safetensors')) {
    throw new CheckpointError(`${modelPath}: unsupported checkpoint type; pass a model directory, a .safetensors checkpoint or a PyTorch .pth state dict`);
  }
  return safetensorsModel(await readModelRecord(path.dirname(modelPath)), modelPath);
}
