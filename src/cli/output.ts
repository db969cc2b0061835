import { ConfigError } from '../errors.js';
import { describeFsError, makeDirectory } from '../io/atomic.js';

/** Creates an `--out` folder, or says in one line why it cannot be. */
export async function makeOutputFolder(out: string): Promise<void> {
  await makeDirectory(out).catch((err: unknown) => {
    throw new ConfigError(`--out ${out}: cannot create this folder (${describeFsError(err)}); choose a writable location`, { cause: err });
  });
}
