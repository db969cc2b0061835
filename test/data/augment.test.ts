import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dihedral, dihedralShape, inverseDihedral } from '../../src/data/augment.js';

const seq = (n: number) => new Float32Array(n).map((_, i) => i);

test('dihedral transforms match np.rot90 / flip as the published augmentation applies them', () => {
  // m = arange(6).reshape(1, 2, 3); k=1..3: np.rot90(m, k, axes=(1, 2)); k=4: m[:, :, ::-1];
  // k=5..7: np.rot90(m[:, :, ::-1], k-4, axes=(1, 2)) — values from NumPy.
  const want: [number, number, number[]][] = [
    [2, 3, [0, 1, 2, 3, 4, 5]],
    [3, 2, [2, 5, 1, 4, 0, 3]],
    [2, 3, [5, 4, 3, 2, 1, 0]],
    [3, 2, [3, 0, 4, 1, 5, 2]],
    [2, 3, [2, 1, 0, 5, 4, 3]],
    [3, 2, [0, 3, 1, 4, 2, 5]],
    [2, 3, [3, 4, 5, 0, 1, 2]],
    [3, 2, [5, 2, 4, 1, 3, 0]],
  ];
  want.forEach(([h, w, values], k) => {
    const r = dihedral(seq(6), 1, 2, 3, k);
    assert.equal(r.h, h, `k=${k}`);
    assert.equal(r.w, w, `k=${k}`);
    assert.deepEqual(Array.from(r.data), values, `k=${k}`);
  });
});

test('8 distinct transforms of a non-symmetric, non-square patch; k=0 is the identity', () => {
  const [t, h, w] = [3, 4, 5];
  const p = seq(t * h * w);
  const seen = new Set<string>();
  for (let k = 0; k < 8; k++) {
    const r = dihedral(p, t, h, w, k);
    assert.deepEqual({ h: r.h, w: r.w }, dihedralShape(h, w, k));
    assert.deepEqual(Array.from(r.data).sort((a, b) => a - b), Array.from(p), 'a permutation');
    // frames stay frames: every value of output frame f comes from input frame f
    for (let i = 0; i < r.data.length; i++) assert.equal(Math.floor(r.data[i]! / (h * w)), Math.floor(i / (h * w)));
    seen.add(Array.from(r.data).join(',') + `|${r.h}`);
  }
  assert.equal(seen.size, 8);
  const id = dihedral(p, t, h, w, 0);
  assert.deepEqual(id.data, p);
  assert.notEqual(id.data, p, 'returns a copy');
});

test('composition and inverses', () => {
  const [t, h, w] = [2, 3, 5];
  const p = seq(t * h * w);
  const apply = (x: { data: Float32Array; h: number; w: number }, k: number) => dihedral(x.data, t, x.h, x.w, k);
  const start = { data: p, h, w };
  for (let k = 0; k < 8; k++) {
    const back = apply(apply(start, k), inverseDihedral(k));
    assert.deepEqual(back.data, p, `k=${k}`);
    assert.equal(back.h, h);
  }
  // two quarter turns are a half turn; four are the identity
  assert.deepEqual(apply(apply(start, 1), 1).data, apply(start, 2).data);
  assert.deepEqual(apply(apply(apply(apply(start, 1), 1), 1), 1).data, p);
  // reflections are involutions
  for (const k of [4, 5, 6, 7]) assert.deepEqual(apply(apply(start, k), k).data, p);
  // flip then rotation: k = 4 + r equals rotation r applied to the flipped patch
  for (let r = 1; r < 4; r++) assert.deepEqual(apply(apply(start, 4), r).data, apply(start, 4 + r).data);
  assert.throws(() => dihedral(p, t, h, w, 8), RangeError);
});
