import * as path from 'node:path';
import { ConfigError } from '../errors.js';
import { simulateCalcium, type CalciumOptions } from '../quality/simulate/calcium.js';
import { simulateSmlm } from '../quality/simulate/smlm.js';
import { writeStackFile } from '../io/stack-file.js';
import { writeFileAtomic } from '../io/atomic.js';
import { makeOutputFolder } from './output.js';
import { imageMontage } from '../report/png.js';
import { choiceOption, numberOption, parseCommand, stringOption, type OptionSpec } from './args.js';

const SPEC: OptionSpec = {
  out: { type: 'string', help: 'folder for noisy.tif, clean.tif, (masks.tif), params.json and preview.png' },
  format: { type: 'string', help: 'stack files: tiff, or ome-zarr (noisy.zarr, clean.zarr, masks.zarr)', default: 'tiff' },
  frames: { type: 'string', help: 'number of frames', default: 200 },
  size: { type: 'string', help: 'frame width and height in pixels', default: 128 },
  'frame-rate': { type: 'string', help: 'calcium: frames per second (0.1–30)', default: 0.3 },
  photons: { type: 'string', help: 'calcium: mean photons per pixel per frame; smlm: photons per emitter per frame' },
  seed: { type: 'string', help: 'random seed', default: 1 },
};

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand('simulate', 'calcium|smlm --out <folder> [options]', SPEC, args);
  if (parsed === 'help') return 0;
  const { values, positionals } = parsed;
  const kind = positionals[0];
  if (kind !== 'calcium' && kind !== 'smlm') throw new ConfigError("simulate: say what to simulate: 'calcium' or 'smlm'");
  const out = stringOption(values, 'out');
  if (!out) throw new ConfigError('simulate: --out <folder> is required');
  const frames = numberOption(values, 'frames', 200, { min: 1, integer: true });
  const size = numberOption(values, 'size', 128, { min: 8, integer: true });
  const seed = numberOption(values, 'seed', 1, { min: 0, integer: true });
  const shape = [frames, size, size] as const;
  const ext = choiceOption(values, 'format', ['tiff', 'ome-zarr'], 'tiff') === 'tiff' ? 'tif' : 'zarr';
  const file = (name: string) => path.join(out, `${name}.${ext}`);
  await makeOutputFolder(out);
  if (kind === 'calcium') {
    const options: CalciumOptions = { shape, seed, frameRate: numberOption(values, 'frame-rate', 0.3, { min: 0.01, max: 1000 }) };
    if (values['photons'] !== undefined) options.photons = numberOption(values, 'photons', 10, { min: 0.01 });
    const sim = simulateCalcium(options);
    await writeStackFile(file('noisy'), sim.noisy);
    await writeStackFile(file('clean'), sim.clean);
    await writeStackFile(file('masks'), { data: sim.masks.labels, shape: [1, size, size], dtype: 'int32' });
    await writeFileAtomic(path.join(out, 'params.json'), JSON.stringify({ kind, ...sim.params, neurons: sim.masks.count }, null, 2) + '\n');
    await writePreview(out, sim.noisy.data, sim.clean.data, size);
    report(out, ext, `calcium imaging, ${sim.masks.count} neurons at ${sim.params.frameRate} Hz`, sim.params.offset, true);
  } else {
    const sim = simulateSmlm({ shape, seed, ...(values['photons'] !== undefined ? { photons: numberOption(values, 'photons', 500, { min: 0.01 }) } : {}) });
    await writeStackFile(file('noisy'), sim.noisy);
    await writeStackFile(file('clean'), sim.clean);
    await writeFileAtomic(path.join(out, 'params.json'), JSON.stringify({ kind, ...sim.params, emitters: sim.emitters.count }, null, 2) + '\n');
    await writePreview(out, sim.noisy.data, sim.clean.data, size);
    report(out, ext, `SMLM, ${sim.emitters.count} emitters`, sim.params.offset, false);
  }
  return 0;
}

async function writePreview(out: string, noisy: ArrayLike<number>, clean: ArrayLike<number>, size: number): Promise<void> {
  const frame = size * size;
  const first = (a: ArrayLike<number>) => Float32Array.from({ length: frame }, (_, i) => a[i]!);
  await writeFileAtomic(path.join(out, 'preview.png'), imageMontage([
    { title: 'noisy (frame 0)', frame: first(noisy), h: size, w: size },
    { title: 'ground truth', frame: first(clean), h: size, w: size },
  ], { upscale: 'auto' }));
}

function report(out: string, ext: string, what: string, offset: number, masks: boolean): void {
  process.stderr.write(
    `srdtrans simulate: ${what} -> ${out}/noisy.${ext}, clean.${ext}${masks ? `, masks.${ext}` : ''}, params.json, preview.png\n` +
    `  score a result with: srdtrans evaluate --denoised <result.${ext}> --reference ${out}/clean.${ext}` +
    `${masks ? ` --masks ${out}/masks.${ext}` : ''} --baseline ${offset}\n`,
  );
}
