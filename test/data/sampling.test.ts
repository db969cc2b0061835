import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CELL_TRIPLES, spatialPairs, temporalPairs } from '../../src/data/sampling.js';
import { Rng } from '../../src/util/rng.js';
import { ConfigError } from '../../src/node.js';

/** A patch whose values are their own flat indices (exact in float32 below 2^24). */
function indexPatch(t: number, h: number, w: number): Float32Array {
  return new Float32Array(t * h * w).map((_, i) => i);
}

/** Cell pixel number (0..3) of a flat patch index, and the cell it belongs to. */
function cellPixel(i: number, h: number, w: number) {
  const f = Math.floor(i / (h * w));
  const y = Math.floor(i / w) % h;
  const x = i % w;
  return { cell: `${f},${y >> 1},${x >> 1}`, pix: (y % 2) * 2 + (x % 2), y, x };
}

test('spatial pairs: distinct pixels of one cell, horizontal and vertical neighbours, uniform triples', () => {
  const [t, h, w] = [20, 128, 128]; // 81920 cells
  const patch = indexPatch(t, h, w);
  const { input, target1, target2 } = spatialPairs(patch, t, h, w, new Rng(1234));
  assert.equal(input.length, t * (h / 2) * (w / 2));
  const counts = new Array<number>(8).fill(0);
  for (let o = 0; o < input.length; o++) {
    const a = cellPixel(input[o]!, h, w), b = cellPixel(target1[o]!, h, w), c = cellPixel(target2[o]!, h, w);
    // output o sits at the cell's position: frame-major, then cell row, then cell column
    const f = Math.floor(o / ((h / 2) * (w / 2)));
    const cy = Math.floor(o / (w / 2)) % (h / 2), cx = o % (w / 2);
    assert.equal(a.cell, `${f},${cy},${cx}`);
    assert.equal(b.cell, a.cell);
    assert.equal(c.cell, a.cell);
    assert.ok(a.pix !== b.pix && b.pix !== c.pix && a.pix !== c.pix);
    const horiz = (p: typeof a) => p.y === a.y && Math.abs(p.x - a.x) === 1;
    const vert = (p: typeof a) => p.x === a.x && Math.abs(p.y - a.y) === 1;
    assert.ok((horiz(b) && vert(c)) || (vert(b) && horiz(c)), `cell ${a.cell}`);
    const k = CELL_TRIPLES.findIndex(([p, q, r]) => p === a.pix && q === b.pix && r === c.pix);
    assert.ok(k >= 0);
    counts[k]!++;
  }
  const expected = input.length / 8;
  const chi2 = counts.reduce((s, n) => s + (n - expected) ** 2 / expected, 0);
  assert.ok(chi2 < 24.32, `chi-square ${chi2.toFixed(2)} over 7 d.o.f. (p < 0.001); counts ${counts}`);
});

test('spatial pairs: same seed same pairs, different seed different pairs', () => {
  const [t, h, w] = [2, 16, 16];
  const patch = indexPatch(t, h, w);
  const a = spatialPairs(patch, t, h, w, new Rng(7));
  const b = spatialPairs(patch, t, h, w, new Rng(7));
  const c = spatialPairs(patch, t, h, w, new Rng(8));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.input, c.input);
});

test('spatial pairs need even h and w', () => {
  assert.throws(() => spatialPairs(new Float32Array(2 * 3 * 4), 2, 3, 4, new Rng(1)), ConfigError);
  assert.throws(() => spatialPairs(new Float32Array(2 * 4 * 5), 2, 4, 5, new Rng(1)), ConfigError);
});

test('temporal pairs: even frames in, odd frames out (DeepCAD-RT), optional swap', () => {
  const [t2, h, w] = [6, 2, 3];
  const patch = indexPatch(t2, h, w);
  const frame = h * w;
  const { input, target } = temporalPairs(patch, t2, h, w);
  assert.equal(input.length, 3 * frame);
  for (let f = 0; f < 3; f++) {
    for (let i = 0; i < frame; i++) {
      assert.equal(input[f * frame + i], (2 * f) * frame + i);
      assert.equal(target[f * frame + i], (2 * f + 1) * frame + i);
    }
  }
  const s = temporalPairs(patch, t2, h, w, true);
  assert.deepEqual(s.input, target);
  assert.deepEqual(s.target, input);
  assert.throws(() => temporalPairs(new Float32Array(5 * frame), 5, h, w), ConfigError);
});
