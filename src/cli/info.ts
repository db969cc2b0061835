import type { SamplingStrategy } from '../data/patches.js';
import { openStackFile } from '../io/stack-file.js';
import { formatStackSummary, summarizeStack } from '../io/stack-summary.js';
import { expandInputs } from '../io/inputs.js';
import { choiceOption, numberOption, parseCommand, type OptionSpec } from './args.js';
import { TRAIN_DEFAULTS } from '../train/defaults.js';

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
      const summary = await summarizeStack(reader, file, { patchXY, patchT, overlap, trainSize, sampling });
      process.stdout.write(json ? JSON.stringify(summary) + '\n' : formatStackSummary(summary));
    } finally {
      await reader.close();
    }
  }
  return 0;
}
