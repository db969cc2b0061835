import { UserError } from '../errors.js';
import { inferenceGrid, temporalExtent, trainGrid, type SamplingStrategy } from '../data/patches.js';
import { openStackFile, type StackFileReader } from '../io/stack-file.js';
import { expandInputs } from '../io/inputs.js';
import { choiceOption, numberOption, parseCommand, type OptionSpec } from './args.js';
import { TRAIN_DEFAULTS } from './train.js';

const SPEC: OptionSpec = {
  'patch-xy': { type: 'string', help: 'patch width/height for the grids', default: TRAIN_DEFAULTS.patchXY },
  'patch-t': { type: 'string', help: 'patch length for the grids', default: TRAIN_DEFAULTS.patchT },
  overlap: { type: 'string', help: 'patch overlap for the grids', default: TRAIN_DEFAULTS.overlap },
  'train-size': { type: 'string', help: 'training patches wanted per epoch', default: TRAIN_DEFAULTS.trainSize },
  sampling: { type: 'string', help: 'spatial|temporal (temporal patches span 2×patch-t frames)', default: 'spatial' },
  channel: { type: 'string', help: 'channel of a multi-channel file (0-based)' },
  json: { type: 'boolean', help: 'print one JSON object per stack' },
};

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand('info', '<stack.tif|stack.zarr|folder>... [options]', SPEC, args);
  if (parsed === 'help') return 0;
  const { values, positionals } = parsed;
  const patchXY = numberOption(values, 'patch-xy', TRAIN_DEFAULTS.patchXY, { min: 2, integer: true });
  const patchT = numberOption(values, 'patch-t', TRAIN_DEFAULTS.patchT, { min: 1, integer: true });
  const overlap = numberOption(values, 'overlap', TRAIN_DEFAULTS.overlap, { min: 0, max: 0.95 });
  const trainSize = numberOption(values, 'train-size', TRAIN_DEFAULTS.trainSize, { min: 1, integer: true });
  const sampling = choiceOption<SamplingStrategy>(values, 'sampling', ['spatial', 'temporal'], 'spatial');
  const channel = values['channel'] === undefined ? undefined : numberOption(values, 'channel', 0, { min: 0, integer: true });
  const json = values['json'] === true;
  for (const file of await expandInputs(positionals)) {
    const reader = await openStackFile(file, channel === undefined ? {} : { channel });
    try {
      const range = await valueRange(reader);
      const fits = (what: () => number): number | string => {
        try {
          return what();
        } catch (err) {
          if (err instanceof UserError) return `does not fit: ${err.message}`;
          throw err;
        }
      };
      const trainPatches = fits(() => trainGrid([reader.shape], {
        patchXY, patchT, overlap, trainSize, extentT: temporalExtent(sampling, patchT), names: [file],
      }).length);
      const denoisePatches = fits(() => inferenceGrid(reader.shape, { patchXY, patchT, overlap, name: file }).length);
      const i = reader.info;
      if (json) {
        process.stdout.write(JSON.stringify({
          file, shape: reader.shape, dtype: reader.dtype, axes: reader.axes, format: i.format, channel: i.channel,
          ...('bigTiff' in i ? { bigTiff: i.bigTiff, compression: i.compression } : { chunks: i.chunks, scale: i.scale }), min: range.min, max: range.max, mean: range.mean,
          grid: { patchXY, patchT, overlap, sampling, trainPatches, denoisePatches },
        }) + '\n');
        continue;
      }
      const [t, h, w] = reader.shape;
      process.stdout.write([
        `${file}`,
        `  shape      ${t} frames × ${h} × ${w} (t, y, x)`,
        `  type       ${reader.dtype}${'bigTiff' in i ? `${i.bigTiff ? ', BigTIFF' : ''}, ${i.compression}` : `, chunks ${i.chunks.join('×')}`}`,
        `  axes       ${reader.axes} (${i.format})${i.channel !== null ? `, channel ${i.channel}` : ''}`,
        `  values     min ${range.min}  max ${range.max}  mean ${range.mean.toFixed(2)}`,
        `  patches    ${patchXY}×${patchXY}×${patchT}, overlap ${overlap}, ${sampling} sampling`,
        `  train      ${typeof trainPatches === 'number' ? `${trainPatches} patches per epoch` : trainPatches}`,
        `  denoise    ${typeof denoisePatches === 'number' ? `${denoisePatches} patches` : denoisePatches}`,
        '',
      ].join('\n'));
    } finally {
      await reader.close();
    }
  }
  return 0;
}

/** Min, max and mean, read a few frames at a time so a large stack is never held whole. */
async function valueRange(reader: StackFileReader): Promise<{ min: number; max: number; mean: number }> {
  const [t, h, w] = reader.shape;
  const chunk = Math.max(1, Math.floor(16_777_216 / (h * w)));
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let start = 0; start < t; start += chunk) {
    const data = await reader.readFrames(start, Math.min(chunk, t - start));
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
  }
  return { min, max, mean: sum / (t * h * w) };
}
