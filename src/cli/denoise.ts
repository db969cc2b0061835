import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import { denoiseStack, sourceMean } from '../infer/denoise.js';
import { autoParallel } from '../infer/auto-parallel.js';
import { WorkerPool } from '../infer/worker-pool.js';
import { outputDType } from '../infer/stitch.js';
import { checkZarrOutput, createStackFile, openStackFile, type StackFileWriter } from '../io/stack-file.js';
import { markShardDone, openShardStore, parseShard, shardDone, shardFrames, type ShardSpec } from '../io/zarr/shards.js';
import { defaultChunks, ZarrStackWriter } from '../io/zarr/writer.js';
import { isZarrPath } from '../io/zarr/files.js';
import { makeOutputFolder } from './output.js';
import { resolveModel, type ResolvedModel } from '../io/checkpoint/model-dir.js';
import { inferenceGrid } from '../data/patches.js';
import { expandInputs } from '../io/inputs.js';
import { choiceOption, numberOption, parseCommand, stringOption, threadCountOption, type OptionSpec } from './args.js';
import { DENOISE_BACKENDS, openDenoiseNetwork, type DenoiseBackend, type DenoiseNetwork } from './denoise-network.js';
import { ProgressBar, progressMode } from './progress.js';

const SPEC: OptionSpec = {
  model: { type: 'string', help: 'model directory from `srdtrans train` (its best epoch), a checkpoint file in one, or a .pth' },
  epoch: { type: 'string', help: 'with a model directory: use this epoch\'s checkpoint instead of the best one' },
  out: { type: 'string', help: 'output TIFF or OME-Zarr (a name ending in .zarr) for one input, or a folder (several inputs, or an existing folder)' },
  shard: { type: 'string', help: 'i/N: compute only shard i of N of an OME-Zarr output (a cluster array task); one input' },
  resume: { type: 'boolean', help: 'with --shard: skip the shard if an earlier run finished it' },
  overwrite: { type: 'boolean', help: 'replace an existing OME-Zarr output (a TIFF output is always replaced)' },
  'zarr-format': { type: 'string', help: 'OME-Zarr output: 3 (OME-NGFF 0.5) or 2 (0.4, for tools that read only Zarr v2)', default: 3 },
  'patch-xy': { type: 'string', help: 'inference patch width/height (default: the training patch size)' },
  'patch-t': { type: 'string', help: 'inference patch length; must equal the model\'s (default: the model\'s)' },
  overlap: { type: 'string', help: 'overlap of neighbouring patches, 0..<1', default: 0.5 },
  scale: { type: 'string', help: 'divide pixel values by this first (default: the training scale)' },
  float: { type: 'boolean', help: 'write float32 instead of the input\'s integer type' },
  channel: { type: 'string', help: 'channel to use in a multi-channel file (0-based)' },
  backend: { type: 'string', help: `${DENOISE_BACKENDS.join('|')} (auto: webgpu on a GPU, else onnx if installed, else wasm)`, default: 'auto' },
  workers: { type: 'string', help: 'wasm/cpu: worker threads computing patches at once (auto: one per core once the first patch shows it pays)', default: 'auto' },
  json: { type: 'boolean', help: 'one JSON object per event on stdout instead of a progress bar' },
};

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand('denoise', '<stack.tif|stack.zarr|folder>... --model <model> --out <file|folder> [options]', SPEC, args);
  if (parsed === 'help') return 0;
  const { values, positionals } = parsed;
  const modelPath = stringOption(values, 'model');
  const out = stringOption(values, 'out');
  if (!modelPath) throw new ConfigError('denoise: --model <model dir or checkpoint> is required');
  if (!out) throw new ConfigError('denoise: --out <file or folder> is required');
  if (positionals.length === 0) throw new ConfigError('denoise: name at least one stack (TIFF file or folder)');
  const json = values['json'] === true;
  const log = (line: string) => (json ? undefined : process.stderr.write(line + '\n'));
  const emit = (obj: Record<string, unknown>) => json && process.stdout.write(JSON.stringify(obj) + '\n');

  // Everything that can be checked without the engine is checked first, so a bad option, model or
  // input is reported as one line before any work starts and before any output exists.
  const backend = choiceOption<DenoiseBackend>(values, 'backend', DENOISE_BACKENDS, 'auto');
  const channel = values['channel'] === undefined ? undefined : numberOption(values, 'channel', 0, { min: 0, integer: true });
  const workersOption = threadCountOption(values, 'workers');
  const autoWorkers = workersOption === 'auto';
  const workers = autoWorkers ? availableParallelism() : workersOption;
  const zarrFormat = numberOption(values, 'zarr-format', 3, { min: 2, max: 3, integer: true }) as 2 | 3;
  const epoch = values['epoch'] === undefined ? undefined : numberOption(values, 'epoch', 1, { min: 1, integer: true });
  const resolved = await resolveModel(modelPath, epoch);
  const { record } = resolved;
  const patchT = numberOption(values, 'patch-t', record.model.patchT, { min: 1, integer: true });
  if (patchT !== record.model.patchT) {
    throw new ConfigError(`--patch-t ${patchT}: this model was built for patches of ${record.model.patchT} frames (its positional embedding fixes the length); omit --patch-t`);
  }
  const options = {
    patchXY: numberOption(values, 'patch-xy', record.training.patchXY, { min: 1, integer: true }),
    overlap: numberOption(values, 'overlap', 0.5, { min: 0, max: 0.95 }),
    scale: numberOption(values, 'scale', record.training.scale, { min: Number.MIN_VALUE }),
    asFloat: values['float'] === true,
  };
  const files = await expandInputs(positionals);
  const shard = values['shard'] === undefined ? null : parseShard(stringOption(values, 'shard')!);
  if (shard && (files.length !== 1 || !isZarrPath(out) || /^https?:/i.test(out))) {
    throw new ConfigError(files.length !== 1
      ? `--shard: a sharded run denoises one stack (got ${files.length}); run one job per stack`
      : `--shard: --out ${out} must be an OME-Zarr folder (a name ending in .zarr): shards write its chunks`);
  }
  let patches = 0;
  for (const file of files) patches += await checkInput(file, channel, { ...options, patchT });
  const targets = await outputPaths(files, out);
  if (!shard) for (const target of targets) await checkZarrOutput(target, values['overwrite'] === true);
  const part = shard ? await prepareShard(files[0]!, out, shard, { channel, zarrFormat, weightsFile: resolved.weightsFile, settings: { ...options, patchT } }) : null;
  if (part?.done && values['resume'] === true) {
    log(`srdtrans denoise: shard ${shard!.index}/${shard!.count} (frames ${part.frames[0]}..${part.frames[1]}) was finished by an earlier run; nothing to do`);
    emit({ event: 'done', file: files[0], output: out, shard: `${shard!.index}/${shard!.count}`, skipped: true });
    return 0;
  }

  let loaded: (DenoiseNetwork & { inFlight?: number }) | null = null;
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    for (const [i, file] of files.entries()) {
      // Read as the patches need it, never whole: memory does not grow with the stack's length.
      const stack = await openStackFile(file, channel === undefined ? {} : { channel });
      const target = targets[i]!;
      const scale = 'scale' in stack.info ? { scale: stack.info.scale } : {};
      const writer = await (part ? part.open() : createStackFile(target, stack.shape, outputDType(stack.dtype, options.asFloat), { format: zarrFormat, ...scale }))
        .catch(async (err: unknown) => {
          await stack.close();
          throw err;
        });
      let started = Date.now();
      try {
        if (!loaded) {
          loaded = await openDenoiseNetwork(backend, modelPath, resolved, options.patchXY);
          if (workers > 1) {
            loaded = await onWorkers(loaded, resolved, {
              workers, patches: autoWorkers ? patches : null,
              onSwitch: (e) => {
                emit({ event: 'workers', workers: e.ok ? workers : 1, ...(e.ok ? { firstPatchSeconds: e.firstPatchSeconds } : { error: e.error.message }) });
                log(e.ok
                  ? `srdtrans denoise: ${workers} worker threads take over (first patch ${e.firstPatchSeconds.toFixed(1)} s)`
                  : `srdtrans denoise: worker threads did not start (${e.error.message}); one thread carries on`);
              },
            });
          }
          emit({ event: 'engine', ...loaded.engine });
          log(`srdtrans denoise: ${loaded.description}`);
          log(`srdtrans denoise: model ${loaded.weightsFile}${resolved.chosen ? ` (${resolved.chosen})` : ''} (patch ${options.patchXY}×${options.patchXY}×${patchT}, overlap ${options.overlap})`);
          started = Date.now();
        }
        const bar = new ProgressBar(`denoise ${path.basename(file)}`, progressMode(json));
        await denoiseStack(loaded.network, stack, {
          ...options, name: file, signal: controller.signal, ...(part ? { frames: part.frames } : {}),
          inFlight: loaded.inFlight ?? 1,
          onProgress: (done, total) => {
            bar.update({ done, total });
            if (json) emit({ event: 'patch', file, done, total });
          },
        }, writer);
        await writer.close();
        if (part) await part.finish();
      } catch (err) {
        await writer.abort();
        throw err;
      } finally {
        await stack.close();
      }
      const seconds = (Date.now() - started) / 1000;
      log(`srdtrans denoise: wrote ${target} (${stack.shape.join('×')}, ${seconds.toFixed(1)} s)`);
      emit({ event: 'done', file, output: target, seconds });
    }
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    await loaded?.network.dispose();
  }
}

/**
 * The TF.js network on the CPU backends moved onto worker threads, each with its own engine, so
 * that several cores compute patches (one wasm or cpu engine uses one): at once for an explicit
 * --workers, or (`patches` given, --workers auto) once the first patch shows that the job is long
 * enough to repay starting them. WebGPU and ONNX Runtime use the machine's parallelism
 * themselves and are left as they are.
 */
async function onWorkers(
  loaded: DenoiseNetwork, resolved: ResolvedModel,
  o: { workers: number; patches: number | null; onSwitch: Parameters<typeof autoParallel>[1]['onSwitch'] },
): Promise<DenoiseNetwork & { inFlight: number }> {
  const backend = loaded.engine.backend;
  if (backend !== 'wasm' && backend !== 'cpu') return { ...loaded, inFlight: 1 };
  const start = async () => WorkerPool.start(o.workers, { backend, config: resolved.record.model, weights: await resolved.load() });
  if (o.patches !== null) {
    const network = autoParallel(loaded.network, { patches: o.patches, startParallel: start, onSwitch: o.onSwitch });
    return { ...loaded, network, inFlight: o.workers };
  }
  const pool = await start();
  await loaded.network.dispose();
  return { ...loaded, network: pool, inFlight: o.workers, description: `${loaded.description}, ${o.workers} worker threads` };
}

/**
 * Opens a stack's header (type, channels, shape) and checks that the patches fit it; a float
 * stack is also scanned for NaN and ±Inf, so that such a file is one line before any work
 * starts. Returns the patch count.
 */
async function checkInput(file: string, channel: number | undefined, o: { patchXY: number; patchT: number; overlap: number }): Promise<number> {
  const reader = await openStackFile(file, channel === undefined ? {} : { channel });
  try {
    const patches = inferenceGrid(reader.shape, { patchXY: o.patchXY, patchT: o.patchT, overlap: o.overlap, name: file }).length;
    if (reader.dtype === 'float32') await sourceMean(reader, file);
    return patches;
  } finally {
    await reader.close();
  }
}

/**
 * A shard's part of a sharded job's OME-Zarr output: the store (made now if no shard has made it),
 * the frames this shard writes, whether an earlier run finished it, and its writer. The job is
 * the input, the model's bytes and the inference settings: shards of one job share a store.
 */
async function prepareShard(
  file: string, out: string, spec: ShardSpec,
  o: { channel: number | undefined; zarrFormat: 2 | 3; weightsFile: string; settings: Record<string, unknown> },
): Promise<{ frames: [number, number]; done: boolean; open(): Promise<StackFileWriter>; finish(): Promise<void> }> {
  const reader = await openStackFile(file, o.channel === undefined ? {} : { channel: o.channel });
  const { shape, dtype } = reader;
  const scale = 'scale' in reader.info ? { scale: reader.info.scale } : {};
  await reader.close();
  const weights = await fs.readFile(o.weightsFile);
  const job = {
    input: /^https?:/i.test(file) ? file : path.resolve(file), channel: o.channel ?? null, shape, dtype,
    model: path.resolve(o.weightsFile), modelSha256: createHash('sha256').update(weights).digest('hex'), ...o.settings,
  };
  const outType = outputDType(dtype, o.settings['asFloat'] === true);
  // Checked before the store is made, so that a shard that cannot exist writes nothing.
  shardFrames(shape[0], defaultChunks(shape)[0], spec);
  const { store, chunks } = await openShardStore(out, shape, outType, job, { format: o.zarrFormat, ...scale });
  const frames = shardFrames(shape[0], chunks[0], spec);
  return {
    frames,
    done: await shardDone(out, spec),
    open: async () => {
      const writer = await ZarrStackWriter.openPart(store, frames[0], frames[1]);
      // Chunks a killed shard left half-written are rewritten by its rerun; there is nothing to remove.
      return { writeFrames: (f) => writer.writeFrames(f), close: () => writer.close(), abort: async () => undefined };
    },
    finish: () => markShardDone(out, spec, { shard: `${spec.index}/${spec.count}`, frames, finished: new Date().toISOString() }),
  };
}

/** One output per input: `--out` is the file (or .zarr store) itself for one input, else a folder. */
async function outputPaths(files: readonly string[], out: string): Promise<string[]> {
  const isDir = !isZarrPath(out) && (await fs.stat(out).then((s) => s.isDirectory(), () => false));
  if (files.length === 1 && !isDir && !out.endsWith(path.sep)) return [out];
  await makeOutputFolder(out);
  // Each output in its input's format.
  return files.map((f) => {
    const name = path.basename(f.replace(/\/+$/, ''));
    return path.join(out, isZarrPath(f) ? `${name.replace(/\.zarr$/i, '')}_denoised.zarr` : `${name.replace(/\.tiff?$/i, '')}_denoised.tif`);
  });
}
