import type { Size3 } from '../data/normalize.js';
import type { PatchNetwork } from './network.js';

export interface AutoParallelOptions {
  /** Patches the whole job will run (all stacks), to judge whether starting workers pays. */
  patches: number;
  /** Starts the parallel network (a WorkerPool); called at most once. */
  startParallel: () => Promise<PatchNetwork>;
  /**
   * Start it only when the remaining patches would take at least this long one after another,
   * so that its start-up (a TF.js engine and the weights per worker, about a second each) is
   * repaid many times over. Default 10 s.
   */
  minSeconds?: number;
  /** Told when the parallel network takes over, or why it could not start. */
  onSwitch?: (event: { ok: true; firstPatchSeconds: number } | { ok: false; error: Error }) => void;
}

/**
 * A network that runs its first patch on the main thread, and times it: when the rest of the job
 * would take long enough, the parallel network is started and computes every patch not yet
 * begun. Tiny networks and short stacks never pay for workers; the default network on a real
 * stack does. Main-thread patches run one after another (the first one's time is then its own).
 * Whichever runs a patch, its output is the same, so stitching does not see the switch. If the
 * parallel network cannot start, the main thread carries on.
 */
export function autoParallel(main: PatchNetwork, options: AutoParallelOptions): PatchNetwork {
  const minSeconds = options.minSeconds ?? 10;
  let chain: Promise<unknown> = Promise.resolve();
  let started = 0;
  let parallel: Promise<PatchNetwork | null> | null = null;

  const decide = (seconds: number): void => {
    if (parallel || (options.patches - 1) * seconds < minSeconds) return;
    parallel = options.startParallel().then(
      (network) => {
        options.onSwitch?.({ ok: true, firstPatchSeconds: seconds });
        return network;
      },
      (err: unknown) => {
        options.onSwitch?.({ ok: false, error: err instanceof Error ? err : new Error(String(err)) });
        return null;
      },
    );
  };

  const onMain = (input: Float32Array, size: Size3, timed: boolean): Promise<Float32Array> => {
    const run = chain.then(async () => {
      const t0 = performance.now();
      const output = await main.run(input, size);
      if (timed) decide((performance.now() - t0) / 1000);
      return output;
    });
    chain = run.catch(() => undefined);
    return run;
  };

  return {
    patchT: main.patchT,
    run(input, size) {
      const first = started++ === 0;
      if (!parallel) return onMain(input, size, first);
      return parallel.then((network) => (network ? network.run(input, size) : onMain(input, size, false)));
    },
    async dispose() {
      await chain;
      const network = parallel ? await parallel : null;
      await Promise.all([main.dispose(), network?.dispose()]);
    },
  };
}
