import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkFinite,
  extractPatch,
  numpySum32,
  pairwiseSum32,
  stackMean,
  trainingMean,
} from '../../src/data/normalize.js';
import { type Stack, StackError } from '../../src/node.js';

/** Deterministic float32 data, computed identically on the NumPy side for the literals below. */
function data(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = ((i * 7919) % 10007) * 0.37 + 0.1;
  return a;
}

test('pairwise sums match NumPy float32 np.sum bit for bit', () => {
  // np.sum of the same float32 data (NumPy >= 2.3, contiguous: one pairwise sum over all).
  const full: [number, number][] = [
    [5, 7085.259765625], [100, 185742.96875], [1000, 1852712.5], [8192, 15167109.0],
    [20000, 37024536.0], [100000, 185122816.0],
  ];
  for (const [n, want] of full) assert.equal(pairwiseSum32(data(n), 0, n), want, `n=${n}`);
  // NumPy 1.x: pairwise within 8192-element blocks, blocks accumulated in float32.
  const chunked: [number, number][] = [[8192, 15167109.0], [20000, 37024536.0], [100000, 185122800.0]];
  for (const [n, want] of chunked) assert.equal(numpySum32(data(n)), want, `n=${n}`);
});

test('extractPatch: float32(v)/scale minus float32(mean), rounded as NumPy 1.x does', () => {
  const stack: Stack = { data: new Uint16Array([0, 1, 1000, 65535, 7]), shape: [1, 1, 5], dtype: 'uint16' };
  const p = extractPatch(stack, { t: 0, y: 0, x: 0 }, { t: 1, h: 1, w: 5 }, 3, 123.456789);
  // (x.astype(float32) / 3) - float32(123.456789), from NumPy
  const want = [-123.456787109375, -123.12345123291016, 209.87655639648438, 21721.54296875, -121.12345123291016];
  assert.deepEqual(Array.from(p), want);
});

test('extractPatch reads the right voxels and rejects patches outside the stack', () => {
  const [T, H, W] = [3, 4, 5];
  const d = new Uint16Array(T * H * W).map((_, i) => i);
  const stack: Stack = { data: d, shape: [T, H, W], dtype: 'uint16' };
  const p = extractPatch(stack, { t: 1, y: 2, x: 1 }, { t: 2, h: 2, w: 3 }, 1, 0);
  const want: number[] = [];
  for (let t = 1; t < 3; t++) for (let y = 2; y < 4; y++) for (let x = 1; x < 4; x++) want.push((t * H + y) * W + x);
  assert.deepEqual(Array.from(p), want);
  assert.throws(() => extractPatch(stack, { t: 2, y: 0, x: 0 }, { t: 2, h: 1, w: 1 }, 1, 0), StackError);
});

test('stackMean: float64 for integer stacks, float32 for float32 stacks', () => {
  const n = 20000;
  const u = new Uint16Array(n).map((_, i) => (i * 7919) % 10007);
  let exact = 0;
  for (const v of u) exact += v;
  assert.equal(stackMean({ data: u, shape: [1, 1, n], dtype: 'uint16' }), exact / n);
  const f = data(100000);
  const m = stackMean({ data: f, shape: [10, 100, 100], dtype: 'float32' });
  assert.equal(m, Math.fround(185122800.0 / 100000));
});

test('trainingMean is the float32 mean of the scaled stack (NumPy 1.x blocks)', () => {
  const n = 20000;
  const u = new Uint16Array(n).map((_, i) => (i * 7919) % 10007);
  assert.equal(trainingMean({ data: u, shape: [2, 100, 100], dtype: 'uint16' }, 3), 1667.6817626953125);
});

test('checkFinite names the first bad frame', () => {
  const d = new Float32Array(2 * 3 * 4);
  d[1 * 12 + 5] = NaN;
  d[1 * 12 + 7] = Infinity;
  const stack: Stack = { data: d, shape: [2, 3, 4], dtype: 'float32' };
  assert.throws(() => checkFinite(stack, 'a.tif'), (e: unknown) => {
    assert.ok(e instanceof StackError);
    assert.match(e.message, /a\.tif: frame 1 .*NaN at y=1, x=1/);
    return true;
  });
  d[5 + 12] = 0;
  assert.throws(() => checkFinite(stack, 'a.tif'), /frame 1 .*\+Inf at y=1, x=3/);
  d[7 + 12] = 0;
  checkFinite(stack, 'a.tif');
  checkFinite({ data: new Uint16Array(4), shape: [1, 2, 2], dtype: 'uint16' }, 'b.tif');
});
