import * as path from 'node:path';
import { CheckpointError, ConfigError } from '../errors.js';
import { buildBioimageioPackage, type BioimageioOptions, type PackageFile } from '../export/bioimageio/package.js';
import { writePth } from '../io/checkpoint/files.js';
import { writeBioimageioPackage, writeOnnx } from '../export/files.js';
import { resolveModel, type ResolvedModel } from '../io/checkpoint/model-dir.js';
import { exportOnnx, ONNX_DEFAULT_PATCH_XY, ONNX_INPUT, ONNX_OPSET, ONNX_OUTPUT } from '../export/onnx/export.js';
import type { ModelConfig } from '../model/config.js';
import { formatShape, type StateDict } from '../model/params.js';
import { modelEntries } from '../model/srdtrans.js';
import { initEngine } from '../engine/backend.js';
import { numberOption, parseCommand, stringOption, type OptionSpec } from './args.js';
import { loadModel } from './model.js';

const SPEC: OptionSpec = {
  pth: { type: 'string', help: 'PyTorch state dict to write (.pth), loadable by the published SRDTrans code' },
  onnx: { type: 'string', help: 'ONNX model to write (.onnx): the inference network, fixed input [1, 1, T, XY, XY]' },
  bioimageio: { type: 'string', help: 'BioImage Model Zoo package to write (.zip) for deepImageJ, ilastik, napari: ONNX at --patch-xy, test tensors, README' },
  author: { type: 'string', help: 'author named in the --bioimageio package' },
  license: { type: 'string', help: 'SPDX licence of the --bioimageio package', default: 'CC-BY-4.0' },
  model: { type: 'string', help: 'model directory from `srdtrans train`, or a checkpoint file in one' },
  'patch-xy': { type: 'string', help: 'ONNX input height and width', default: ONNX_DEFAULT_PATCH_XY },
  'patch-t': { type: 'string', help: "ONNX input frames; must equal the model's (default: the model's)" },
};

/**
 * `srdtrans export --pth out.pth --onnx out.onnx --model model/`: our weights as a torch.save
 * state dict, so the published PyTorch code (or any torch user) can load them with
 * load_state_dict(strict=True), and/or the inference network as ONNX (opset 17).
 */
export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand('export', '--pth <out.pth> | --onnx <out.onnx> | --bioimageio <out.zip> --model <model dir or checkpoint>', SPEC, args);
  if (parsed === 'help') return 0;
  const { values, positionals } = parsed;
  const pth = stringOption(values, 'pth');
  const onnx = stringOption(values, 'onnx');
  const bioimageio = stringOption(values, 'bioimageio');
  const modelPath = stringOption(values, 'model');
  if (!pth && !onnx && !bioimageio) throw new ConfigError('export: --pth, --onnx or --bioimageio <file to write> is required');
  if (!modelPath) throw new ConfigError('export: --model <model dir or checkpoint> is required');
  if (positionals.length > 0) throw new ConfigError(`export: unexpected argument '${positionals[0]}'; see 'srdtrans export --help'`);
  if (pth && path.extname(pth).toLowerCase() !== '.pth' && path.extname(pth).toLowerCase() !== '.pt') {
    throw new ConfigError(`--pth ${pth}: name the file .pth (or .pt), as PyTorch tools expect`);
  }
  if (onnx && path.extname(onnx).toLowerCase() !== '.onnx') throw new ConfigError(`--onnx ${onnx}: name the file .onnx`);
  if (bioimageio && path.extname(bioimageio).toLowerCase() !== '.zip') throw new ConfigError(`--bioimageio ${bioimageio}: name the file .zip`);
  const patchXY = numberOption(values, 'patch-xy', ONNX_DEFAULT_PATCH_XY, { min: 1, integer: true });
  const resolved = await resolveModel(modelPath);
  const config = resolved.record.model;
  const patchT = numberOption(values, 'patch-t', config.patchT, { min: 1, integer: true });
  const sd = publishedStateDict(config, await resolved.load(), resolved.weightsFile);
  // Both files are built before either is written, so a failure leaves neither behind.
  const onnxBytes = onnx ? exportOnnx(config, sd, { patchXY, patchT, source: resolved.weightsFile }) : undefined;
  const author = stringOption(values, 'author');
  const packageOptions = { patchXY, license: stringOption(values, 'license'), authors: author ? [{ name: author }] : undefined };
  const packageFiles = bioimageio ? await bioimageioPackage(modelPath, resolved, packageOptions) : undefined;
  if (pth) {
    await writePth(pth, sd);
    let params = 0;
    for (const t of sd.values()) if (t.dtype === 'float32') params += t.data.length;
    process.stderr.write(`srdtrans export: wrote ${pth} (${sd.size} tensors, ${params} parameters) from ${resolved.weightsFile}\n`);
    process.stderr.write(`srdtrans export: build the published model with ${publishedArguments(config)}\n`);
  }
  if (onnx && onnxBytes) {
    await writeOnnx(onnx, onnxBytes);
    process.stderr.write(
      `srdtrans export: wrote ${onnx} (ONNX opset ${ONNX_OPSET}, input '${ONNX_INPUT}' and output '${ONNX_OUTPUT}' float32 [1, 1, ${patchT}, ${patchXY}, ${patchXY}]) from ${resolved.weightsFile}\n`,
    );
  }
  if (bioimageio && packageFiles) {
    await writeBioimageioPackage(bioimageio, packageFiles);
    process.stderr.write(`srdtrans export: wrote ${bioimageio} (BioImage Model Zoo package: ${packageFiles.map((f) => f.name).join(', ')}) from ${resolved.weightsFile}\n`);
  }
  return 0;
}

/** The package's files; the test output comes from running the network on wasm. */
async function bioimageioPackage(modelPath: string, resolved: ResolvedModel, options: BioimageioOptions): Promise<PackageFile[]> {
  await initEngine('wasm');
  const { model, record, weightsFile } = await loadModel(modelPath, resolved);
  try {
    return await buildBioimageioPackage({ model, record, weightsFile }, options);
  } finally {
    model.dispose();
  }
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
