import { ConfigError } from '../errors.js';
import { checkZarrOutput, createStackFile, openStackFile } from '../io/stack-file.js';
import { isZarrPath } from '../io/zarr/files.js';
import { listOption, numberOption, parseCommand, type OptionSpec } from './args.js';
import { ProgressBar, progressMode } from './progress.js';

const SPEC: OptionSpec = {
  channel: { type: 'string', help: 'channel to take from a multi-channel input (0-based)' },
  overwrite: { type: 'boolean', help: 'replace an existing OME-Zarr output (a TIFF output is always replaced)' },
  'zarr-format': { type: 'string', help: 'OME-Zarr output: 3 (OME-NGFF 0.5) or 2 (0.4, for tools that read only Zarr v2)', default: 3 },
  chunks: { type: 'string', help: 'OME-Zarr output chunk shape t,y,x', default: '32,256,256 (at most the stack)' },
};

/** Frames per read and write: about 64 MiB of pixels, so memory stays bounded at any stack length. */
const BATCH_BYTES = 64 * 2 ** 20;

export async function run(args: string[]): Promise<number> {
  const parsed = parseCommand('convert', '<in.tif|in.zarr> <out.zarr|out.tif> [options]', SPEC, args);
  if (parsed === 'help') return 0;
  const { values, positionals } = parsed;
  if (positionals.length !== 2) throw new ConfigError('convert: give one input and one output, e.g. srdtrans convert stack.tif stack.zarr');
  const [input, output] = positionals as [string, string];
  if (isZarrPath(input) === isZarrPath(output)) {
    throw new ConfigError(`convert: ${input} -> ${output} keeps the format; convert between TIFF (.tif) and OME-Zarr (.zarr)`);
  }
  const channel = values['channel'] === undefined ? undefined : numberOption(values, 'channel', 0, { min: 0, integer: true });
  const format = numberOption(values, 'zarr-format', 3, { min: 2, max: 3, integer: true }) as 2 | 3;
  const chunks = values['chunks'] === undefined ? undefined : listOption(values, 'chunks', []);
  if (chunks && (chunks.length !== 3 || chunks.some((c) => !Number.isInteger(c) || c < 1))) {
    throw new ConfigError('--chunks: expected three positive integers t,y,x, e.g. 32,256,256');
  }
  await checkZarrOutput(output, values['overwrite'] === true);
  const reader = await openStackFile(input, channel === undefined ? {} : { channel });
  try {
    const [t, h, w] = reader.shape;
    const writer = await createStackFile(output, reader.shape, reader.dtype, {
      format, ...('scale' in reader.info ? { scale: reader.info.scale } : {}),
      ...(chunks ? { chunks: [Math.min(chunks[0]!, t), Math.min(chunks[1]!, h), Math.min(chunks[2]!, w)] as [number, number, number] } : {}),
    });
    const bar = new ProgressBar(`convert ${input}`, progressMode(false));
    try {
      const bytes = reader.dtype === 'uint8' ? 1 : reader.dtype === 'uint16' || reader.dtype === 'int16' ? 2 : 4;
      const batch = Math.max(1, Math.floor(BATCH_BYTES / (h * w * bytes)));
      for (let start = 0; start < t; start += batch) {
        await writer.writeFrames(await reader.readFrames(start, Math.min(batch, t - start)));
        bar.update({ done: Math.min(t, start + batch), total: t });
      }
      await writer.close();
    } catch (err) {
      await writer.abort();
      throw err;
    }
    process.stderr.write(`srdtrans convert: wrote ${output} (${t}×${h}×${w} ${reader.dtype})\n`);
  } finally {
    await reader.close();
  }
  return 0;
}
