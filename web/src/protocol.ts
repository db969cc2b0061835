/**
 * The messages between the page and the engine worker. Every job the page asks for carries an
 * id; the worker answers it with events while it runs and exactly one `done` or `failed`.
 */
import type { BackendChoice, EngineInfo, Evaluation, ModelConfig, SamplingStrategy, StackSummary, TrainEvent } from '../../src/index.js';
import type { Point } from './region.js';

/** The backends the page offers (the CLI's `cpu` is left out: wasm is faster everywhere). */
export type AppBackend = Extract<BackendChoice, 'auto' | 'webgpu' | 'wasm'>;
export const APP_BACKENDS: readonly AppBackend[] = ['auto', 'webgpu', 'wasm'];

/** How the page saves a model: PyTorch state dict, ONNX graph, BioImage Model Zoo package. */
export type ModelFormat = 'pth' | 'onnx' | 'bioimageio';
export const MODEL_FORMATS: readonly ModelFormat[] = ['pth', 'onnx', 'bioimageio'];

export interface GridFields {
  /** Training pairs: spatial redundancy (SRDTrans) or interleaved frames (DeepCAD-style, patches twice as long). */
  sampling: SamplingStrategy;
  patchXY: number;
  patchT: number;
  overlap: number;
  trainSize: number;
}

export interface TrainFields extends GridFields {
  epochs: number;
  lr: number;
  valFraction: number;
  seed: number;
  model: ModelConfig;
}

export interface DenoiseFields {
  patchXY: number;
  overlap: number;
  asFloat: boolean;
  /** An output TIFF larger than this many bytes is written to the origin-private file system, not memory. */
  streamAbove: number;
}

export type Job =
  | { kind: 'engine'; backend: AppBackend }
  /** Replaces the open stacks with these files; the first is shown. */
  | { kind: 'open'; files: File[]; grid: GridFields }
  /** Shows the open stack `index`: frames, traces and denoising are of the shown stack. */
  | { kind: 'select-stack'; index: number; grid: GridFields }
  | { kind: 'summary'; grid: GridFields }
  | { kind: 'frame'; index: number }
  /** The mean of the pixels inside the polygon (region.ts) in every frame. */
  | { kind: 'trace'; polygon: Point[] }
  /** Trains a new model on every open stack, kept in the model library. */
  | { kind: 'train'; backend: AppBackend; fields: TrainFields }
  /** Goes on training the model in use from where its run stopped, up to `epochs`. */
  | { kind: 'resume'; backend: AppBackend; epochs: number }
  | { kind: 'denoise'; backend: AppBackend; fields: DenoiseFields }
  | { kind: 'load-model'; file: File }
  /** The model library (origin-private file system). */
  | { kind: 'models' }
  | { kind: 'use-model'; id: string }
  | { kind: 'rename-model'; id: string; name: string }
  | { kind: 'delete-model'; id: string }
  /** ONNX and the BioImage package take tiles of patchXY² (`srdtrans export --patch-xy`). */
  | { kind: 'export-model'; backend: AppBackend; format: ModelFormat; patchXY: number }
  | { kind: 'demo'; backend: AppBackend; steps: number; epochs: number };

export type JobKind = Job['kind'];

/** What each job's `done` carries. */
export interface JobResults {
  engine: { engine: EngineInfo; description: string };
  open: StacksOpened;
  'select-stack': StackOpened;
  summary: { summary: StackSummary; text: string };
  frame: FrameData;
  /** `pixels`: how many pixels the polygon covers. */
  trace: { raw: Float32Array; denoised: Float32Array | null; pixels: number };
  train: Trained;
  resume: Trained;
  denoise: DenoiseResult;
  'load-model': { model: ModelInfo };
  models: ModelList;
  'use-model': { model: ModelInfo };
  'rename-model': ModelList;
  'delete-model': ModelList;
  'export-model': { bytes: Uint8Array; name: string };
  demo: { raw: Evaluation; denoised: Evaluation; text: string; opened: StackOpened; output: DenoiseResult; model: ModelInfo };
}

/** `steps` trained in `seconds` (training alone, not reading the stack). */
export interface Trained {
  epochsDone: number;
  bestEpoch: number | null;
  model: ModelInfo;
  steps: number;
  seconds: number;
}

export interface StacksOpened {
  /** The names of the open stacks, in the order opened. */
  names: string[];
  /** The first, now shown. */
  shown: StackOpened;
}

export interface StackOpened {
  name: string;
  shape: readonly [number, number, number];
  summary: StackSummary;
  /** The summary as `srdtrans info` prints it. */
  text: string;
}

export interface DenoiseResult {
  /** The TIFF file, as the CLI's `denoise` writes it: in memory, or a file of the origin-private file system. */
  file: Blob;
  /** Where the file is: a large output streamed to the browser's storage rather than memory. */
  stored: 'memory' | 'browser storage';
  name: string;
  dtype: string;
  seconds: number;
}

export interface ModelInfo {
  /** Its entry in the model library; null for one kept in memory only (the demo's). */
  id: string | null;
  /** One line: where the model came from and its architecture. */
  description: string;
  config: ModelConfig;
  /** Training patch size, the denoising default. */
  patchXY: number;
  /** The epochs its training run in the library was set to; null for a model not trained and kept here. */
  epochs: number | null;
  /** False while no epoch of its training has finished: it can be resumed, not used to denoise. */
  usable: boolean;
}

/** A model kept in the browser's origin-private file system. */
export interface ModelEntry {
  id: string;
  name: string;
  /** When it was made (ISO 8601). */
  created: string;
  architecture: string;
  /** Training: epochs finished of those set; null for an imported model. */
  trained: { epochsDone: number; epochs: number } | null;
  /** It holds a resume state (weights and optimiser), so its training can go on. */
  resumable: boolean;
  usable: boolean;
}

export interface ModelList {
  entries: ModelEntry[];
  /** The model in use (an entry's, when `current.id` is set). */
  current: ModelInfo | null;
}

/** One frame of the raw stack and, once there is one, of the denoised stack. */
export interface FrameData {
  index: number;
  h: number;
  w: number;
  raw: Float32Array;
  denoised: Float32Array | null;
}

/** Events a job sends while it runs. */
export type JobEvent =
  | { kind: 'engine'; engine: EngineInfo; description: string }
  | { kind: 'train'; event: TrainEvent }
  | { kind: 'progress'; phase: string; done: number; total: number }
  | { kind: 'note'; text: string }
  /** The demo's simulated stack, open for viewing while the demo goes on. */
  | { kind: 'stack'; opened: StackOpened }
  /** The shown frame denoised by the model as it is after an epoch. */
  | { kind: 'preview'; epoch: number; index: number; h: number; w: number; data: Float32Array };

/** A job, a cancel, or the frame the page shows now (training previews each epoch on it). */
export type ToWorker = { id: number; job: Job } | { cancel: number } | { view: number };

export type FromWorker =
  | { id: number; type: 'event'; event: JobEvent }
  | { id: number; type: 'done'; result: JobResults[JobKind] }
  | { id: number; type: 'failed'; message: string; cancelled: boolean };
