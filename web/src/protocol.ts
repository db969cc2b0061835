/**
 * The messages between the page and the engine worker. Every job the page asks for carries an
 * id; the worker answers it with events while it runs and exactly one `done` or `failed`.
 */
import type { BackendChoice, EngineInfo, Evaluation, ModelConfig, SamplingStrategy, StackSummary, TrainEvent } from '../../src/index.js';

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
}

export type Job =
  | { kind: 'engine'; backend: AppBackend }
  | { kind: 'open'; file: File; grid: GridFields }
  | { kind: 'summary'; grid: GridFields }
  | { kind: 'frame'; index: number }
  /** The mean of the pixels in [x0, x1) × [y0, y1) in every frame. */
  | { kind: 'trace'; x0: number; y0: number; x1: number; y1: number }
  | { kind: 'train'; backend: AppBackend; fields: TrainFields }
  | { kind: 'denoise'; backend: AppBackend; fields: DenoiseFields }
  | { kind: 'load-model'; file: File }
  /** ONNX and the BioImage package take tiles of patchXY² (`srdtrans export --patch-xy`). */
  | { kind: 'export-model'; backend: AppBackend; format: ModelFormat; patchXY: number }
  | { kind: 'demo'; backend: AppBackend; steps: number; epochs: number };

export type JobKind = Job['kind'];

/** What each job's `done` carries. */
export interface JobResults {
  engine: { engine: EngineInfo; description: string };
  open: StackOpened;
  summary: { summary: StackSummary; text: string };
  frame: FrameData;
  trace: { raw: Float32Array; denoised: Float32Array | null };
  /** `steps` trained in `seconds` (training alone, not reading the stack). */
  train: { epochsDone: number; interrupted: boolean; bestEpoch: number | null; model: ModelInfo; steps: number; seconds: number };
  denoise: DenoiseResult;
  'load-model': { model: ModelInfo };
  'export-model': { bytes: Uint8Array; name: string };
  demo: { raw: Evaluation; denoised: Evaluation; text: string; opened: StackOpened; output: DenoiseResult; model: ModelInfo };
}

export interface StackOpened {
  name: string;
  shape: readonly [number, number, number];
  summary: StackSummary;
  /** The summary as `srdtrans info` prints it. */
  text: string;
}

export interface DenoiseResult {
  /** The TIFF file, as the CLI's `denoise` writes it. */
  bytes: Uint8Array;
  name: string;
  dtype: string;
  seconds: number;
}

export interface ModelInfo {
  /** One line: where the model came from and its architecture. */
  description: string;
  config: ModelConfig;
  /** Training patch size, the denoising default. */
  patchXY: number;
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
