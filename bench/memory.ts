import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { machineLine, runCli, writeSyntheticStack } from './cli-run.js';
import { table } from './table.js';
import { BenchOptionError, positiveInt, positiveInts } from './options.js';

const TOLERANCE_MIB = 100;

/**
 * Peak RSS of the real `srdtrans denoise` on a short and a long uint16 stack, as TIFF and as
 * OME-Zarr, and of `train` on the OME-Zarr (issues 7 and 16): the input is read as the patches
 * need it, so peak memory must not grow with the number of frames. A tiny network is trained for one short epoch so that
 * thousands of frames finish in minutes on a CPU.
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
      formats: { type: 'string', default: 'tiff,ome-zarr' },
      keep: { type: 'boolean', default: false },
    },
  });
  const lengths = positiveInts('frames', values.frames);
  const size = positiveInt('size', values.size);
  const backend = values.backend!;
  const formats = values.formats!.split(',');
  if (formats.some((f) => f !== 'tiff' && f !== 'ome-zarr')) throw new BenchOptionError('--formats: expected tiff and/or ome-zarr');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'srdtrans-memory-'));
  try {
    process.stdout.write(`${machineLine()}\n`);
    const model = path.join(dir, 'model');
    const trainStack = path.join(dir, 'train.tif');
    await writeSyntheticStack(trainStack, [32, 64, 64], 7);
    await runCli(['train', trainStack, '--out', model, '--backend', backend, '--f-maps', '1,2', '--embed-dim', '4', '--heads', '1',
      '--mlp-dim', '8', '--window', '4', '--patch-t', values['patch-t']!, '--patch-xy', '32', '--train-size', '2', '--epochs', '1']);
    process.stdout.write(`model: f_maps 1,2, embed 4, trained 1 short epoch; inference patch ${values['patch-xy']}² × ${values['patch-t']}, overlap ${values.overlap}, backend ${backend}, --workers ${values.workers}\n\n`);
    const rows: string[][] = [['format', 'job', 'frames', 'input MiB', 'peak RSS MiB', 'wall s']];
    let disagree = false;
    for (const format of formats) {
      const peaks: number[] = [];
      const trainPeaks: number[] = [];
      for (const frames of lengths) {
        const tiff = path.join(dir, `stack-${frames}.tif`);
        await writeSyntheticStack(tiff, [frames, size, size], frames);
        const ext = format === 'tiff' ? 'tif' : 'zarr';
        const input = format === 'tiff' ? tiff : path.join(dir, `stack-${frames}.zarr`);
        if (format !== 'tiff') {
          await runCli(['convert', tiff, input]);
          rmSync(tiff);
        }
        const output = path.join(dir, `out-${frames}.${ext}`);
        const run = await runCli(['denoise', input, '--model', model, '--out', output,
          '--backend', backend, '--patch-xy', values['patch-xy']!, '--overlap', values.overlap!, '--workers', values.workers!, '--json']);
        const inputMiB = ((frames * size * size * 2) / 2 ** 20).toFixed(0);
        peaks.push(run.maxRssKiB / 1024);
        rows.push([format, 'denoise', String(frames), inputMiB, (run.maxRssKiB / 1024).toFixed(0), run.seconds.toFixed(1)]);
        if (format === 'ome-zarr') {
          // Training reads an OME-Zarr patch by patch (TIFF is loaded whole): its memory must not grow either.
          const trained = await runCli(['train', input, '--out', path.join(dir, `model-${frames}`), '--backend', backend, '--f-maps', '1,2', '--embed-dim', '4',
            '--heads', '1', '--mlp-dim', '8', '--window', '4', '--patch-t', values['patch-t']!, '--patch-xy', '32', '--train-size', '16', '--epochs', '1', '--json']);
          trainPeaks.push(trained.maxRssKiB / 1024);
          rows.push([format, 'train', String(frames), inputMiB, (trained.maxRssKiB / 1024).toFixed(0), trained.seconds.toFixed(1)]);
        }
        rmSync(input, { recursive: true, force: true });
        rmSync(output, { recursive: true, force: true });
      }
      for (const [job, values] of [['denoise', peaks], ['train', trainPeaks]] as const) {
        if (values.length === 0) continue;
        const spread = Math.max(...values) - Math.min(...values);
        disagree ||= spread > TOLERANCE_MIB;
        process.stdout.write(`${format} ${job}: peak RSS differs by ${spread.toFixed(0)} MiB across lengths: ${spread <= TOLERANCE_MIB ? 'agree' : 'DISAGREE'} (tolerance ${TOLERANCE_MIB} MiB)\n`);
      }
    }
    process.stdout.write('\n' + table(rows) + '\n');
    if (disagree) process.exitCode = 1;
  } finally {
    if (values.keep) process.stdout.write(`kept ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
