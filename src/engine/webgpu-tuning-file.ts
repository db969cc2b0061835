/**
 * Where Node keeps the WebGPU launch shapes measured on each adapter: one JSON file,
 * { "adapters": { "<adapter description>": { convRows, convQuads, … } } }, in the user's cache
 * folder, or the file SRDTRANS_WEBGPU_TUNING names. `npm run bench -- webgpu-tune --write`
 * fills it; the engine reads the entry of the adapter it starts on.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { webGpuTuning, type WebGpuTuning } from './kernels/webgpu-tuning.js';

export function tuningFile(): string {
  const named = process.env['SRDTRANS_WEBGPU_TUNING'];
  if (named) return named;
  const cache = process.env['XDG_CACHE_HOME'] || path.join(os.homedir(), '.cache');
  return path.join(cache, 'srdtrans', 'webgpu-tuning.json');
}

type TuningTable = Record<string, WebGpuTuning>;

async function readTable(file: string): Promise<TuningTable> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return {}; // no tuning yet: the defaults
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: not JSON; delete it or run 'npm run bench -- webgpu-tune --write' again`, { cause: err });
  }
  const adapters = (parsed as { adapters?: unknown }).adapters;
  if (typeof adapters !== 'object' || adapters === null) throw new ConfigError(`${file}: expected { "adapters": { … } }`);
  return Object.fromEntries(Object.entries(adapters).map(([name, t]) => [name, webGpuTuning(t, `${file} (${name})`)]));
}

/** The tuning kept for `adapter`, or none. */
export async function readWebGpuTuning(adapter: string, file = tuningFile()): Promise<WebGpuTuning | undefined> {
  return (await readTable(file))[adapter];
}

/** Keeps `tuning` for `adapter`, beside the other adapters' entries. */
export async function writeWebGpuTuning(adapter: string, tuning: WebGpuTuning, file = tuningFile()): Promise<void> {
  const adapters = { ...(await readTable(file)), [adapter]: tuning };
  await fs.mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, JSON.stringify({ adapters }, null, 2) + '\n');
}
