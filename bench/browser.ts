/**
 * `npm run bench -- browser`: the same denoising and training jobs in the browser app (headless
 * Chromium, driven as a user would: wasm, and WebGPU, on SwiftShader where there is no GPU) and
 * in Node on the library's wasm backend, with the ratios.
 *
 * The jobs: the demo's network (random weights: speed does not depend on them) denoising a
 * simulated uint16 stack with 64-pixel patches, and training steps on 32×32×32 patches. Each is
 * run twice per side and the faster run counted, so one-off start-up (compiling wasm and
 * shaders) is left out. The app's figures are its own (the worker times the job itself).
 * WebGPU trains fewer steps (--gpu-steps), the figure being per step either way: on SwiftShader
 * (no GPU) its jobs run for many minutes.
 * In Node the kernels run on one thread (no kernel threads, no patch workers): in the browser,
 * under cross-origin isolation, TF.js's threaded wasm build uses its own thread pool for the
 * stock kernels, so the comparison is of what each host does out of the box.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEMO_MODEL, denoiseStack, encodePth, encodeTiff, initEngine, memorySink, simulateCalcium, SRDTrans, TiffEncoder, train,
  type Stack, type TrainingRecord,
} from '../src/node.js';
import { errorText, fill, launchBrowser, openApp, startApp, waitForJob } from '../test/web/browser.js';
import type { Page } from 'playwright-core';
import { machineLine } from './cli-run.js';
import { positiveInt } from './options.js';
import { table } from './table.js';

const PATCH_XY = 64;
const TRAIN_XY = 32;

interface Figures {
  denoise: number;
  step: number;
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      frames: { type: 'string', default: '64' },
      size: { type: 'string', default: '64' },
      steps: { type: 'string', default: '12' },
      // SwiftShader runs WebGPU on the CPU at a small fraction of wasm's speed: fewer steps there.
      'gpu-steps': { type: 'string', default: '2' },
      backends: { type: 'string', default: 'wasm,webgpu' },
    },
  });
  const frames = positiveInt('frames', values.frames);
  const size = positiveInt('size', values.size);
  const steps = positiveInt('steps', values.steps);
  const gpuSteps = positiveInt('gpu-steps', values['gpu-steps']);
  const backends = values.backends!.split(',') as Array<'wasm' | 'webgpu'>;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'srdtrans-bench-browser-'));
  try {
    process.stdout.write(`${machineLine()}\n`);
    const stack = simulateCalcium({ shape: [frames, size, size], seed: 5 }).noisy;
    writeFileSync(path.join(dir, 'stack.tif'), encodeTiff(stack));
    await initEngine('wasm');
    const network = new SRDTrans(DEMO_MODEL, 1);
    writeFileSync(path.join(dir, 'model.pth'), encodePth(await network.stateDict()));
    process.stdout.write(`jobs: demo network, denoise ${frames}×${size}×${size} uint16 with ${PATCH_XY}² × ${DEMO_MODEL.patchT} patches; ${steps} training steps on ${TRAIN_XY}² × ${DEMO_MODEL.patchT} patches\n\n`);

    const node = await nodeFigures(network, stack, steps);
    network.dispose();
    process.stdout.write(`  node wasm: denoise ${node.denoise.toFixed(2)} s, ${node.step.toFixed(3)} s a step\n`);
    const browser = new Map<string, Figures>();
    const server = await startApp();
    const chromium = await launchBrowser();
    try {
      for (const backend of backends) {
        const figures = await browserFigures(await openApp(chromium, server.url, backend).then((o) => o.page), dir, backend === 'webgpu' ? gpuSteps : steps);
        browser.set(backend, figures);
        process.stdout.write(`  browser ${backend}: denoise ${figures.denoise.toFixed(2)} s, ${figures.step.toFixed(3)} s a step\n`);
      }
    } finally {
      await chromium.close();
      await server.stop();
    }
    const rows: string[][] = [['job', 'Node wasm', ...backends.flatMap((b) => [`browser ${b}`, 'ratio'])]];
    for (const [label, key, unit] of [['denoise', 'denoise', 's'], ['training step', 'step', 's']] as const) {
      rows.push([label, `${node[key].toFixed(3)} ${unit}`, ...backends.flatMap((b) => {
        const v = browser.get(b)![key];
        return [`${v.toFixed(3)} ${unit}`, (v / node[key]).toFixed(2)];
      })]);
    }
    process.stdout.write(`\n${table(rows)}\n(ratio: browser time / Node wasm time; load average now ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function trainingRecord(steps: number): TrainingRecord {
  return {
    sampling: 'spatial', patchXY: TRAIN_XY, patchT: DEMO_MODEL.patchT, overlap: 0.5, trainSize: steps, epochs: 1, lr: 1e-4,
    beta1: 0.5, beta2: 0.999, scale: 1, seed: 0, frames: null, inputs: ['stack.tif'], valFraction: 0, schedule: 'constant',
    warmup: 0, init: null, patience: 0,
  };
}

async function nodeFigures(network: SRDTrans, stack: Stack, steps: number): Promise<Figures> {
  let denoise = Infinity;
  let step = Infinity;
  for (let run = 0; run < 2; run++) {
    const t0 = performance.now();
    await denoiseStack(network, stack, { patchXY: PATCH_XY, overlap: 0.5, scale: 1, asFloat: false }, new TiffEncoder('out.tif', stack.shape, 'uint16'));
    denoise = Math.min(denoise, (performance.now() - t0) / 1000);
    const t1 = performance.now();
    const result = await train([stack], { model: DEMO_MODEL, training: trainingRecord(steps), sink: memorySink() });
    step = Math.min(step, (performance.now() - t1) / 1000 / result.losses.length);
  }
  return { denoise, step };
}

async function browserFigures(page: Page, dir: string, steps: number): Promise<Figures> {
  await page.getByTestId('stack-input').setInputFiles(path.join(dir, 'stack.tif'));
  await expectDone(page);
  let denoise = Infinity;
  let step = Infinity;
  for (let run = 0; run < 2; run++) {
    await page.getByTestId('model-input').setInputFiles(path.join(dir, 'model.pth'));
    await expectDone(page);
    await fill(page, { 'patch-xy': PATCH_XY, overlap: 0.5 });
    await page.getByTestId('denoise').click();
    await expectDone(page);
    denoise = Math.min(denoise, figure(await page.getByTestId('progress-text').textContent(), /denoised in ([\d.]+) s/)[0]!);
    const m = DEMO_MODEL;
    await fill(page, {
      'f-maps': m.fMaps.join(','), 'embed-dim': m.embedDim, heads: m.heads, 'mlp-dim': m.mlpDim, window: m.window, blocks: m.blocks,
      'patch-t': m.patchT, 'patch-xy': TRAIN_XY, overlap: 0.5, 'train-size': steps, epochs: 1, 'val-fraction': 0, seed: 0,
    });
    await page.getByTestId('train').click();
    await expectDone(page);
    const [done, seconds] = figure(await page.getByTestId('progress-text').textContent(), /trained (\d+) steps in ([\d.]+) s/);
    step = Math.min(step, seconds! / done!);
  }
  await page.close();
  return { denoise, step };
}

async function expectDone(page: Page): Promise<void> {
  const status = await waitForJob(page, 600_000);
  if (status !== 'done') throw new Error(`the app's job ended ${status}: ${await errorText(page)}`);
}

function figure(text: string | null, pattern: RegExp): number[] {
  const m = pattern.exec(text ?? '');
  if (!m) throw new Error(`no figure in the app's progress text: ${text}`);
  return m.slice(1).map(Number);
}
