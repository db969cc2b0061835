import { InterruptedError, UserError } from '../errors.js';

/** Exit codes: 0 done, 1 internal failure, 2 bad input or usage, 130 interrupted. */
export const EXIT_USAGE = 2;

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(args: string[]): Promise<number> }> }> = {
  train: { summary: 'train a denoiser on one or more noisy stacks', load: () => import('./train.js') },
  denoise: { summary: 'denoise stacks with a trained model', load: () => import('./denoise.js') },
  info: { summary: 'show a stack\'s shape, type, axes and patch grids', load: () => import('./info.js') },
  demo: { summary: 'simulate, train, denoise and score a small calcium stack', load: () => import('./demo.js') },
  simulate: { summary: 'write simulated calcium or SMLM stacks with ground truth', load: () => import('./simulate.js') },
  convert: { summary: 'convert a stack between TIFF and OME-Zarr, streaming', load: () => import('./convert.js') },
  evaluate: { summary: 'score a denoised stack against a reference', load: () => import('./evaluate.js') },
  export: { summary: 'write a model as a PyTorch .pth state dict for the published code', load: () => import('./export.js') },
  cluster: { summary: 'run denoise as a Slurm job array of shards; see a job\'s state', load: () => import('./cluster.js') },
  app: { summary: 'serve the browser app on localhost (open, train, denoise in a browser tab)', load: () => import('./app.js') },
  bench: { summary: 'bench quality: every method against simulated ground truth', load: () => import('./bench.js') },
};

export function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: srdtrans <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'srdtrans <command> --help' for a command's options.`;
}

export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const args = argv.filter((a) => a !== '--debug');
  // `srdtrans ... --json | head` closes stdout early. Without a handler the write error escapes as
  // an uncaught exception (a stack trace, or with tfjs-wasm loaded its whole source); stop instead
  // the way Unix tools do on SIGPIPE (exit 141), or with one line for any other write failure.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') process.stderr.write(`srdtrans: error: cannot write to standard output (${err.code ?? err.message})\n`);
    process.exit(err.code === 'EPIPE' ? 141 : 1);
  });
  const [name, ...rest] = args;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : EXIT_USAGE;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`srdtrans: unknown command '${name}'\n${usage()}\n`);
    return EXIT_USAGE;
  }
  try {
    return await (await command.load()).run(rest);
  } catch (err) {
    return reportError(err, debug);
  }
}

export function reportError(err: unknown, debug: boolean): number {
  if (debug && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  if (err instanceof UserError) {
    process.stderr.write(`srdtrans: error: ${err.message}\n`);
    return EXIT_USAGE;
  }
  if (err instanceof InterruptedError) {
    process.stderr.write('\nsrdtrans: interrupted; no partial output was left behind\n');
    return 130;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`srdtrans: internal error: ${message.split('\n')[0]} (rerun with --debug for details, and please report it)\n`);
  return 1;
}
