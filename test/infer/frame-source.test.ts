import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stackMean, StreamingMean } from '../../src/data/normalize.js';
import {
  denoiseStack, denoiseToStack, makeStackArray, sourceMean, type FrameSource, type PatchNetwork, type Stack, type StackArray,
} from '../../src/node.js';
import { Rng } from '../../src/util/rng.js';

function randomStack(shape: [number, number, number], dtype: 'uint16' | 'float32', seed: number): Stack {
  const rng = new Rng(seed);
  const data = makeStackArray(dtype, shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < data.length; i++) data[i] = dtype === 'uint16' ? Math.floor(rng.next() * 4000) : rng.next() * 1e4 - 17;
  return { data, shape, dtype };
}

test('StreamingMean gives stackMean\'s value to the last bit, however the stack is split', () => {
  for (const dtype of ['uint16', 'float32'] as const) {
    const stack = randomStack([7, 61, 53], dtype, 3);
    const rng = new Rng(9);
    for (let trial = 0; trial < 5; trial++) {
      const mean = new StreamingMean(dtype === 'float32');
      for (let at = 0; at < stack.data.length;) {
        const n = Math.min(stack.data.length - at, 1 + Math.floor(rng.next() * 20000));
        mean.push(stack.data.subarray(at, at + n));
        at += n;
      }
      assert.equal(mean.mean(), stackMean(stack), dtype);
    }
  }
});

/** A source that records what it was asked for. */
function countingSource(stack: Stack): FrameSource & { reads: [number, number][] } {
  const frame = stack.shape[1] * stack.shape[2];
  const reads: [number, number][] = [];
  return {
    shape: stack.shape, dtype: stack.dtype, reads,
    readFrames: async (start: number, count: number, into?: StackArray) => {
      reads.push([start, count]);
      const out = into ?? makeStackArray(stack.dtype, count * frame);
      out.set(stack.data.subarray(start * frame, (start + count) * frame));
      return out;
    },
  };
}

/** A stand-in network whose output depends on every input voxel's position and value. */
const network: PatchNetwork = {
  patchT: 8,
  run: async (input) => input.map((v, i) => 0.5 * v + (i % 13) * 0.01),
  dispose: () => undefined,
};

test('denoising from a frame source reads a sliding window, and writes what the in-memory stack gives', async () => {
  const stack = randomStack([37, 24, 20], 'uint16', 5);
  const options = { patchXY: 16, overlap: 0.5, scale: 1, asFloat: true };
  const expected = await denoiseToStack(network, stack, options);
  const source = countingSource(stack);
  const frames: number[] = [];
  let written = 0;
  await denoiseStack(network, source, { ...options, inFlight: 3 }, {
    writeFrames: (f) => {
      assert.deepEqual(f, expected.data.subarray(written, written + f.length));
      written += f.length;
      frames.push(f.length / (24 * 20));
    },
  });
  assert.equal(written, expected.data.length);
  // One pass for the mean, then the window: each read holds at most a patch length, and frames
  // shared by consecutive windows are not read again (about one more pass in all).
  const [meanRead, ...windowReads] = source.reads;
  assert.deepEqual(meanRead, [0, 37]);
  for (const [, count] of windowReads) assert.ok(count <= 8, `read of ${count} frames`);
  const total = source.reads.reduce((a, [, n]) => a + n, 0);
  assert.ok(total <= 2 * 37 + 8, `read ${total} frames for a 37-frame stack`);
  assert.equal(await sourceMean(source), stackMean(stack));
});

test('a float stack with NaN is refused with the frame that holds it', async () => {
  const stack = randomStack([9, 8, 8], 'float32', 2);
  stack.data[5 * 64 + 3] = Number.NaN;
  await assert.rejects(sourceMean(countingSource(stack), 'x.tif'), /x\.tif: frame 5 .*NaN/);
});

test('parts of the output (frames [from, to)) are the same bytes as those frames of a whole run', async () => {
  const stack = randomStack([45, 24, 20], 'uint16', 8);
  const options = { patchXY: 16, overlap: 0.5, scale: 1, asFloat: false };
  const whole = await denoiseToStack(network, stack, options);
  const frame = 24 * 20;
  const cuts = [0, 7, 16, 17, 32, 45];
  for (let k = 0; k + 1 < cuts.length; k++) {
    const [from, to] = [cuts[k]!, cuts[k + 1]!];
    const parts: StackArray[] = [];
    await denoiseStack(network, stack, { ...options, frames: [from, to], inFlight: 2 }, { writeFrames: (f) => void parts.push(f) });
    const got = parts.flatMap((p) => [...p]);
    assert.equal(got.length, (to - from) * frame, `frames ${from}..${to}`);
    assert.deepEqual(got, [...whole.data.subarray(from * frame, to * frame)], `frames ${from}..${to}`);
  }
});
