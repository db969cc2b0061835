import {
  buildBioimageioPackage, CheckpointError, decodePth, exportOnnx, zipPackage, DEMO_MODEL, DEMO_STACK, demoDenoisePatchXY, demoTraining, denoiseStack, describeEngine,
  encodePth, encodeTiff, evaluate, formatEvaluation, formatGains, initEngine, InterruptedError, isPthPath, memorySink, outputDType, planTiff,
  pthModel, readTrainingLog, RESUME_FILE, simulateCalcium, SRDTrans, storeSink, TiffStackReader, UserError, validateModelConfig, blobSource,
  bytesSource, decodeWeights, isDemoModel, parseModelRecord, CONFIG_FILE,
  type CheckpointSink, type EngineInfo, type ModelRecord, type StateDict, type TrainingRecord,
} from '../../src/index.js';
import { useServedWasm } from './wasm-files.js';
// The demo fine-tunes the CLI's bundled prior (models/demo-prior, README "How long to train").
import priorWeightsUrl from '../../models/demo-prior/best.safetensors?url';
import priorConfigUrl from '../../models/demo-prior/config.json?url';
import type {
  AppBackend, ModelFormat, DenoiseFields, DenoiseResult, FromWorker, Job, JobEvent, JobResults, ModelInfo, ModelList, ToWorker, TrainFields, Trained,
} from './protocol.js';
import { OpenStacks, regionTrace, wholeStack, type OpenStack } from './open-stacks.js';
import { describeConfig, ModelLibrary } from './model-library.js';
import { runTraining, type TrainRun } from './train-job.js';
import { clearStoredOutputs, memoryOutput, storedOutput } from './denoised-output.js';

interface Model {
  /** Its entry in the model library; null for one in memory only. */
  id: string | null;
  /** Trained here and kept in the library, so its run can be resumed. */
  trainedHere: boolean;
  /** Architecture and training settings (a .pth's are the published defaults). */
  record: ModelRecord;
  /** Null while no epoch of its training has finished (it can be resumed, not used). */
  weights: StateDict | null;
  /** Its name in the library (a file's name), for file names and messages. */
  name: string;
  description: string;
}

const stacks = new OpenStacks();
let model: Model | null = null;
let engine: { choice: AppBackend; info: EngineInfo } | null = null;
const running = new Map<number, AbortController>();
let shownFrame = 0;
let library: Promise<ModelLibrary> | null = null;

type Emit = (event: JobEvent) => void;

const post = (message: FromWorker, transfer: Transferable[] = []): void => (self as unknown as Worker).postMessage(message, transfer);

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const message = e.data;
  if ('cancel' in message) {
    running.get(message.cancel)?.abort();
    return;
  }
  if ('view' in message) {
    shownFrame = message.view;
    return;
  }
  void runJob(message.id, message.job);
};

/** Outputs of earlier pages, removed before this page streams one of its own. */
const outputsCleared = clearStoredOutputs();

async function runJob(id: number, job: Job): Promise<void> {
  const controller = new AbortController();
  running.set(id, controller);
  const emit: Emit = (event) => post({ id, type: 'event', event });
  try {
    const result = await handle(job, emit, controller.signal);
    post({ id, type: 'done', result }, transferables(result));
  } catch (err) {
    const cancelled = err instanceof InterruptedError || controller.signal.aborted;
    post({ id, type: 'failed', message: cancelled ? 'cancelled' : oneLine(err), cancelled });
  } finally {
    running.delete(id);
  }
}

/** A UserError is the library's message for the user; anything else is a bug, said in one line. */
function oneLine(err: unknown): string {
  if (err instanceof UserError) return err.message;
  const text = err instanceof Error ? err.message : typeof err === 'object' && err && 'message' in err ? String(err.message) : String(err);
  return `internal error: ${text.split('\n')[0]} (please report it)`;
}

function transferables(result: JobResults[keyof JobResults]): Transferable[] {
  const out: Transferable[] = [];
  if ('raw' in result && result.raw instanceof Float32Array) out.push(result.raw.buffer);
  if ('denoised' in result && result.denoised instanceof Float32Array) out.push(result.denoised.buffer);
  if ('bytes' in result) out.push(result.bytes.buffer);
  return out;
}

async function handle(job: Job, emit: Emit, signal: AbortSignal): Promise<JobResults[keyof JobResults]> {
  switch (job.kind) {
    case 'engine':
      return ensureEngine(job.backend, emit);
    case 'open': {
      const names = await stacks.openFiles(job.files);
      return { names, shown: await stacks.describeShown(job.grid) };
    }
    case 'select-stack':
      stacks.select(job.index);
      return stacks.describeShown(job.grid);
    case 'summary': {
      const { summary, text } = await stacks.describeShown(job.grid);
      return { summary, text };
    }
    case 'frame':
      return frame(job.index);
    case 'trace': {
      const { reader, output } = stacks.shown();
      const raw = await regionTrace(reader, job.polygon);
      return { raw: raw.trace, denoised: output ? (await regionTrace(output, job.polygon)).trace : null, pixels: raw.pixels };
    }
    case 'train':
      await ensureEngine(job.backend, emit);
      return trainModel(job.fields, emit, signal);
    case 'resume':
      await ensureEngine(job.backend, emit);
      return resumeTraining(job.epochs, emit, signal);
    case 'denoise':
      await ensureEngine(job.backend, emit);
      return denoise(job.fields, emit, signal);
    case 'load-model':
      return loadModel(job.file, emit);
    case 'models':
      return modelList();
    case 'use-model':
      model = await fromLibrary(job.id);
      return { model: modelInfo(model) };
    case 'rename-model':
      await (await openLibrary()).rename(job.id, job.name);
      if (model?.id === job.id) model = await fromLibrary(job.id);
      return modelList();
    case 'delete-model':
      await (await openLibrary()).remove(job.id);
      // The model in use stays usable from memory; only its saved copy is gone.
      if (model?.id === job.id) model = { ...model, id: null };
      return modelList();
    case 'export-model':
      return exportModel(job.format, job.patchXY, job.backend, emit);
    case 'demo':
      await ensureEngine(job.backend, emit);
      return demo(job.steps, job.epochs, emit, signal);
  }
}

/** The library, opened once; a failure is said again each time it is needed. */
function openLibrary(): Promise<ModelLibrary> {
  library ??= ModelLibrary.open().catch((err: unknown) => {
    library = null;
    throw err;
  });
  return library;
}

async function modelList(): Promise<ModelList> {
  return { entries: await (await openLibrary()).list(), current: model ? modelInfo(model) : null };
}

async function ensureEngine(choice: AppBackend, emit: Emit): Promise<JobResults['engine']> {
  if (engine?.choice !== choice) {
    // The wasm files are fetched from where the build put them; `auto` may fall back to wasm.
    if (choice !== 'webgpu') await useServedWasm();
    const info = await initEngine(choice);
    engine = { choice, info };
  }
  const result = { engine: engine.info, description: describeEngine(engine.info) };
  emit({ kind: 'engine', ...result });
  return result;
}

function requireModel(): Model {
  if (!model) throw new UserError('no model yet: train one, load a .pth, or use a saved one');
  return model;
}

/** The model in use, with weights to denoise or export with. */
function requireWeights(): Model & { weights: StateDict } {
  const m = requireModel();
  if (!m.weights) throw new UserError(`${m.name}: no epoch of its training has finished yet; Resume it first`);
  return m as Model & { weights: StateDict };
}

async function frame(index: number): Promise<JobResults['frame']> {
  const { reader, output } = stacks.shown();
  const [t, h, w] = reader.shape;
  const i = Math.max(0, Math.min(t - 1, index));
  const raw = Float32Array.from(await reader.readFrames(i, 1));
  const denoised = output ? Float32Array.from(await output.readFrames(i, 1)) : null;
  return { index: i, h, w, raw, denoised };
}

/** The shown stack and frame, for training's previews. */
function shownForPreview(): ReturnType<TrainRun['shown']> {
  return stacks.hasShown() ? { reader: stacks.shown().reader, frame: shownFrame } : null;
}

/** A new model trained on every open stack, kept in the library as it trains (so it can be resumed). */
async function trainModel(fields: TrainFields, emit: Emit, signal: AbortSignal): Promise<Trained> {
  const open = stacks.all();
  validateModelConfig(fields.model);
  if (fields.sampling === 'spatial' && fields.patchXY % 2 !== 0) throw new UserError(`patch-xy ${fields.patchXY}: must be even (pixels are split into 2×2 cells)`);
  const training: TrainingRecord = {
    sampling: fields.sampling, patchXY: fields.patchXY, patchT: fields.model.patchT, overlap: fields.overlap, trainSize: fields.trainSize,
    epochs: fields.epochs, lr: fields.lr, beta1: 0.5, beta2: 0.999, scale: 1, seed: fields.seed, frames: null, inputs: open.map((s) => s.name),
    valFraction: fields.valFraction, schedule: 'constant', warmup: 0, init: null, patience: 0,
  };
  const { id, store } = await (await openLibrary()).create(`${open[0]!.name.replace(/\.tiff?$/i, '')}-model`);
  return trainInto(id, storeSink(store), { config: fields.model, training, resume: false }, emit, signal);
}

/** Goes on with the run of the model in use, from its resume state, up to `epochs`. */
async function resumeTraining(epochs: number, emit: Emit, signal: AbortSignal): Promise<Trained> {
  const m = requireModel();
  if (m.id === null) throw new UserError(`${m.name}: not a run trained and kept here, so there is nothing to resume; Train a new model`);
  const store = await (await openLibrary()).store(m.id);
  if (!(await store.list()).includes(RESUME_FILE)) throw new UserError(`${m.name}: holds no training run to resume (a loaded model); Train a new model`);
  const record = parseModelRecord(new TextDecoder().decode((await store.get(CONFIG_FILE))!), store.nameOf(CONFIG_FILE));
  const names = stacks.all().map((s) => s.name);
  const inputs = record.training.inputs;
  if (names.join('\n') !== inputs.join('\n')) {
    throw new UserError(`${m.name}: was trained on ${inputs.join(', ')}; open ${inputs.length === 1 ? 'that stack' : 'those stacks, in that order,'} to resume it (open now: ${names.join(', ')})`);
  }
  const done = (await readTrainingLog(store)).epochs.length;
  if (epochs <= done) throw new UserError(`epochs ${epochs}: ${m.name} has trained ${done} epochs already; set epochs above ${done} to go on`);
  const training = { ...record.training, epochs };
  return trainInto(m.id, storeSink(store), { config: record.model, training, resume: true }, emit, signal);
}

async function trainInto(
  id: string, sink: CheckpointSink, run: Pick<TrainRun, 'config' | 'training' | 'resume' | 'init'>, emit: Emit, signal: AbortSignal,
): Promise<Trained> {
  const loaded = [];
  for (const s of stacks.all()) loaded.push(await wholeStack(s));
  const { result, steps, seconds } = await runTraining({ ...run, stacks: loaded, sink, shown: shownForPreview, emit, signal });
  // Cancelled too: the model in use is the run's, so that Resume goes on with it.
  model = await fromLibrary(id);
  if (result.interrupted) throw new InterruptedError('cancelled');
  return { epochsDone: result.epochsDone, bestEpoch: result.best?.epoch ?? null, model: modelInfo(model), steps, seconds };
}

async function fromLibrary(id: string): Promise<Model> {
  const { entry, record, weights, chosen } = await (await openLibrary()).load(id);
  const origin = entry.trained ? `: trained here on ${record.training.inputs.join(', ')}` : '';
  return {
    id, trainedHere: entry.trained !== null, record, weights, name: entry.name, description: `${entry.name}${origin} (${chosen}, ${describeConfig(record.model)})`,
  };
}

function modelInfo(m: Model): ModelInfo {
  return {
    id: m.id, description: m.description, config: m.record.model, patchXY: m.record.training.patchXY,
    epochs: m.id !== null && m.trainedHere ? m.record.training.epochs : null, usable: m.weights !== null,
  };
}

async function exportModel(format: ModelFormat, patchXY: number, backend: AppBackend, emit: Emit): Promise<JobResults['export-model']> {
  const m = requireWeights();
  const base = m.name.replace(/\.(pth|pt)$/i, '').replace(/[\\/:*?"<>|]/g, '_');
  if (format === 'pth') return { bytes: encodePth(m.weights), name: `${base}.pth` };
  if (format === 'onnx') {
    return { bytes: exportOnnx(m.record.model, m.weights, { patchXY, source: m.name }), name: `${base}.onnx` };
  }
  // The package carries the network's output on a test input, so it needs the engine.
  await ensureEngine(backend, emit);
  const network = new SRDTrans(m.record.model, 0);
  try {
    network.loadStateDict(m.weights);
    const files = await buildBioimageioPackage({ model: network, record: m.record, weightsFile: m.name }, { patchXY });
    return { bytes: zipPackage(files), name: `${base}.bioimageio.zip` };
  } finally {
    network.dispose();
  }
}

async function denoise(fields: DenoiseFields, emit: Emit, signal: AbortSignal): Promise<DenoiseResult> {
  return denoiseOpen(stacks.shown(), requireWeights(), fields, emit, signal);
}

/**
 * The CLI's denoise of one stack, its TIFF kept in memory, or streamed to the browser's storage
 * when it would be larger than `fields.streamAbove` bytes.
 */
async function denoiseOpen(s: OpenStack, m: Model & { weights: StateDict }, fields: DenoiseFields, emit: Emit, signal: AbortSignal): Promise<DenoiseResult> {
  const started = performance.now();
  const dtype = outputDType(s.reader.dtype, fields.asFloat);
  // The CLI's output name for one input.
  const name = `${s.name.replace(/\.tiff?$/i, '')}_denoised.tif`;
  const large = planTiff(name, s.reader.shape, dtype).fileBytes > fields.streamAbove;
  // A new output replaces the old one, whose file it may overwrite.
  s.output = null;
  if (large) await outputsCleared;
  const out = large ? await storedOutput(name, s.reader.shape, dtype) : memoryOutput(name, s.reader.shape, dtype);
  const network = new SRDTrans(m.record.model, 0);
  let file: Blob;
  try {
    network.loadStateDict(m.weights);
    await denoiseStack(network, s.reader, {
      patchXY: fields.patchXY, overlap: fields.overlap, scale: m.record.training.scale, asFloat: fields.asFloat, name: s.name, signal,
      onProgress: (done, total) => emit({ kind: 'progress', phase: 'denoise', done, total }),
    }, out);
    file = await out.close();
  } catch (err) {
    await out.abort();
    throw err;
  } finally {
    network.dispose();
  }
  s.output = await TiffStackReader.open(blobSource(file), name);
  return { file, stored: out.stored, name, dtype, seconds: (performance.now() - started) / 1000 };
}

/** A .pth, in use at once and kept in the library. */
async function loadModel(file: File, emit: Emit): Promise<JobResults['load-model']> {
  if (!isPthPath(file.name)) {
    throw new CheckpointError(`${file.name}: not a model this app reads; choose a PyTorch .pth (the published SRDTrans weights, or one this app saved)`);
  }
  const checkpoint = decodePth(new Uint8Array(await file.arrayBuffer()), file.name);
  const resolved = pthModel(checkpoint, file.name);
  const weights = await resolved.load();
  const { record } = resolved;
  let id: string | null = null;
  try {
    id = await (await openLibrary()).import(file.name, record, weights);
  } catch (err) {
    // The model is still usable in this page; say why it will not be there after a reload.
    emit({ kind: 'note', text: `not kept in the browser: ${oneLine(err)}` });
  }
  model = { id, trainedHere: false, record, weights, name: file.name, description: `${file.name} (${describeConfig(record.model)})` };
  return { model: modelInfo(model) };
}

/** ModelRecord.format of the demo's model, made in the app and kept nowhere. */
const APP_RECORD_FORMAT = 'srdtrans-ts/browser-app';

/** The demo's prior, served beside the app. */
async function demoPrior(): Promise<StateDict> {
  const fetched = async (url: string) => {
    const response = await fetch(url);
    if (!response.ok) throw new CheckpointError(`the demo's prior model could not be loaded (HTTP ${response.status} for ${url}); reload the page`);
    return new Uint8Array(await response.arrayBuffer());
  };
  const record = parseModelRecord(new TextDecoder().decode(await fetched(priorConfigUrl)), 'demo-prior/config.json');
  if (!isDemoModel(record.model)) throw new CheckpointError("the demo's prior model is not the demo's network; rebuild the app");
  return decodeWeights(await fetched(priorWeightsUrl), 'demo-prior/best.safetensors').tensors;
}

/** `srdtrans demo`: simulate, fine-tune the prior on the noisy stack alone, denoise, score against the truth. */
async function demo(steps: number, epochs: number, emit: Emit, signal: AbortSignal): Promise<JobResults['demo']> {
  const { frames, size, frameRate, photons } = DEMO_STACK;
  const seed = 1;
  const sim = simulateCalcium({ shape: [frames, size, size], seed, frameRate, photons });
  emit({ kind: 'note', text: `simulated ${frames} frames of ${size}×${size} px, ${sim.masks.count} neurons at ${frameRate} Hz, ${photons} photons/px` });
  const name = 'demo-noisy.tif';
  const prior = await demoPrior();
  emit({ kind: 'note', text: 'fine-tuning the bundled prior (trained on other simulated recordings) on the noisy stack alone' });
  const training = demoTraining({ size, steps, epochs: Math.min(epochs, steps), seed, schedule: 'constant', inputs: [name], init: 'models/demo-prior/best.safetensors' });
  await stacks.open([{ source: bytesSource(encodeTiff(sim.noisy)), name }]);
  const opened = await stacks.describeShown({
    sampling: training.sampling, patchXY: training.patchXY, patchT: training.patchT, overlap: training.overlap, trainSize: training.trainSize,
  });
  emit({ kind: 'stack', opened });
  // In memory only: the demo's model is remade by the next demo, not kept.
  const trained = await runTraining({ stacks: [sim.noisy], config: DEMO_MODEL, training, sink: memorySink(), resume: false, init: prior, shown: shownForPreview, emit, signal });
  if (trained.result.interrupted) throw new InterruptedError('cancelled');
  const bestEpoch = trained.result.best?.epoch ?? null;
  const weights = trained.result.weights!;
  const which = bestEpoch === null ? `epoch ${trained.result.epochsDone}` : `best epoch ${bestEpoch}`;
  model = {
    id: null, trainedHere: false, record: { format: APP_RECORD_FORMAT, model: DEMO_MODEL, training }, weights, name: 'demo-model',
    description: `the demo model, fine-tuned from the prior (${which}, ${describeConfig(DEMO_MODEL)})`,
  };
  const out = await denoiseOpen(stacks.shown(), { ...model, weights }, { patchXY: demoDenoisePatchXY(size), overlap: 0.5, asFloat: true, streamAbove: Infinity }, emit, signal);
  const denoised = (await stacks.shown().output!.readFrames(0, frames)) as Float32Array;
  const baseline = { baseline: sim.params.offset };
  const raw = evaluate(sim.noisy, sim.clean, sim.masks, baseline);
  const ours = evaluate({ data: denoised, shape: sim.noisy.shape, dtype: 'float32' }, sim.clean, sim.masks, baseline);
  const text = [
    'raw (noisy input)', formatEvaluation(raw), '',
    `denoised (${bestEpoch === null ? 'last epoch' : `best epoch by validation loss, ${bestEpoch}`} of ${training.epochs}; the bundled prior fine-tuned for ${trained.steps} steps)`,
    formatEvaluation(ours), '', formatGains(raw, ours),
  ].join('\n');
  return { raw, denoised: ours, text, opened, output: out, model: modelInfo(model) };
}
