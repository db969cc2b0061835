import * as path from 'node:path';
import { CheckpointError, ConfigError } from '../errors.js';
import { resolveModel } from '../io/checkpoint/model-dir.js';
import { writePth } from '../io/checkpoint/pth-write.js';
import type { ModelConfig } from '../model/config.js';
import { formatShape, type StateDict } from '../model/params.js';
import { modelEntries } from '../model/srdtrans.js';
import { parseCommand, stringOption, type OptionSpec } from './args.js';

const SPEC: OptionSpec = {
  pth: { type: 'string', help: 'PyTorch state dict to write (.pth), loadable by the published SRDTrans code' },
  model: { type: 'string', help: 'model directory from `srdtrans train`, or a checkpoint file in one' },
};

/**
 * `srdtrans export --pth out.pth --model model/`: our weights as a torch.save state dict, so the
 * published PyTorch code (or any torch user) can load them with load_state_dict(strict=True).
 */
export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand('export', '--pth <out.pth> --model <model dir or checkpoint>', SPEC, args);
  if (parsed === 'help') return 0;
  const { values, positionals } = parsed;
  const out = stringOption(values, 'pth');
  const modelPath = stringOption(values, 'model');
  if (!out) throw new ConfigError('export: --pth <file to write> is required');
  if (!modelPath) throw new ConfigError('export: --model <model dir or checkpoint> is required');
  if (positionals.length > 0) throw new ConfigError(`export: unexpected argument '${positionals[0]}'; see 'srdtrans export --help'`);
  if (path.extname(out).toLowerCase() !== '.pth' && path.extname(out).toLowerCase() !== '.pt') {
    throw new ConfigError(`--pth ${out}: name the file .pth (or .pt), as PyTorch tools expect`);
  }
  const resolved = await resolveModel(modelPath);
  const config = resolved.record.model;
  const sd = publishedStateDict(config, await resolved.load(), resolved.weightsFile);
  await writePth(out, sd);
  let params = 0;
  for (const t of sd.values()) if (t.dtype === 'float32') params += t.data.length;
  process.stderr.write(`srdtrans export: wrote ${out} (${sd.size} tensors, ${params} parameters) from ${resolved.weightsFile}\n`);
  process.stderr.write(`srdtrans export: build the published model with ${publishedArguments(config)}\n`);
  return 0;
}

/**
 * The state dict in the published order (as PyTorch's state_dict() lists it), every name and
 * shape checked against the configuration, with the int64 relative_position_index buffers that
 * strict loading requires filled in when the checkpoint left them out.
 */
export function publishedStateDict(config: ModelConfig, sd: StateDict, source: string): StateDict {
  const entries = modelEntries(config);
  const known = new Set(entries.map((e) => e.spec.name));
  for (const name of sd.keys()) {
    if (!known.has(name)) throw new CheckpointError(`${source}: unexpected tensor '${name}' for this model's configuration`);
  }
  const out: StateDict = new Map();
  for (const entry of entries) {
    const { name, shape } = entry.spec;
    const t = sd.get(name);
    if (entry.kind === 'buffer') {
      // Derived from the window size; always written in the standard form the network builds.
      out.set(name, { shape: [...shape], dtype: 'int64', data: entry.spec.values() });
      continue;
    }
    if (!t) throw new CheckpointError(`${source}: lacks the tensor '${name}'`);
    if (t.dtype !== 'float32' || t.shape.length !== shape.length || t.shape.some((v, i) => v !== shape[i])) {
      throw new CheckpointError(`${source}: tensor '${name}' is ${t.dtype} ${formatShape(t.shape)}, the configuration needs float32 ${formatShape(shape)}`);
    }
    out.set(name, t);
  }
  return out;
}

/** The published SRDTrans(...) keyword arguments that match this configuration. */
export function publishedArguments(c: ModelConfig): string {
  return [
    `img_time=${c.patchT}`,
    `embedding_dim=${c.embedDim}`,
    `num_heads=${c.heads}`,
    `hidden_dim=${c.mlpDim}`,
    `window_size=${c.window}`,
    `num_transBlock=${c.blocks}`,
    `f_maps=[${c.fMaps.join(', ')}]`,
  ].join(', ');
}
