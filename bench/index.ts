/**
 * `npm run bench -- <name> [options]`: benchmarks that print figures (never timed tests).
 *   train    forward, forward+backward and Adam step per backend (issue: training speed); --profile: time per kernel
 *   compare  ours against the PyTorch reference (tools/torch-reference) at the same shapes
 *   ort-profile  ONNX Runtime's own profile of a denoise patch: time per operator and node
 *   webgpu-tune  the WGSL convolutions' launch shapes timed on this adapter; --write keeps the fastest
 *   torch-env  the reference's forward and training step under each allocator and OpenMP setting
 *   memory   peak RSS of `srdtrans denoise` on a short and a long stack (issue 7)
 *   workers  `srdtrans denoise` wall time with 1, 2, … worker threads (issue 7)
 *   budget   denoising quality against training steps, spatial or temporal sampling (issue 6)
 *   kernel-threads  the kernels that kernel threads split, unsplit against split, per call
 *   parity   does our training learn what the PyTorch reference's training learns? (quality over seeds)
 *   browser  the same denoise and training-step jobs in the browser app (Chromium: wasm, WebGPU) and in Node
 */
import { isOptionError } from './options.js';

const benches: Record<string, () => Promise<{ main(args: string[]): Promise<void> }>> = {
  train: () => import('./train.js'),
  compare: () => import('./compare.js'),
  memory: () => import('./memory.js'),
  workers: () => import('./workers.js'),
  budget: () => import('./training-budget.js'),
  'kernel-threads': () => import('./kernel-threads.js'),
  parity: () => import('./parity.js'),
  'torch-env': () => import('./torch-env.js'),
  'ort-profile': () => import('./ort-profile.js'),
  'webgpu-tune': () => import('./webgpu-tune.js'),
  browser: () => import('./browser.js'),
};

const [name, ...rest] = process.argv.slice(2);
const load = name ? benches[name] : undefined;
if (!load) {
  process.stderr.write(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [options]\n`);
  process.exitCode = 2;
} else {
  try {
    await (await load()).main(rest);
  } catch (err) {
    if (!isOptionError(err)) throw err;
    process.stderr.write(`bench ${name}: ${err.message}\n`);
    process.exitCode = 2;
  }
}
