/**
 * A training run in the worker: the library's train() with the page's events, a preview of
 * the shown frame after each epoch, and the time the training itself took.
 */
import {
  denoiseStack, train, SRDTrans,
  type CheckpointSink, type ModelConfig, type PatchSource, type Stack, type StateDict, type TiffStackReader, type TrainingRecord, type TrainResult,
} from '../../src/index.js';
import type { JobEvent } from './protocol.js';

export interface TrainRun {
  stacks: Array<Stack | PatchSource>;
  config: ModelConfig;
  training: TrainingRecord;
  sink: CheckpointSink;
  /** Continue from the sink's resume state. */
  resume: boolean;
  init?: StateDict;
  /** The stack and frame the page shows, previewed after each epoch. */
  shown: () => { reader: TiffStackReader; frame: number } | null;
  emit: (event: JobEvent) => void;
  signal: AbortSignal;
}

/** `steps` trained in `seconds`, previews left out: the training's own time. */
export async function runTraining(run: TrainRun): Promise<{ result: TrainResult; steps: number; seconds: number }> {
  const started = performance.now();
  let steps = 0;
  let previewSeconds = 0;
  const preview = async (epoch: number, weights: StateDict) => {
    const t0 = performance.now();
    await previewFrame(run, epoch, weights);
    previewSeconds += (performance.now() - t0) / 1000;
  };
  const result = await train(run.stacks, {
    model: run.config, training: run.training, sink: withPreview(run.sink, preview), names: run.training.inputs,
    signal: run.signal, init: run.init, resume: run.resume,
    onEvent: (event) => {
      if (event.type === 'step') steps++;
      run.emit({ kind: 'train', event });
    },
  });
  return { result, steps, seconds: (performance.now() - started) / 1000 - previewSeconds };
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
 * The shown frame denoised with an epoch's weights: only the patches that make that frame run
 * (denoiseStack's `frames`), so it costs one slab, not the stack.
 */
async function previewFrame(run: TrainRun, epoch: number, weights: StateDict): Promise<void> {
  const shown = run.shown();
  if (!shown) return;
  const { reader } = shown;
  const [t, h, w] = reader.shape;
  const index = Math.max(0, Math.min(t - 1, shown.frame));
  const network = new SRDTrans(run.config, 0);
  try {
    network.loadStateDict(weights);
    const frames: Float32Array[] = [];
    await denoiseStack(network, reader, { patchXY: run.training.patchXY, overlap: 0.5, scale: run.training.scale, asFloat: true, frames: [index, index + 1] }, {
      writeFrames: (data) => void frames.push(Float32Array.from(data)),
    });
    if (frames[0]) run.emit({ kind: 'preview', epoch, index, h, w, data: frames[0] });
  } catch {
    // A preview is a courtesy: training goes on without it.
  } finally {
    network.dispose();
  }
}
