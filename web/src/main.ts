/**
 * The page: wires the controls to engine jobs, shows their progress, and the frames of the open
 * stack. Every job failure lands in the error line; nothing is reported only in the console.
 */
import './style.css';
import { DEMO_RECIPE, type TrainEvent } from '../../src/index.js';
import {
  APP_BACKENDS, MODEL_FORMATS, type ModelFormat, type AppBackend, type FrameData, type JobEvent, type JobKind, type JobResults, type ModelInfo, type StackOpened,
} from './protocol.js';
import { EngineClient, JobFailed, type Running } from './engine-client.js';
import { applyPreset, demoFields, denoiseFields, exportPatchXY, field, gridFields, resumeEpochs, trainFields, type Preset } from './controls.js';
import { LossPlot } from './plot.js';
import { TracePlot } from './trace-plot.js';
import { SharedZoom } from './zoom.js';
import { FrameCanvas } from './viewer.js';
import { Contrast } from './contrast.js';
import { keepIsolated } from './isolation.js';
import { ModelListView } from './model-list.js';
import { Lasso } from './lasso.js';
import { formatPolygon, parsePolygon, rectangle, type Point } from './region.js';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page lacks #${id}`);
  return el as T;
};

const ui = {
  backend: $<HTMLSelectElement>('backend'), engine: $('engine'), status: $('status'), error: $('error'),
  progress: $<HTMLProgressElement>('progress'), progressText: $('progress-text'), cancel: $<HTMLButtonElement>('cancel'),
  stackInput: $<HTMLInputElement>('stack-input'), stackSelect: $<HTMLSelectElement>('stack-select'), drop: $('drop'), info: $('info'), demo: $<HTMLButtonElement>('demo'),
  metrics: $('metrics'), preset: $<HTMLSelectElement>('preset'), train: $<HTMLButtonElement>('train'), resume: $<HTMLButtonElement>('resume'),
  modelInput: $<HTMLInputElement>('model-input'), modelFormat: $<HTMLSelectElement>('model-format'), model: $('model'), modelDownload: $<HTMLButtonElement>('model-download'),
  denoise: $<HTMLButtonElement>('denoise'), download: $<HTMLAnchorElement>('download'),
  frame: $<HTMLInputElement>('frame'), frameLabel: $('frame-label'), play: $<HTMLButtonElement>('play'),
  rawCaption: $('raw-caption'), denoisedCaption: $('denoised-caption'),
  traceX: $<HTMLInputElement>('trace-x'), traceY: $<HTMLInputElement>('trace-y'), trace: $<HTMLButtonElement>('trace'), traceSummary: $('trace-summary'),
  tracePolygon: $<HTMLInputElement>('trace-polygon'), tracePolygonPlot: $<HTMLButtonElement>('trace-polygon-plot'),
};
const rawView = new FrameCanvas($<HTMLCanvasElement>('raw'));
const denoisedView = new FrameCanvas($<HTMLCanvasElement>('denoised'));
const plot = new LossPlot($<HTMLCanvasElement>('loss'));
const tracePlot = new TracePlot($<HTMLCanvasElement>('trace-plot'));
const zoom = new SharedZoom(
  [...document.querySelectorAll<HTMLElement>('.frame-box')],
  [rawView.canvas, denoisedView.canvas],
);
const client = new EngineClient();
const contrast = new Contrast({
  low: $<HTMLInputElement>('low'), high: $<HTMLInputElement>('high'), min: $<HTMLInputElement>('contrast-min'), max: $<HTMLInputElement>('contrast-max'),
  auto: $<HTMLButtonElement>('contrast-auto'), mode: $('contrast-mode'),
}, () => lastFrame && drawFrame(lastFrame));
const models = new ModelListView($('models'), {
  use: (id) => void useModel(id),
  rename: (id, name) => void modelJob('renaming the model', () => client.run({ kind: 'rename-model', id, name })),
  remove: (id, name) => {
    if (window.confirm(`Delete the saved model "${name}" from this browser?`)) void modelJob('deleting the model', () => client.run({ kind: 'delete-model', id }));
  },
});
const lasso = new Lasso([rawView, denoisedView], $<HTMLButtonElement>('lasso'), (polygon) => {
  lasso.set(false);
  ui.tracePolygon.value = formatPolygon(polygon);
  // The polygon as the field writes it, so that plotting the field again gives the same trace.
  void plotRegion({ polygon: parsePolygon(ui.tracePolygon.value)!, label: '' });
}, (path) => {
  if (!lastFrame) return;
  drawFrame(lastFrame);
  for (const view of [rawView, denoisedView]) view.outline(path);
});

let busy: Running<JobKind> | null = null;
let model: ModelInfo | null = null;
let frames = 0;
let downloadUrl: string | null = null;

function backend(): AppBackend {
  const v = ui.backend.value as AppBackend;
  return APP_BACKENDS.includes(v) ? v : 'auto';
}

function setStatus(text: string): void {
  ui.status.textContent = text;
}

function showError(message: string | null): void {
  ui.error.hidden = message === null;
  ui.error.textContent = message ?? '';
}

function setBusy(job: Running<JobKind> | null): void {
  busy = job;
  for (const b of [ui.train, ui.denoise, ui.demo, ui.modelDownload]) b.disabled = job !== null;
  ui.modelDownload.disabled = job !== null || !model?.usable;
  ui.stackInput.disabled = ui.stackSelect.disabled = ui.modelInput.disabled = ui.backend.disabled = job !== null;
  ui.cancel.disabled = job === null;
  models.setDisabled(job !== null);
  updateResume();
}

/** Resume goes on with the model in use when its run left a resume state in the browser. */
function updateResume(): void {
  ui.resume.disabled = busy !== null || !models.current()?.resumable;
}

/** `from`: where the job started (a resumed run's steps before it), so that the ETA counts this job's pace. */
function progress(done: number, total: number, startedAt: number, label: string, from = 0): void {
  ui.progress.max = Math.max(1, total);
  ui.progress.value = done;
  const elapsed = (performance.now() - startedAt) / 1000;
  const eta = done > from && done < total ? `, about ${formatSeconds((elapsed / (done - from)) * (total - done))} left` : '';
  ui.progressText.textContent = `${label} ${done}/${total}${eta}`;
}

function formatSeconds(s: number): string {
  return s < 90 ? `${Math.ceil(s)} s` : `${Math.round(s / 60)} min`;
}

/**
 * Runs one job with the page's bookkeeping: status while it runs, `done` / `cancelled` /
 * `failed` after, the error line on failure. The page takes no other job meanwhile.
 */
async function job<K extends JobKind>(label: string, start: () => Running<K>): Promise<JobResults[K] | null> {
  showError(null);
  setStatus(label);
  let running: Running<K>;
  try {
    running = start();
  } catch (err) {
    // A bad field, caught before any work: the same line as a failed job.
    fail(err);
    return null;
  }
  setBusy(running);
  try {
    const result = await running.result;
    setStatus('done');
    return result;
  } catch (err) {
    fail(err);
    return null;
  } finally {
    setBusy(null);
  }
}

function fail(err: unknown): void {
  if (err instanceof JobFailed && err.cancelled) {
    setStatus('cancelled');
    return;
  }
  setStatus('failed');
  showError(err instanceof Error ? err.message : String(err));
}

/** A job's events; the ETA of each phase (training, denoising) counts from that phase's start. */
function onEvent(): (e: JobEvent) => void {
  let startedAt = performance.now();
  return (e) => {
    if (e.kind === 'engine') ui.engine.textContent = e.description;
    if ((e.kind === 'progress' && e.done === 0) || (e.kind === 'train' && e.event.type === 'start')) startedAt = performance.now();
    if (e.kind === 'progress') progress(e.done, e.total, startedAt, e.phase);
    if (e.kind === 'note') ui.progressText.textContent = e.text;
    if (e.kind === 'train') trainEvent(e.event, startedAt);
    if (e.kind === 'preview') {
      preview = e;
      if (lastFrame?.index === e.index) drawFrame(lastFrame);
    }
    if (e.kind === 'stack') {
      ui.stackSelect.replaceChildren(new Option(e.opened.name, '0'));
      clearDownload();
      void stackShown(e.opened);
    }
  };
}

function trainEvent(e: TrainEvent, startedAt: number): void {
  switch (e.type) {
    case 'start':
      preview = null;
      patchesPerEpoch = e.patches;
      resumedAt = e.startEpoch * e.patches + e.startIteration;
      plot.reset(e.epochs * e.patches);
      break;
    case 'step': {
      plot.step(e.stepsDone, e.loss);
      progress(e.stepsDone, e.stepsTotal, startedAt, `train epoch ${e.epoch + 1}/${e.epochs}, loss ${e.loss.toFixed(4)}, step`, resumedAt);
      break;
    }
    case 'epoch':
      plot.epoch((e.epoch + 1) * patchesPerEpoch, e.valLoss);
      break;
    default:
      break;
  }
}

let patchesPerEpoch = 1;
/** The step a resumed run went on from (0 for a new run). */
let resumedAt = 0;

async function startEngine(): Promise<void> {
  const result = await job('starting the engine', () => client.run({ kind: 'engine', backend: backend() }, onEvent()));
  if (result) ui.engine.textContent = result.description;
}

async function openStacks(files: File[]): Promise<void> {
  const opened = await job(files.length > 1 ? `opening ${files.length} stacks` : 'opening', () => client.run({ kind: 'open', files, grid: gridFields() }));
  if (!opened) return;
  ui.stackSelect.replaceChildren(...opened.names.map((name, i) => new Option(name, String(i))));
  clearDownload();
  await stackShown(opened.shown);
}

async function selectStack(index: number): Promise<void> {
  const shown = await job('showing the stack', () => client.run({ kind: 'select-stack', index, grid: gridFields() }));
  if (shown) await stackShown(shown);
}

async function stackShown(opened: StackOpened): Promise<void> {
  ui.info.textContent = opened.text;
  resetView(opened.shape[0]);
  await showFrame(0);
}

function resetView(t: number): void {
  frames = t;
  zoom.reset();
  preview = null;
  region = null;
  tracePlot.show(null);
  ui.traceSummary.textContent = '';
  ui.frame.max = String(Math.max(0, t - 1));
  ui.frame.value = '0';
  denoisedView.clear();
}

async function showFrame(index: number): Promise<void> {
  if (frames === 0) return;
  client.view(index);
  let data: FrameData;
  try {
    data = await client.run({ kind: 'frame', index }).result;
  } catch (err) {
    fail(err);
    return;
  }
  drawFrame(data);
}

let lastFrame: FrameData | null = null;
/** Training's latest preview of a frame, shown until there is a denoised stack. */
let preview: { epoch: number; index: number; h: number; w: number; data: Float32Array } | null = null;
function drawFrame(data: FrameData): void {
  lastFrame = data;
  ui.frameLabel.textContent = `${data.index + 1} / ${frames}`;
  const raw = contrast.range(data.raw);
  contrast.showAutomatic(raw);
  rawView.draw(data.raw, data.h, data.w, raw);
  ui.rawCaption.textContent = `raw (grey levels ${round(raw[0])}–${round(raw[1])})`;
  if (data.denoised) {
    const denoised = contrast.range(data.denoised);
    denoisedView.draw(data.denoised, data.h, data.w, denoised);
    ui.denoisedCaption.textContent = `denoised (grey levels ${round(denoised[0])}–${round(denoised[1])})`;
  } else if (preview && preview.index === data.index) {
    denoisedView.draw(preview.data, preview.h, preview.w, contrast.range(preview.data));
    ui.denoisedCaption.textContent = `preview: the model after epoch ${preview.epoch} (this frame only)`;
  } else {
    denoisedView.clear();
    ui.denoisedCaption.textContent = preview
      ? `preview after epoch ${preview.epoch} is of frame ${preview.index + 1}; go back to it, or see the next epoch's here`
      : 'denoised: none yet (train or load a model, then Denoise)';
  }
  if (region) {
    rawView.outline(region.polygon);
    if (data.denoised) denoisedView.outline(region.polygon);
  }
  tracePlot.mark(data.index);
}

/** A click's region: 5×5 pixels around the pixel clicked. */
const HALF = 2;
/** The region whose trace is plotted; `label` says what it is ('' for a polygon: its pixel count). */
let region: { polygon: Point[]; label: string } | null = null;

function plotAround(x: number, y: number): Promise<void> {
  if (frames === 0 || !lastFrame) return Promise.resolve();
  const { w, h } = lastFrame;
  const cx = Math.max(0, Math.min(w - 1, x));
  const cy = Math.max(0, Math.min(h - 1, y));
  ui.traceX.value = String(cx);
  ui.traceY.value = String(cy);
  const [x0, y0, x1, y1] = [Math.max(0, cx - HALF), Math.max(0, cy - HALF), Math.min(w, cx + HALF + 1), Math.min(h, cy + HALF + 1)];
  return plotRegion({ polygon: rectangle(x0, y0, x1, y1), label: `mean of x ${x0}–${x1 - 1}, y ${y0}–${y1 - 1}` });
}

async function plotRegion(r: { polygon: Point[]; label: string }): Promise<void> {
  if (frames === 0) return;
  region = r;
  try {
    const trace = await client.run({ kind: 'trace', polygon: r.polygon }).result;
    const label = r.label || `mean of the ${trace.pixels} pixels inside the polygon`;
    tracePlot.show({ ...trace, label });
    const mean = (a: Float32Array) => (a.reduce((sum, v) => sum + v, 0) / a.length).toFixed(2);
    ui.traceSummary.textContent = `${label} over ${trace.raw.length} frames: raw ${mean(trace.raw)}${trace.denoised ? `, denoised ${mean(trace.denoised)}` : ''}`;
  } catch (err) {
    fail(err);
  }
  if (lastFrame) drawFrame(lastFrame);
}

function round(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}

function setModel(m: ModelInfo): void {
  model = m;
  ui.model.textContent = m.description;
  ui.modelDownload.disabled = busy !== null || !m.usable;
  // The CLI's denoise defaults: the model's training patch size, its patch length.
  field('patch-t').value = String(m.config.patchT);
  field('patch-xy').value = String(m.patchXY);
}

/** The saved models, read again after whatever changed them; quietly, as the info's grids. */
async function refreshModels(): Promise<void> {
  try {
    const list = await client.run({ kind: 'models' }).result;
    showModels(list);
  } catch (err) {
    showError(err instanceof Error ? err.message : String(err));
  }
}

function showModels(list: JobResults['models']): void {
  models.show(list);
  models.setDisabled(busy !== null);
  // A cancelled run is the model in use now (to resume it), though its job gave no result.
  if (list.current?.id && list.current.id !== model?.id) setModel(list.current);
  else if (list.current && model) ui.model.textContent = list.current.description;
  updateResume();
}

async function modelJob(label: string, start: () => Running<'rename-model' | 'delete-model'>): Promise<void> {
  const list = await job(label, start);
  if (list) showModels(list);
}

async function useModel(id: string): Promise<void> {
  const used = await job('loading the saved model', () => client.run({ kind: 'use-model', id }));
  if (used) {
    setModel(used.model);
    // The epochs its run was set to, which Resume goes on to.
    if (used.model.epochs !== null) field('epochs').value = String(used.model.epochs);
  }
  await refreshModels();
}

function clearDownload(): void {
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  downloadUrl = null;
  ui.download.removeAttribute('href');
  ui.download.setAttribute('aria-disabled', 'true');
}

function offerDownload(file: Blob, name: string): void {
  clearDownload();
  downloadUrl = URL.createObjectURL(file);
  ui.download.href = downloadUrl;
  ui.download.download = name;
  ui.download.textContent = `Download ${name}`;
  ui.download.setAttribute('aria-disabled', 'false');
}

function saveFile(bytes: Uint8Array, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// --- controls ---------------------------------------------------------------------------

ui.backend.addEventListener('change', () => void startEngine());
ui.preset.addEventListener('change', () => applyPreset(ui.preset.value as Preset));
ui.stackInput.addEventListener('change', () => {
  const files = [...(ui.stackInput.files ?? [])];
  if (files.length > 0) void openStacks(files);
});
ui.stackSelect.addEventListener('change', () => void selectStack(Number(ui.stackSelect.value)));
for (const name of ['dragenter', 'dragover']) {
  ui.drop.addEventListener(name, (e) => {
    e.preventDefault();
    ui.drop.classList.add('over');
  });
}
ui.drop.addEventListener('dragleave', () => ui.drop.classList.remove('over'));
ui.drop.addEventListener('drop', (e) => {
  e.preventDefault();
  ui.drop.classList.remove('over');
  const files = [...(e.dataTransfer?.files ?? [])];
  if (files.length > 0 && !busy) void openStacks(files);
});
// A file dropped beside the drop zone would make the browser leave the page for it.
window.addEventListener('dragover', (e) => e.preventDefault());
window.addEventListener('drop', (e) => e.preventDefault());

ui.modelInput.addEventListener('change', async () => {
  const file = ui.modelInput.files?.[0];
  if (!file) return;
  const loaded = await job('loading the model', () => client.run({ kind: 'load-model', file }, onEvent()));
  if (loaded) setModel(loaded.model);
  ui.modelInput.value = '';
  await refreshModels();
});

ui.modelDownload.addEventListener('click', async () => {
  const chosen = ui.modelFormat.value as ModelFormat;
  const format = MODEL_FORMATS.includes(chosen) ? chosen : 'pth';
  const exported = await job('saving the model', () => client.run({ kind: 'export-model', backend: backend(), format, patchXY: exportPatchXY() }));
  if (exported) saveFile(exported.bytes, exported.name, 'application/octet-stream');
});

async function training(label: string, start: () => Running<'train' | 'resume'>): Promise<void> {
  const result = await job(label, start);
  // The figures first, in the same task as the status `done` that automation waits for.
  if (result) {
    setModel(result.model);
    ui.progressText.textContent = `trained ${result.steps} steps in ${result.seconds.toFixed(1)} s (${(result.seconds / Math.max(1, result.steps)).toFixed(3)} s a step)`;
  }
  await refreshModels();
}

ui.train.addEventListener('click', () => void training('training', () => client.run({ kind: 'train', backend: backend(), fields: trainFields() }, onEvent())));
ui.resume.addEventListener('click', () => void training('resuming training', () => client.run({ kind: 'resume', backend: backend(), epochs: resumeEpochs() }, onEvent())));

ui.denoise.addEventListener('click', async () => {
  const result = await job('denoising', () => {
    if (!model) throw new JobFailed('no model yet: train one, load a .pth, or use a saved one', false);
    const fields = denoiseFields(model.config.patchT);
    // The new output replaces the old, whose file it may overwrite.
    clearDownload();
    return client.run({ kind: 'denoise', backend: backend(), fields }, onEvent());
  });
  if (!result) return;
  offerDownload(result.file, result.name);
  const where = result.stored === 'memory' ? '' : ", streamed to the browser's storage";
  ui.progressText.textContent = `denoised in ${result.seconds.toFixed(1)} s; ${result.dtype} output${where}`;
  await showFrame(Number(ui.frame.value));
  if (region) await plotRegion(region);
});

ui.demo.addEventListener('click', async () => {
  const result = await job('demo', () => {
    const { steps, epochs } = demoFields();
    return client.run({ kind: 'demo', backend: backend(), steps, epochs }, onEvent());
  });
  if (!result) return;
  setModel(result.model);
  ui.frame.value = String(Math.floor(result.opened.shape[0] / 2));
  offerDownload(result.output.file, result.output.name);
  ui.metrics.hidden = false;
  ui.metrics.textContent = result.text;
  await showFrame(Number(ui.frame.value));
  // A trace through the brightest denoised pixel, most likely a neuron, to show what to look for.
  const shown = lastFrame?.denoised;
  if (shown && lastFrame) {
    const i = shown.reduce((best, v, k) => (v > shown[best]! ? k : best), 0);
    await plotAround(i % lastFrame.w, Math.floor(i / lastFrame.w));
  }
});

ui.cancel.addEventListener('click', () => {
  if (busy) client.cancel(busy.id);
});

for (const view of [rawView, denoisedView]) {
  view.canvas.addEventListener('click', (e) => {
    const { x, y } = view.pixelAt(e);
    void plotAround(x, y);
  });
}
$('zoom-in').addEventListener('click', () => zoom.zoomIn());
$('zoom-out').addEventListener('click', () => zoom.zoomOut());
$('zoom-reset').addEventListener('click', () => zoom.reset());
ui.trace.addEventListener('click', () => void plotAround(Number(ui.traceX.value), Number(ui.traceY.value)));
ui.tracePolygonPlot.addEventListener('click', () => {
  const polygon = parsePolygon(ui.tracePolygon.value);
  if (!polygon) {
    showError(`polygon: '${ui.tracePolygon.value}' is not three or more x,y points, e.g. 4,4 20,6 12,18`);
    return;
  }
  showError(null);
  void plotRegion({ polygon, label: '' });
});

ui.frame.addEventListener('input', () => void showFrame(Number(ui.frame.value)));
for (const name of ['patch-xy', 'patch-t', 'overlap', 'train-size', 'sampling']) {
  // The grids in the info follow the fields. Quietly: this is no job of the user's, and must not
  // touch the status that tells when theirs has finished. A bad value is reported when used.
  field(name).addEventListener('change', async () => {
    if (frames === 0 || busy) return;
    try {
      ui.info.textContent = (await client.run({ kind: 'summary', grid: gridFields() }).result).text;
    } catch {
      // Left as it was.
    }
  });
}

let playing: number | null = null;
ui.play.addEventListener('click', () => {
  if (playing !== null) {
    clearInterval(playing);
    playing = null;
  } else {
    playing = window.setInterval(() => {
      if (frames === 0) return;
      ui.frame.value = String((Number(ui.frame.value) + 1) % frames);
      void showFrame(Number(ui.frame.value));
    }, 100);
  }
  ui.play.setAttribute('aria-pressed', String(playing !== null));
  ui.play.textContent = playing !== null ? 'Pause' : 'Play';
});

applyPreset('quick');
field('demo-steps').value = String(DEMO_RECIPE.steps);
clearDownload();
setBusy(null);
void keepIsolated().then(async () => {
  await startEngine();
  await refreshModels();
});
