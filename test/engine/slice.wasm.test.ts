import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine } from '../../src/node.js';
import { registerWasmSlice } from '../../src/engine/kernels/slice.wasm.js';
import { seeded } from '../support/arrays.js';

/** Our wasm Slice against TF.js's cpu Slice: every rank to 5, odd boxes, three dtypes, gradients. */

interface Case {
  shape: number[];
  begin: number[];
  size: number[];
}

/** Boxes that cut the first, the last, a middle or no axis, and -1 sizes ("to the end"). */
const CASES: Case[] = [
  { shape: [7], begin: [2], size: [4] },
  { shape: [9, 5], begin: [3, 0], size: [4, 5] },
  { shape: [9, 5], begin: [0, 1], size: [9, 3] },
  { shape: [9, 5], begin: [2, 4], size: [-1, 1] },
  { shape: [6, 7, 11], begin: [1, 2, 3], size: [4, 3, 5] },
  { shape: [6, 7, 11], begin: [0, 0, 4], size: [6, 7, 4] },
  { shape: [6, 7, 11], begin: [5, 0, 0], size: [1, -1, -1] },
  { shape: [3, 4, 5, 6], begin: [1, 1, 0, 2], size: [2, 2, 5, 3] },
  { shape: [3, 4, 5, 6], begin: [0, 3, 0, 0], size: [3, 1, 5, 6] },
  { shape: [2, 3, 4, 5, 6], begin: [1, 0, 2, 1, 0], size: [1, 3, 2, 4, 6] },
  { shape: [2, 3, 4, 5, 6], begin: [0, 1, 1, 1, 1], size: [2, 2, 3, 3, 5] },
  { shape: [4, 5], begin: [1, 2], size: [0, 3] },
];

const DTYPES = ['float32', 'int32', 'bool'] as const;

function input(c: Case, dtype: (typeof DTYPES)[number], seed: number): tf.Tensor {
  const v = seeded(c.shape, seed);
  if (dtype === 'float32') return tf.tensor(v, c.shape);
  if (dtype === 'int32') return tf.tensor(Int32Array.from(v, (x) => Math.round(x * 1000)), c.shape, 'int32');
  return tf.tensor(Uint8Array.from(v, (x) => (x > 0 ? 1 : 0)), c.shape, 'bool');
}

async function slices(): Promise<Array<{ values: number[]; shape: number[] }>> {
  const out = [];
  let seed = 1;
  for (const c of CASES) {
    for (const dtype of DTYPES) {
      const x = input(c, dtype, seed++);
      const y = tf.slice(x, c.begin, c.size);
      out.push({ values: Array.from(await y.data()), shape: y.shape });
      tf.dispose([x, y]);
    }
  }
  return out;
}

before(async () => {
  registerWasmSlice();
});

test('wasm Slice gives what cpu Slice gives, for every rank, box and dtype', async () => {
  await initEngine('cpu');
  const refs = await slices();
  await initEngine('wasm');
  const got = await slices();
  got.forEach((g, i) => {
    const c = CASES[Math.floor(i / DTYPES.length)]!;
    const label = `${DTYPES[i % DTYPES.length]} [${c.shape}] from [${c.begin}] size [${c.size}]`;
    assert.deepEqual(g.shape, refs[i]!.shape, label);
    assert.deepEqual(g.values, refs[i]!.values, label);
  });
});

test('wasm Slice reads its input in place: the backend never copies the whole input out', async () => {
  await initEngine('wasm');
  const backend = tf.backend() as unknown as { readSync: (...a: unknown[]) => unknown };
  const readSync = backend.readSync;
  let reads = 0;
  backend.readSync = (...a: unknown[]) => {
    reads++;
    return readSync.apply(backend, a);
  };
  try {
    const x = tf.tensor(seeded([64, 32], 3), [64, 32]);
    const y = tf.slice(x, [8, 4], [16, 20]);
    assert.equal(reads, 0);
    assert.deepEqual(y.shape, [16, 20]);
    tf.dispose([x, y]);
  } finally {
    backend.readSync = readSync;
  }
});

test('the gradient through wasm Slice matches cpu', async () => {
  const grad = async (): Promise<number[]> => {
    const x = tf.tensor(seeded([5, 6, 7], 4), [5, 6, 7]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.slice(t, [1, 2, 3], [3, 3, 4]))))(x);
    const values = Array.from(await g.data());
    tf.dispose([x, g]);
    return values;
  };
  await initEngine('cpu');
  const ref = await grad();
  await initEngine('wasm');
  assert.deepEqual(await grad(), ref);
});
