import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { machineLine, runCli, writeSyntheticStack } from './cli-run.js';
import { table } from './table.js';
import { positiveInt, positiveInts } from './options.js';

const TOLERANCE_MIB = 100;

/**
 * Peak RSS of the real `srdtrans denoise` on a short and a long uint16 stack (issue 7): beyond
 * the input stack itself, memory must not grow with the number of frames. A tiny network is
 * trained for one short epoch so that thousands of frames finish in minutes on a CPU.
 */
export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      frames: { type: 'string', default: '200,2000' },
      size: { type: 'string', default: '256' },
      backend: { type: 'string', default: 'wasm' },
      'patch-xy': { type: 'string', default: '128' },
      'patch-t': { type: 'string', default: '16' },
      // No overlap: the fewest patches, so thousands of frames finish in minutes; memory per slab is alike.
      overlap: { type: 'string', default: '0' },
      workers: { type: 'string', default: 'auto' },
      keep: { type: 'boolean', default: false },
    },
  });
  const lengths = positiveInts('frames', values.frames);
  const size = positiveInt('size', values.size);
  const backend = values.backend!;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'srdtrans-memory-'));
  try {
    process.stdout.write(`${machineLine()}\n`);
    const model = path.join(dir, 'model');
    const trainStack = path.join(dir, 'train.tif');
    await writeSyntheticStack(trainStack, [32, 64, 64], 7);
    await runCli(['train', trainStack, '--out', model, '--backend', backend, '--f-maps', '1,2', '--embed-dim', '4', '--heads', '1',
      '--mlp-dim', '8', '--window', '4', '--patch-t', values['patch-t']!, '--patch-xy', '32', '--train-size', '2', '--epochs', '1']);
    process.stdout.write(`model: f_maps 1,2, embed 4, trained 1 short epoch; inference patch ${values['patch-xy']}² × ${values['patch-t']}, overlap ${values.overlap}, backend ${backend}, --workers ${values.workers}\n\n`);
    const rows: string[][] = [['frames', 'input MiB', 'peak RSS MiB', 'RSS − input MiB', 'wall s']];
    const extra: number[] = [];
    for (const frames of lengths) {
      const input = path.join(dir, `stack-${frames}.tif`);
      await writeSyntheticStack(input, [frames, size, size], frames);
      const inputMiB = (frames * size * size * 2) / 2 ** 20;
      const output = path.join(dir, `out-${frames}.tif`);
      const run = await runCli(['denoise', input, '--model', model, '--out', output,
        '--backend', backend, '--patch-xy', values['patch-xy']!, '--overlap', values.overlap!, '--workers', values.workers!, '--json']);
      const peakMiB = run.maxRssKiB / 1024;
      extra.push(peakMiB - inputMiB);
      rows.push([String(frames), inputMiB.toFixed(0), peakMiB.toFixed(0), (peakMiB - inputMiB).toFixed(0), run.seconds.toFixed(1)]);
      rmSync(input);
      rmSync(output);
    }
    process.stdout.write(table(rows) + '\n\n');
    const spread = Math.max(...extra) - Math.min(...extra);
    const agree = spread <= TOLERANCE_MIB;
    process.stdout.write(`RSS beyond the input differs by ${spread.toFixed(0)} MiB across lengths: ${agree ? 'agree' : 'DISAGREE'} (tolerance ${TOLERANCE_MIB} MiB)\n`);
    if (!agree) process.exitCode = 1;
  } finally {
    if (values.keep) process.stdout.write(`kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
