/**
 * Custom kernels must not change what the network learns. From one initialisation and the same
 * batches, training on wasm (every custom kernel of ours: im2col convolutions, SIMD products and
 * GELU, in-place Slice, kernel threads forced on at any size) and on webgpu (WGSL convolutions
 * and fused attention) is compared with the cpu backend's stock kernels, for three seeds:
 * - short trajectories agree closely: the first steps' losses within 1e-4 relative. The kernels
 *   differ from the stock ones by float32 rounding (≤ 3e-7 relative per op, tested per kernel);
 *   Adam amplifies such differences step by step, and measured over the first 5 steps they stay
 *   below 2e-5 here, so a wrong kernel (an off-by-one tail, a dropped term) shows at once;
 * - whole runs agree: each seed's final validation loss within 1e-4 relative of cpu's (below),
 *   and their mean over the seeds within the seeds' spread (the bound that still holds where
 *   longer runs diverge chaotically); each run learns (its validation loss falls).
 */
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  type BackendName, ConfigError, initEngine, memorySink, type ModelConfig, PUBLISHED_RECIPE, simulateCalcium,
  startKernelThreads, train, type TrainingRecord,
} from '../../src/node.js';

const SMALL: ModelConfig = { fMaps: [4, 8], embedDim: 16, heads: 2, mlpDim: 32, window: 3, blocks: 1, patchT: 8, attnDropout: 0.1 };
const SEEDS = [1, 2, 3];
const SHORT = 5;
after(() => initEngine('cpu'));

interface Run {
  losses: number[];
  firstVal: number;
  finalVal: number;
}

async function runOn(backend: BackendName, seed: number): Promise<Run> {
  await initEngine(backend);
  const sim = simulateCalcium({ shape: [24, 32, 32], photons: 4, neurons: 4, seed: 40 + seed });
  const training: TrainingRecord = {
    ...PUBLISHED_RECIPE, sampling: 'spatial', patchXY: 16, patchT: 8, overlap: 0.5, trainSize: 24, epochs: 2,
    lr: 2e-3, beta1: 0.5, beta2: 0.999, scale: 1, seed, frames: null, inputs: ['sim'], valFraction: 0.1, schedule: 'cosine', warmup: 4,
  };
  // Kernel threads split every call on wasm, so that their path is part of the comparison.
  const threads = await startKernelThreads(backend === 'wasm' ? 2 : 1, { minFlops: 0 });
  try {
    const r = await train([sim.noisy], { model: SMALL, training, sink: memorySink() });
    return { losses: r.losses, firstVal: r.epochs[0]!.valLoss!, finalVal: r.epochs.at(-1)!.valLoss! };
  } finally {
    await threads.stop();
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / (xs.length - 1));

let reference: Run[] | undefined;
async function cpuRuns(): Promise<Run[]> {
  reference ??= await (async () => {
    const runs: Run[] = [];
    for (const seed of SEEDS) runs.push(await runOn('cpu', seed));
    return runs;
  })();
  return reference;
}

async function compare(t: TestContext, backend: BackendName): Promise<void> {
  const cpu = await cpuRuns();
  const ours: Run[] = [];
  for (const seed of SEEDS) {
    try {
      ours.push(await runOn(backend, seed));
    } catch (e) {
      if (backend !== 'webgpu' || !(e instanceof ConfigError) || process.env['SRDTRANS_REQUIRE_WEBGPU'] === '1') throw e;
      t.skip(`WebGPU unavailable: ${e.message}`);
      return;
    }
  }
  SEEDS.forEach((seed, i) => {
    const a = cpu[i]!;
    const b = ours[i]!;
    const worst = Math.max(...a.losses.slice(0, SHORT).map((l, k) => Math.abs(b.losses[k]! - l) / l));
    t.diagnostic(`seed ${seed}: first ${SHORT} losses within ${worst.toExponential(1)} relative; final validation cpu ${a.finalVal.toFixed(5)}, ${backend} ${b.finalVal.toFixed(5)}`);
    assert.ok(worst < 1e-4, `seed ${seed}: ${backend} losses ${b.losses.slice(0, SHORT)} vs cpu ${a.losses.slice(0, SHORT)}`);
    assert.ok(b.finalVal < b.firstVal, `seed ${seed}: ${backend} did not learn (validation ${b.firstVal} -> ${b.finalVal})`);
    // This small network does not amplify rounding chaotically within two epochs (stock against
    // ours: ≤ 6e-6 relative), so a kernel that changes gradients even slightly shows here: a GELU
    // slope off by 0.1 % moved the final validation loss by 3e-3 relative.
    const drift = Math.abs(b.finalVal - a.finalVal) / a.finalVal;
    assert.ok(drift < 1e-4, `seed ${seed}: ${backend} ends at validation loss ${b.finalVal}, cpu at ${a.finalVal} (${drift.toExponential(1)} relative)`);
  });
  const spread = sd(cpu.map((r) => r.finalVal));
  const gap = Math.abs(mean(ours.map((r) => r.finalVal)) - mean(cpu.map((r) => r.finalVal)));
  t.diagnostic(`final validation loss: mean gap ${gap.toExponential(2)}, cpu spread over seeds ${spread.toExponential(2)}`);
  assert.ok(gap < spread, `${backend} ends at a mean validation loss ${gap} away from cpu's, more than the seeds' spread ${spread}`);
}

test('wasm with every custom kernel and kernel threads learns as the cpu stock kernels do', async (t) => {
  await compare(t, 'wasm');
});

test('webgpu with the WGSL kernels learns as the cpu stock kernels do', async (t) => {
  await compare(t, 'webgpu');
});
