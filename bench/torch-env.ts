/**
 * `npm run bench -- torch-env`: the PyTorch reference's eval forward and training step in each
 * process environment of bench/torch.ts (allocators, OpenMP settings), to find the strongest
 * configuration of the tool we compare with on this machine.
 *
 *   --repeat N     timed runs per figure after one warm-up (default 5); median and fastest
 *   --threads N    torch.set_num_threads (default 2)
 *   --python PATH  Python with torch and NumPy 1.x (default /usr/bin/python3)
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { positiveInt } from './options.js';
import { table } from './table.js';
import { describeEnvironment, probeTorch, runPython, torchEnvironments, tunedTorchEnvironment } from './torch.js';

const FORWARD = { shape: '1,1,32,128,128', mode: 'to-mkldnn' };
const STEP = { shape: '1,1,32,64,64', mode: 'onednn' };

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      repeat: { type: 'string', default: '5' },
      threads: { type: 'string', default: '2' },
      python: { type: 'string', default: '/usr/bin/python3' },
    },
  });
  const repeat = positiveInt('repeat', values.repeat);
  const threads = positiveInt('threads', values.threads);
  const python = values.python!;
  const torch = probeTorch(python);
  if (!torch.ok) throw new Error(`the PyTorch reference cannot run: ${torch.detail}`);
  const load = () => os.loadavg().map((v) => v.toFixed(2)).join(' ');
  out(`machine: ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length}, load average ${load()} at start`);
  out(`PyTorch: ${torch.detail}; ${threads} threads; eval forward (${FORWARD.shape}, ${FORWARD.mode}), training step (${STEP.shape}, ${STEP.mode}); ${repeat} runs each after a warm-up`);
  const rows: string[][] = [];
  for (const environment of torchEnvironments()) {
    const time = async (what: 'forward' | 'step', o: { shape: string; mode: string }) => {
      const r = await runPython(python, 'bench.py', [what, '--shape', o.shape, '--repeat', String(repeat), '--threads', String(threads), '--conv-mode', o.mode], environment);
      const times = r['times_ms'] as number[];
      return { median: r['median_ms'] as number, fastest: Math.min(...times) };
    };
    const forward = await time('forward', FORWARD);
    const step = await time('step', STEP);
    const ms = (v: number) => v.toFixed(0);
    rows.push([environment.name, ms(forward.median), ms(forward.fastest), ms(step.median), ms(step.fastest), os.loadavg()[0]!.toFixed(2)]);
    out(`  ${describeEnvironment(environment)}: forward ${ms(forward.median)} ms, step ${ms(step.median)} ms`);
  }
  out('\n' + table([['environment', 'forward ms (median)', 'forward ms (fastest)', 'step ms (median)', 'step ms (fastest)', 'load'], ...rows]));
  out(`\nbench compare times the reference in: ${describeEnvironment(tunedTorchEnvironment())}`);
  out(`load average at end: ${load()}`);
}

function out(line: string): void {
  process.stdout.write(line + '\n');
}
