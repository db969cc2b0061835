/**
 * autoParallel: the first patch decides whether the parallel network is started; every patch's
 * output goes back to its own caller whichever network ran it.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { autoParallel, type PatchNetwork } from '../../src/node.js';

const SIZE = { t: 1, h: 1, w: 2 };

/** A network that tags its outputs with `tag` and takes `seconds` per patch (busy-waiting, like wasm). */
function fake(tag: number, seconds: number, log: string[], name: string): PatchNetwork {
  return {
    patchT: 1,
    async run(input) {
      const until = performance.now() + seconds * 1000;
      while (performance.now() < until);
      log.push(`${name}:${input[0]}`);
      return Float32Array.of(input[0]!, tag);
    },
    dispose: () => void log.push(`${name}:disposed`),
  };
}

/** Two patches in flight, results taken in order, as denoiseStack does with inFlight 2. */
async function runPatches(network: PatchNetwork, n: number): Promise<Float32Array[]> {
  const pending: Array<Promise<Float32Array>> = [];
  const outs: Float32Array[] = [];
  for (let i = 0, next = 0; i < n; i++) {
    for (; next < n && next < i + 2; next++) pending.push(network.run(Float32Array.of(next, 0), SIZE));
    outs.push(await pending.shift()!);
  }
  return outs;
}

it('a slow first patch with enough patches left starts the parallel network for the rest', async () => {
  const log: string[] = [];
  let starts = 0;
  const switched: unknown[] = [];
  const network = autoParallel(fake(1, 0.02, log, 'main'), {
    patches: 6, minSeconds: 0.05,
    startParallel: async () => (starts++, fake(2, 0, log, 'pool')),
    onSwitch: (e) => switched.push(e.ok),
  });
  const outs = await runPatches(network, 6);
  assert.deepEqual(outs.map((o) => o[0]), [0, 1, 2, 3, 4, 5], 'each caller gets its own patch');
  assert.equal(outs[0]![1], 1, 'the first patch runs on the main thread');
  assert.equal(outs[5]![1], 2, 'later patches run on the parallel network');
  assert.equal(starts, 1);
  assert.deepEqual(switched, [true]);
  await network.dispose();
  assert.ok(log.includes('main:disposed') && log.includes('pool:disposed'));
});

it('a fast first patch keeps everything on the main thread and starts nothing', async () => {
  const log: string[] = [];
  let starts = 0;
  const network = autoParallel(fake(1, 0, log, 'main'), {
    patches: 6, minSeconds: 60, startParallel: async () => (starts++, fake(2, 0, log, 'pool')),
  });
  const outs = await runPatches(network, 6);
  assert.ok(outs.every((o, i) => o[0] === i && o[1] === 1));
  assert.equal(starts, 0);
  assert.deepEqual(log.slice(0, 6), ['main:0', 'main:1', 'main:2', 'main:3', 'main:4', 'main:5'], 'main-thread patches run in order');
  await network.dispose();
});

it('when the parallel network fails to start, the main thread carries on', async () => {
  const log: string[] = [];
  const errors: string[] = [];
  const network = autoParallel(fake(1, 0.02, log, 'main'), {
    patches: 6, minSeconds: 0.05,
    startParallel: async () => {
      throw new Error('no workers here');
    },
    onSwitch: (e) => errors.push(e.ok ? 'ok' : e.error.message),
  });
  const outs = await runPatches(network, 6);
  assert.ok(outs.every((o, i) => o[0] === i && o[1] === 1));
  assert.deepEqual(errors, ['no workers here']);
  await network.dispose();
});
