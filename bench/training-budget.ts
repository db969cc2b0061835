import { parseArgs } from 'node:util';
import { describeEngine, initEngine, type BackendChoice } from '../src/engine/backend.js';
import { autoKernelThreads, startKernelThreads } from '../src/engine/kernel-threads.js';
import { denoiseToStack } from '../src/infer/denoise.js';
import { PUBLISHED_RECIPE } from '../src/train/record.js';
import { memorySink, type CheckpointSink } from '../src/train/sink.js';
import type { StateDict } from '../src/model/params.js';
import type { SamplingStrategy } from '../src/data/patches.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from '../src/model/config.js';
import { SRDTrans } from '../src/model/srdtrans.js';
import { gaussianSpatial, gaussianSpatioTemporal, movingAverage } from '../src/quality/baselines.js';
import { evaluate, type Evaluation } from '../src/quality/metrics.js';
import { simulateCalcium } from '../src/quality/simulate/calcium.js';
import { train } from '../src/train/loop.js';
import { machineLine } from './cli-run.js';
import { table } from './table.js';
import { integer, oneOf, positiveInt, positiveNumber } from './options.js';

/**
 * Denoising quality against training length (issue 6): trains one network on a simulated calcium
 * stack with spatial or temporal sampling, checkpoints after every epoch, and
 * scores every checkpoint against the ground truth. Shows whether a short budget undertrains.
 */
export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      rate: { type: 'string', default: '0.3' },
      sampling: { type: 'string', default: 'spatial' },
      epochs: { type: 'string', default: '6' },
      'steps-per-epoch': { type: 'string', default: '100' },
      lr: { type: 'string', default: '2e-4' },
      frames: { type: 'string', default: '96' },
      size: { type: 'string', default: '64' },
      photons: { type: 'string', default: '2' },
      backend: { type: 'string', default: 'wasm' },
      seed: { type: 'string', default: '1' },
    },
  });
  const sampling = oneOf<SamplingStrategy>('sampling', values.sampling, ['spatial', 'temporal']);
  const [frames, size, perEpoch, epochs] = (['frames', 'size', 'steps-per-epoch', 'epochs'] as const).map((k) => positiveInt(k, values[k]));
  const seed = integer('seed', values.seed);
  const [rate, photons, lr] = (['rate', 'photons', 'lr'] as const).map((k) => positiveNumber(k, values[k]));
  // The CPU network of `srdtrans bench quality` and `srdtrans demo`.
  const model: ModelConfig = { ...DEFAULT_MODEL_CONFIG, fMaps: [8, 16, 32, 64], embedDim: 64, heads: 4, mlpDim: 128, patchT: 32 };
  const patchXY = Math.min(64, size - (size % 2));
  console.log(machineLine());
  const engine = await initEngine(values.backend as BackendChoice);
  console.log(describeEngine(engine));
  const sim = simulateCalcium({ shape: [frames, size, size], seed, frameRate: rate!, photons: photons! });
  const score = (x: Parameters<typeof evaluate>[0]) => evaluate(x, sim.clean, sim.masks, { baseline: sim.params.offset });
  const row = (label: string, e: Evaluation, seconds: string) =>
    [label, e.snr_db.toFixed(2), e.ssim.toFixed(3), e.trace_r === null ? 'n/a' : e.trace_r.toFixed(3), seconds];
  const rows = [
    ['steps', 'SNR dB', 'SSIM', 'trace r', 'training s'],
    row('raw', score(sim.noisy), ''),
    // The classical baselines of bench quality, with its settings, for reference at this photon level.
    row('gaussian xy', score(gaussianSpatial(sim.noisy, 1)), ''),
    row('gaussian xyt', score(gaussianSpatioTemporal(sim.noisy, 1, 1)), ''),
    row('moving average', score(movingAverage(sim.noisy, 3)), ''),
  ];

  const kernelThreads = await startKernelThreads(engine.backend === 'wasm' ? autoKernelThreads() : 1);
  if (kernelThreads.threads > 1) console.log(`${kernelThreads.threads} kernel threads`);
  try {
    const started = performance.now();
    const checkpoints: { steps: number; weights: StateDict; seconds: number }[] = [];
    // Every epoch's weights, kept in memory to score them all afterwards.
    const sink: CheckpointSink = {
      ...memorySink(),
      epoch: async (epoch, weights) => {
        checkpoints.push({ steps: epoch * stepsPerEpoch, weights, seconds: (performance.now() - started) / 1000 });
        return `epoch ${epoch}`;
      },
    };
    // --steps-per-epoch is the published train_datasets_size: the grid built from it has about
    // that many patches (fewer for temporal sampling, whose patches span 2 × patch_t frames).
    let stepsPerEpoch = 0;
    await train([sim.noisy], {
      model, sink,
      training: {
        ...PUBLISHED_RECIPE, sampling, patchXY, patchT: model.patchT, overlap: 0.5, trainSize: perEpoch!, epochs: epochs!,
        lr: lr!, beta1: 0.5, beta2: 0.999, scale: 1, seed, frames: null, inputs: ['simulated calcium'],
      },
      onEvent: (e) => {
        if (e.type === 'start') stepsPerEpoch = e.patches;
        if (e.type !== 'epoch') return;
        console.log(`  epoch ${checkpoints.length}: mean loss ${e.meanLoss.toFixed(4)}`);
      },
    });
    for (const c of checkpoints) {
      const network = new SRDTrans(model, seed);
      try {
        network.loadStateDict(c.weights);
        const denoised = await denoiseToStack(network, sim.noisy, { patchXY, overlap: 0.5, scale: 1, asFloat: true });
        rows.push(row(String(c.steps), score(denoised), c.seconds.toFixed(0)));
      } finally {
        network.dispose();
      }
    }
  } finally {
    await kernelThreads.stop();
  }
  console.log(`\ncalcium ${values.rate} Hz, ${frames}×${size}×${size}, ${values.photons} photons/px; ${sampling} sampling, lr ${values.lr}`);
  console.log(table(rows));
}
