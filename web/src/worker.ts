/**
 * The engine worker: TF.js, the open stack, the model and the denoised output live here, so
 * that training and denoising never freeze the page. Jobs arrive as protocol.ts describes;
 * cancelling aborts the job's signal, which training and denoising check after every patch.
 */
import {
  buildBioimageioPackage, CheckpointError, decodePth, exportOnnx, zipPackage, DEMO_MODEL, DEMO_STACK, demoDenoisePatchXY, demoTraining, denoiseStack, describeEngine,
  encodePth, encodeTiff, evaluate, formatEvaluation, formatGains, formatStackSummary, initEngine, InterruptedError,
  isPthPath, memorySink, outputDType, pthModel, simulateCalcium, SRDTrans, summarizeStack, TiffEncoder, TiffStackReader,
  train, UserError, validateModelConfig, blobSource, bytesSource, decodeWeights, isDemoModel, parseModelRecord,
  type ByteSource, type CheckpointSink, type EngineInfo, type ModelConfig, type ModelRecord, type Stack, type StateDict, type TrainingRecord,
} from '../../src/index.js';
import { useServedWasm } from './wasm-files.js';
// The demo fine-tunes the CLI's bundled prior (models/demo-prior, README "How long to train").
import priorWeightsUrl from '../../models/demo-prior/best.safetensors?url';
import priorConfigUrl from '../../models/demo-prior/config.json?url';
import type {
  AppBackend, ModelFormat, DenoiseFields, DenoiseResult, FromWorker, GridFields, Job, JobEvent, JobResults, ModelInfo, StackOpened, ToWorker, TrainFields,
} from './protocol.js';

interface OpenStack {
  name: string;
  reader: TiffStackReader;
}

interface Model {
  /** Architecture and training settings (a .pth's are the published defaults). */
  record: ModelRecord;
  weights: StateDict;
  /** The file it came from, or what it was trained on, for file names and messages. */
  name: string;
  description: string;
}

let stack: OpenStack | null = null;
let output: { reader: TiffStackReader; shape: readonly [number, number, number] } | null = null;
let model: Model | null = null;
let engine: { choice: AppBackend; info: EngineInfo } | null = null;
const running = new Map<number, AbortController>();
let shownFrame = 0;

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
    case 'open':
      return openStack(blobSource(job.file), job.file.name, job.grid);
    case 'summary': {
      const s = requireStack();
      const summary = await summarizeStack(s.reader, s.name, job.grid);
      return { summary, text: formatStackSummary(summary) };
    }
    case 'frame':
      return frame(job.index);
    case 'trace': {
      const s = requireStack();
      const region = { x0: job.x0, y0: job.y0, x1: job.x1, y1: job.y1 };
      return { raw: await regionTrace(s.reader, region), denoised: output ? await regionTrace(output.reader, region) : null };
    }
    case 'train':
      await ensureEngine(job.backend, emit);
      return trainModel(job.fields, emit, signal);
    case 'denoise':
      await ensureEngine(job.backend, emit);
      return denoise(job.fields, emit, signal);
    case 'load-model':
      return loadModel(job.file);
    case 'export-model':
      return exportModel(job.format, job.patchXY, job.backend, emit);
    case 'demo':
      await ensureEngine(job.backend, emit);
      return demo(job.steps, job.epochs, emit, signal);
  }
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

async function openStack(source: ByteSource, name: string, grid: GridFields): Promise<StackOpened> {
  // Opened first, so that a bad file leaves the stack shown before in place.
  const reader = await TiffStackReader.open(source, name);
  await stack?.reader.close();
  stack = { name, reader };
  output = null;
  const summary = await summarizeStack(reader, name, grid);
  return { name, shape: reader.shape, summary, text: formatStackSummary(summary) };
}

function requireStack(): OpenStack {
  if (!stack) throw new UserError('open a TIFF stack first (file picker or drop it on the page)');
  return stack;
}

function requireModel(): Model {
  if (!model) throw new UserError('no model yet: train one, or load a .pth');
  return model;
}

async function frame(index: number): Promise<JobResults['frame']> {
  const s = requireStack();
  const [t, h, w] = s.reader.shape;
  const i = Math.max(0, Math.min(t - 1, index));
  const raw = Float32Array.from(await s.reader.readFrames(i, 1));
  const denoised = output && i < output.shape[0] ? Float32Array.from(await output.reader.readFrames(i, 1)) : null;
  return { index: i, h, w, raw, denoised };
}

/** A region's mean in every frame, read a batch of frames at a time (never the whole stack). */
async function regionTrace(reader: TiffStackReader, r: { x0: number; y0: number; x1: number; y1: number }): Promise<Float32Array> {
  const [t, h, w] = reader.shape;
  const x0 = clamp(r.x0, 0, w - 1);
  const y0 = clamp(r.y0, 0, h - 1);
  const x1 = clamp(r.x1, x0 + 1, w);
  const y1 = clamp(r.y1, y0 + 1, h);
  const out = new Float32Array(t);
  const batch = Math.max(1, Math.floor(4_194_304 / (h * w)));
  for (let start = 0; start < t; start += batch) {
    const count = Math.min(batch, t - start);
    const data = await reader.readFrames(start, count);
    for (let k = 0; k < count; k++) {
      let sum = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += data[(k * h + y) * w + x]!;
      out[start + k] = sum / ((x1 - x0) * (y1 - y0));
    }
  }
  return out;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, Math.round(v)));
}

async function wholeStack(s: OpenStack): Promise<Stack> {
  const [t, h, w] = s.reader.shape;
  return { data: await s.reader.readFrames(0, t), shape: [t, h, w], dtype: s.reader.dtype };
}

async function trainModel(fields: TrainFields, emit: Emit, signal: AbortSignal): Promise<JobResults['train']> {
  const s = requireStack();
  validateModelConfig(fields.model);
  if (fields.sampling === 'spatial' && fields.patchXY % 2 !== 0) throw new UserError(`patch-xy ${fields.patchXY}: must be even (pixels are split into 2×2 cells)`);
  const training: TrainingRecord = {
    sampling: fields.sampling, patchXY: fields.patchXY, patchT: fields.model.patchT, overlap: fields.overlap, trainSize: fields.trainSize,
    epochs: fields.epochs, lr: fields.lr, beta1: 0.5, beta2: 0.999, scale: 1, seed: fields.seed, frames: null, inputs: [s.name],
    valFraction: fields.valFraction, schedule: 'constant', warmup: 0, init: null, patience: 0,
  };
  const result = await runTraining([await wholeStack(s)], fields.model, training, emit, signal, `trained here on ${s.name}`);
  return result;
}

async function runTraining(
  stacks: Stack[], config: ModelConfig, training: TrainingRecord, emit: Emit, signal: AbortSignal, origin: string, init?: StateDict,
): Promise<JobResults['train']> {
  const started = performance.now();
  let steps = 0;
  // Previews are left out of the reported time: it is the training's.
  let previewSeconds = 0;
  const preview = async (epoch: number, weights: StateDict) => {
    const t0 = performance.now();
    await previewFrame(config, weights, training, epoch, emit);
    previewSeconds += (performance.now() - t0) / 1000;
  };
  const result = await train(stacks, {
    model: config, training, sink: withPreview(memorySink(), preview), names: training.inputs, signal, init,
    onEvent: (event) => {
      if (event.type === 'step') steps++;
      emit({ kind: 'train', event });
    },
  });
  const seconds = (performance.now() - started) / 1000 - previewSeconds;
  if (result.weights) {
    const best = result.best ? `best epoch ${result.best.epoch}` : `epoch ${result.epochsDone}`;
    model = {
      record: { format: APP_RECORD_FORMAT, model: config, training }, weights: result.weights, name: 'srdtrans-model',
      description: `${origin} (${best}, ${describeConfig(config)})`,
    };
  }
  if (result.interrupted) throw new InterruptedError('cancelled');
  return { epochsDone: result.epochsDone, interrupted: result.interrupted, bestEpoch: result.best?.epoch ?? null, model: modelInfo(requireModel()), steps, seconds };
}

/** After each epoch's checkpoint, and before the next epoch starts, a preview of the weights. */
function withPreview(sink: CheckpointSink, preview: (epoch: number, weights: StateDict) => Promise<void>): CheckpointSink {
  return {
    ...sink,
    epoch: async (epoch, weights, best) => {
      const name = await sink.epoch(epoch, weights, best);
      await preview(epoch, weights);
      return name;
    },
  };
}

/**
 * The shown frame of the open stack denoised with an epoch's weights: only the patches that make
 * that frame run (denoiseStack's `frames`), so it costs one slab, not the stack.
 */
async function previewFrame(config: ModelConfig, weights: StateDict, training: TrainingRecord, epoch: number, emit: Emit): Promise<void> {
  if (!stack) return;
  const { reader } = stack;
  const [t, h, w] = reader.shape;
  const index = Math.max(0, Math.min(t - 1, shownFrame));
  const network = new SRDTrans(config, 0);
  try {
    network.loadStateDict(weights);
    const frames: Float32Array[] = [];
    await denoiseStack(network, reader, { patchXY: training.patchXY, overlap: 0.5, scale: training.scale, asFloat: true, frames: [index, index + 1] }, {
      writeFrames: (data) => void frames.push(Float32Array.from(data)),
    });
    if (frames[0]) emit({ kind: 'preview', epoch, index, h, w, data: frames[0] });
  } catch {
    // A preview is a courtesy: training goes on without it.
  } finally {
    network.dispose();
  }
}

function describeConfig(c: ModelConfig): string {
  return `f-maps ${c.fMaps.join(',')}, embed ${c.embedDim}, ${c.heads} heads, MLP ${c.mlpDim}, window ${c.window}, ${c.blocks} blocks, ${c.patchT} frames`;
}

function modelInfo(m: Model): ModelInfo {
  return { description: m.description, config: m.record.model, patchXY: m.record.training.patchXY };
}

/** ModelRecord.format of a model trained in the app (a model folder's is 'srdtrans-ts/1'). */
const APP_RECORD_FORMAT = 'srdtrans-ts/browser-app';

async function exportModel(format: ModelFormat, patchXY: number, backend: AppBackend, emit: Emit): Promise<JobResults['export-model']> {
  const m = requireModel();
  const base = m.name.replace(/\.(pth|pt)$/i, '');
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
  return denoiseOpen(requireStack(), requireModel(), fields, emit, signal);
}

async function denoiseOpen(s: OpenStack, m: Model, fields: DenoiseFields, emit: Emit, signal: AbortSignal): Promise<DenoiseResult> {
  const started = performance.now();
  const dtype = outputDType(s.reader.dtype, fields.asFloat);
  // The CLI's output name for one input.
  const name = `${s.name.replace(/\.tiff?$/i, '')}_denoised.tif`;
  const encoder = new TiffEncoder(name, s.reader.shape, dtype);
  const network = new SRDTrans(m.record.model, 0);
  try {
    network.loadStateDict(m.weights);
    await denoiseStack(network, s.reader, {
      patchXY: fields.patchXY, overlap: fields.overlap, scale: m.record.training.scale, asFloat: fields.asFloat, name: s.name, signal,
      onProgress: (done, total) => emit({ kind: 'progress', phase: 'denoise', done, total }),
    }, encoder);
  } finally {
    network.dispose();
  }
  const bytes = encoder.bytes();
  output = { reader: await TiffStackReader.open(bytesSource(bytes), name), shape: s.reader.shape };
  // A copy goes to the page; the worker keeps its own for the viewer.
  return { bytes: bytes.slice(), name, dtype, seconds: (performance.now() - started) / 1000 };
}

async function loadModel(file: File): Promise<JobResults['load-model']> {
  if (!isPthPath(file.name)) {
    throw new CheckpointError(`${file.name}: not a model this app reads; choose a PyTorch .pth (the published SRDTrans weights, or one this app saved)`);
  }
  const checkpoint = decodePth(new Uint8Array(await file.arrayBuffer()), file.name);
  const resolved = pthModel(checkpoint, file.name);
  const weights = await resolved.load();
  const { record } = resolved;
  model = { record, weights, name: file.name, description: `${file.name} (${describeConfig(record.model)})` };
  return { model: modelInfo(model) };
}

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
  const opened = await openStack(bytesSource(encodeTiff(sim.noisy)), name, {
    sampling: training.sampling, patchXY: training.patchXY, patchT: training.patchT, overlap: training.overlap, trainSize: training.trainSize,
  });
  emit({ kind: 'stack', opened });
  const trained = await runTraining([sim.noisy], DEMO_MODEL, training, emit, signal, 'the demo model, fine-tuned from the prior', prior);
  const out = await denoiseOpen(stack!, requireModel(), { patchXY: demoDenoisePatchXY(size), overlap: 0.5, asFloat: true }, emit, signal);
  const denoised = (await output!.reader.readFrames(0, frames)) as Float32Array;
  const baseline = { baseline: sim.params.offset };
  const raw = evaluate(sim.noisy, sim.clean, sim.masks, baseline);
  const ours = evaluate({ data: denoised, shape: sim.noisy.shape, dtype: 'float32' }, sim.clean, sim.masks, baseline);
  const text = [
    'raw (noisy input)', formatEvaluation(raw), '',
    `denoised (${trained.bestEpoch === null ? 'last epoch' : `best epoch by validation loss, ${trained.bestEpoch}`} of ${training.epochs}; the bundled prior fine-tuned for ${trained.steps} steps)`,
    formatEvaluation(ours), '', formatGains(raw, ours),
  ].join('\n');
  return { raw, denoised: ours, text, opened, output: out, model: trained.model };
}
