import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { machineLine, runCli, writeSyntheticStack } from './cli-run.js';
import { table } from './table.js';
import { positiveInt } from './options.js';

/**
 * `srdtrans denoise` wall time with 1, 2, … worker threads or `auto` (issue 7) on a uint16 stack with the
 * published default network (weights from one short training step: speed does not depend on
 * them) and the published inference patch, through the real command line. Also checks that
 * every worker count writes the same bytes.
 */
export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      workers: { type: 'string', default: '1,2' },
      frames: { type: 'string', default: '64' },
      size: { type: 'string', default: '256' },
      'patch-t': { type: 'string', default: '32' },
      'patch-xy': { type: 'string', default: '128' },
      backend: { type: 'string', default: 'wasm' },
    },
  });
  const counts = values.workers!.split(',');
  const frames = positiveInt('frames', values.frames);
  const size = positiveInt('size', values.size);
  const backend = values.backend!;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'srdtrans-workers-'));
  try {
    process.stdout.write(`${machineLine()}\n`);
    const stack = path.join(dir, 'stack.tif');
    await writeSyntheticStack(stack, [frames, size, size], 11);
    const model = path.join(dir, 'model');
    await runCli(['train', stack, '--out', model, '--backend', backend, '--patch-t', values['patch-t']!,
      '--patch-xy', values['patch-xy']!, '--train-size', '1', '--epochs', '1']);
    process.stdout.write(`network: published defaults, patch ${values['patch-xy']}² × ${values['patch-t']}, overlap 0.5, backend ${backend}, stack ${frames}×${size}×${size} uint16\n\n`);
    const rows: string[][] = [['workers', 'process wall s', 'denoise s', 'patches', 's / patch', 'peak RSS MiB', 'same bytes']];
    let reference: Buffer | undefined;
    for (const n of counts) {
      const out = path.join(dir, `out-${n}.tif`);
      const run = await runCli(['denoise', stack, '--model', model, '--out', out, '--backend', backend, '--workers', n, '--json']);
      const events = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      const seconds = Number(events.find((e) => e['event'] === 'done')!['seconds']);
      const patches = Number(events.filter((e) => e['event'] === 'patch').at(-1)!['total']);
      const bytes = readFileSync(out);
      reference ??= bytes;
      const switched = events.find((e) => e['event'] === 'workers');
      rows.push([switched ? `${n} → ${String(switched['workers'])}` : n, run.seconds.toFixed(1), seconds.toFixed(1), String(patches), (seconds / patches).toFixed(2),
        (run.maxRssKiB / 1024).toFixed(0), bytes.equals(reference) ? 'yes' : 'NO']);
      process.stdout.write(`  ${n} worker(s): ${seconds.toFixed(1)} s\n`);
    }
    process.stdout.write(`\n${table(rows)}\n(denoise s: the CLI's own figure, after the model is loaded and the workers started; process wall s includes both; load average now ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
