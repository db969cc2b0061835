import { StackError, ConfigError } from '../errors.js';
import { evaluate } from '../quality/metrics.js';
import { formatEvaluation } from '../quality/format.js';
import { readStackFile } from '../io/stack-file.js';
import { numberOption, parseCommand, stringOption, type OptionSpec } from './args.js';

const SPEC: OptionSpec = {
  denoised: { type: 'string', help: 'the stack to score (TIFF or OME-Zarr)' },
  reference: { type: 'string', help: 'the ground truth (TIFF or OME-Zarr), same shape' },
  masks: { type: 'string', help: 'neuron label image (TIFF, one frame; 0 = background) for trace correlation and the error split' },
  baseline: { type: 'string', help: 'camera offset carried by the reference, left out of the SNR\'s signal energy', default: 0 },
  json: { type: 'boolean', help: 'print one JSON object: snr_db, snr_z_db, psnr_db, ssim, trace_r, error_split' },
};

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand('evaluate', '--denoised <x.tif> --reference <gt.tif> [--masks <labels.tif>] [options]', SPEC, args);
  if (parsed === 'help') return 0;
  const { values } = parsed;
  const denoisedPath = stringOption(values, 'denoised');
  const referencePath = stringOption(values, 'reference');
  if (!denoisedPath || !referencePath) throw new ConfigError('evaluate: --denoised and --reference are both required');
  const denoised = await readStackFile(denoisedPath);
  const reference = await readStackFile(referencePath);
  if (denoised.shape.join() !== reference.shape.join()) {
    throw new StackError(`${denoisedPath} is ${denoised.shape.join('×')} but ${referencePath} is ${reference.shape.join('×')}: compare stacks of the same shape`);
  }
  const masksPath = stringOption(values, 'masks');
  let masks: { labels: ArrayLike<number> } | null = null;
  if (masksPath) {
    const m = await readStackFile(masksPath);
    if (m.shape[1] !== reference.shape[1] || m.shape[2] !== reference.shape[2]) {
      throw new StackError(`${masksPath}: masks are ${m.shape[1]}×${m.shape[2]} but the stacks are ${reference.shape[1]}×${reference.shape[2]}`);
    }
    masks = { labels: m.data.subarray(0, m.shape[1] * m.shape[2]) };
  }
  const result = evaluate(denoised, reference, masks, { baseline: numberOption(values, 'baseline', 0) });
  process.stdout.write(values['json'] === true ? JSON.stringify(result) + '\n' : formatEvaluation(result) + '\n');
  return 0;
}
