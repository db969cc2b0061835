import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, inferenceGrid, type InferencePatch, StackError, temporalExtent, trainGrid } from '../../src/node.js';
import { axisPositions, inferenceSlabs, patchGap, trainTemporalGap, type Shape3 } from '../../src/data/patches.js';

const base = { patchXY: 128, patchT: 128, overlap: 0.5, trainSize: 6000 };

test('training grid: published patch count, one stack (hand-worked)', () => {
  // gap 64; w_num = h_num = floor(384/64)+1 = 7; s_num = ceil(6000/7/7) = 123;
  // gap_t = floor(872/122) = 7; t positions = floor(872/7)+1 = 125.
  const g = trainGrid([[1000, 512, 512]], base);
  assert.equal(trainTemporalGap([1000, 512, 512], 1, base), 7);
  assert.equal(g.length, 7 * 7 * 125);
  assert.deepEqual(g[0], { stack: 0, t: 0, y: 0, x: 0 });
  assert.deepEqual(g[1], { stack: 0, t: 7, y: 0, x: 0 });
  assert.deepEqual(g[125], { stack: 0, t: 0, y: 0, x: 64 });
  assert.deepEqual(g[g.length - 1], { stack: 0, t: 124 * 7, y: 384, x: 384 });
  for (const p of g) assert.ok(p.t + 128 <= 1000 && p.y + 128 <= 512 && p.x + 128 <= 512);
});

test('training grid: several stacks share train_datasets_size', () => {
  const opts = { patchXY: 64, patchT: 64, overlap: 0.5, trainSize: 1000 };
  const shapes: Shape3[] = [[500, 256, 300], [300, 256, 256]];
  // stack 0: w 8, h 7, s_num ceil(1000/8/7/2)=9, gap_t floor(436/8)=54, t count 9 → 504
  // stack 1: w 7, h 7, s_num ceil(1000/7/7/2)=11, gap_t floor(236/10)=23, t count 11 → 539
  assert.equal(trainTemporalGap(shapes[0]!, 2, opts), 54);
  assert.equal(trainTemporalGap(shapes[1]!, 2, opts), 23);
  const g = trainGrid(shapes, opts);
  assert.equal(g.filter((p) => p.stack === 0).length, 504);
  assert.equal(g.filter((p) => p.stack === 1).length, 539);
  assert.equal(g.length, 1043);
  assert.equal(Math.max(...g.filter((p) => p.stack === 1).map((p) => p.t)), 230);
});

test('training grid: s_num = 1 and gap 0 no longer divide by zero', () => {
  // w_num = h_num = 15 → s_num = ceil(10/225) = 1: one temporal position.
  const one = trainGrid([[100, 512, 512]], { patchXY: 64, patchT: 64, overlap: 0.5, trainSize: 10 });
  assert.equal(one.length, 225);
  assert.ok(one.every((p) => p.t === 0));
  // s_num = 100 but only 6 spare frames: gap_t = floor(6/99) = 0 → gap 1, 7 positions.
  const tight = trainGrid([[70, 64, 64]], { patchXY: 64, patchT: 64, overlap: 0.5, trainSize: 100 });
  assert.deepEqual(tight.map((p) => p.t), [0, 1, 2, 3, 4, 5, 6]);
  // A stack exactly one patch long in t.
  assert.deepEqual(trainGrid([[64, 64, 64]], { patchXY: 64, patchT: 64, overlap: 0.5, trainSize: 50 }).map((p) => p.t), [0]);
});

test('training grid: temporal sampling spans 2·patchT frames', () => {
  const opts = { patchXY: 64, patchT: 32, overlap: 0.5, trainSize: 10, extentT: temporalExtent('temporal', 32) };
  // s_num = 10, gap_t = floor(36/9) = 4, positions floor(36/4)+1 = 10
  const g = trainGrid([[100, 64, 64]], opts);
  assert.deepEqual(g.map((p) => p.t), [0, 4, 8, 12, 16, 20, 24, 28, 32, 36]);
  assert.equal(temporalExtent('spatial', 32), 32);
});

test('training grid: readable errors for stacks smaller than a patch and bad options', () => {
  const opts = { patchXY: 64, patchT: 32, overlap: 0.5, trainSize: 10, names: ['cells.tif'] };
  assert.throws(() => trainGrid([[100, 64, 50]], opts), (e: unknown) => {
    assert.ok(e instanceof StackError);
    assert.match(e.message, /cells\.tif is 50 pixels wide \(x\).*--patch-xy.*at most 50/);
    return true;
  });
  assert.throws(() => trainGrid([[100, 40, 64]], opts), /40 pixels high \(y\).*--patch-xy/);
  assert.throws(() => trainGrid([[20, 64, 64]], opts), /20 frames \(t\).*--patch-t.*at most 20/);
  assert.throws(() => trainGrid([[40, 64, 64]], { ...opts, extentT: 64 }), /40 frames.*2 × --patch-t.*lower --patch-t to at most 20/);
  assert.throws(() => trainGrid([[100, 64, 64]], { ...opts, overlap: 1 }), ConfigError);
  assert.throws(() => trainGrid([[100, 64, 64]], { ...opts, trainSize: 0 }), ConfigError);
  assert.throws(() => patchGap(2, 0.9), /no gap/);
});

test('inference axis positions follow the published arithmetic (hand-worked)', () => {
  // L=10, P=4, gap=2, cut=1: n=4
  assert.deepEqual(axisPositions(10, 4, 2), [
    { origin: 0, src0: 0, src1: 3, dst0: 0, dst1: 3 },
    { origin: 2, src0: 1, src1: 3, dst0: 3, dst1: 5 },
    { origin: 4, src0: 1, src1: 3, dst0: 5, dst1: 7 },
    { origin: 6, src0: 1, src1: 4, dst0: 7, dst1: 10 },
  ]);
  // L=11: n=5, last patch end-aligned at 7, keeps [8, 11) and overwrites voxel 8.
  const p11 = axisPositions(11, 4, 2);
  assert.equal(p11.length, 5);
  assert.deepEqual(p11[3], { origin: 6, src0: 1, src1: 3, dst0: 7, dst1: 9 });
  assert.deepEqual(p11[4], { origin: 7, src0: 1, src1: 4, dst0: 8, dst1: 11 });
  // Half-integer cut: P=5, gap=int(2.5)=2, cut=1.5 → int() truncation of each bound.
  assert.deepEqual(axisPositions(9, 5, 2), [
    { origin: 0, src0: 0, src1: 3, dst0: 0, dst1: 3 },
    { origin: 2, src0: 1, src1: 3, dst0: 3, dst1: 5 },
    { origin: 4, src0: 1, src1: 5, dst0: 5, dst1: 9 },
  ]);
  // Overlap 0: gap = P, cut 0; last patch end-aligned.
  assert.deepEqual(axisPositions(10, 4, 4).map((p) => [p.origin, p.dst0, p.dst1]), [[0, 0, 4], [4, 4, 8], [6, 6, 10]]);
  // L == P: the whole axis is kept (the published code keeps only [0, P − cut)).
  assert.deepEqual(axisPositions(8, 8, 4), [{ origin: 0, src0: 0, src1: 8, dst0: 0, dst1: 8 }]);
});

test('inference grid: loop order t, then y, then x', () => {
  const g = inferenceGrid([12, 10, 11], { patchXY: 4, patchT: 4, overlap: 0.5 });
  const nt = 5, ny = 4, nx = 5;
  assert.equal(g.length, nt * ny * nx);
  g.forEach((p, i) => {
    assert.equal(p.index, i);
    assert.equal(p.grid.x, i % nx);
    assert.equal(p.grid.y, Math.floor(i / nx) % ny);
    assert.equal(p.grid.t, Math.floor(i / (nx * ny)));
  });
});

type Case = [shape: Shape3, patchXY: number, patchT: number, overlap: number];
const awkward: Case[] = [
  [[37, 29, 31], 8, 8, 0.5],
  [[16, 16, 16], 16, 16, 0.5],
  [[16, 17, 33], 16, 16, 0],
  [[23, 21, 19], 8, 8, 0.25],
  [[20, 13, 13], 5, 4, 0.5],
  [[9, 9, 9], 9, 9, 0.25],
  [[10, 12, 11], 10, 10, 0.3],
  [[13, 7, 25], 7, 6, 0],
  [[33, 40, 17], 16, 16, 0.5],
];

/** Stitch with an identity "network" and a last-writer map; return write counts and writers. */
function simulate(shape: Shape3, grid: InferencePatch[], P: number, Pt: number) {
  const [T, H, W] = shape;
  const writes = new Uint8Array(T * H * W);
  const writer = new Int32Array(T * H * W).fill(-1);
  const value = new Float64Array(T * H * W).fill(-1);
  for (const p of grid) {
    const { src, dst, origin } = p;
    assert.equal(src.t1 - src.t0, dst.t1 - dst.t0);
    assert.equal(src.y1 - src.y0, dst.y1 - dst.y0);
    assert.equal(src.x1 - src.x0, dst.x1 - dst.x0);
    assert.ok(origin.t >= 0 && origin.t + Pt <= T && origin.y >= 0 && origin.y + P <= H && origin.x >= 0 && origin.x + P <= W);
    assert.ok(src.t0 >= 0 && src.t1 <= Pt && src.y0 >= 0 && src.y1 <= P && src.x0 >= 0 && src.x1 <= P);
    for (let t = src.t0; t < src.t1; t++) {
      for (let y = src.y0; y < src.y1; y++) {
        for (let x = src.x0; x < src.x1; x++) {
          // identity network: the output voxel is the stack voxel at origin + (t, y, x)
          const seen = ((origin.t + t) * H + origin.y + y) * W + origin.x + x;
          const i = ((dst.t0 + t - src.t0) * H + dst.y0 + y - src.y0) * W + dst.x0 + x - src.x0;
          writes[i]!++;
          writer[i] = p.index;
          value[i] = seen;
        }
      }
    }
  }
  return { writes, writer, value };
}

test('stitching covers every voxel, each final value from the right voxel of a defined patch', () => {
  for (const [shape, P, Pt, overlap] of awkward) {
    const grid = inferenceGrid(shape, { patchXY: P, patchT: Pt, overlap });
    const { writes, writer, value } = simulate(shape, grid, P, Pt);
    const [T, H, W] = shape;
    for (let i = 0; i < writes.length; i++) {
      const where = `${shape} P=${P} Pt=${Pt} overlap=${overlap} voxel ${i}`;
      assert.ok(writes[i]! >= 1, `uncovered: ${where}`);
      assert.equal(value[i], i, `wrong source voxel: ${where}`);
      // The final writer is the last patch in loop order whose kept region contains the voxel.
      const t = Math.floor(i / (H * W)), y = Math.floor(i / W) % H, x = i % W;
      let last = -1;
      for (const p of grid) {
        const d = p.dst;
        if (t >= d.t0 && t < d.t1 && y >= d.y0 && y < d.y1 && x >= d.x0 && x < d.x1) last = p.index;
      }
      assert.equal(writer[i], last, where);
      if (writes[i]! > 1) {
        // Double writes only where an end-aligned last patch overlaps its neighbour.
        const g = grid[last]!.grid;
        const nT = grid[grid.length - 1]!.grid;
        assert.ok(g.t === nT.t || g.y === nT.y || g.x === nT.x, where);
      }
    }
  }
});

test('stacks smaller than a patch and bad overlaps give clear errors', () => {
  assert.throws(() => inferenceGrid([10, 20, 7], { patchXY: 8, patchT: 8, overlap: 0.5, name: 'x.tif' }), (e: unknown) => {
    assert.ok(e instanceof StackError);
    assert.match(e.message, /x\.tif is 7 pixels wide \(x\).*--patch-xy.*at most 7/);
    return true;
  });
  assert.throws(() => inferenceGrid([10, 7, 20], { patchXY: 8, patchT: 8, overlap: 0.5 }), /7 pixels high \(y\)/);
  assert.throws(() => inferenceGrid([5, 20, 20], { patchXY: 8, patchT: 8, overlap: 0.5 }), /5 frames \(t\).*--patch-t.*at most 5/);
  assert.throws(() => inferenceGrid([20, 20, 20], { patchXY: 8, patchT: 8, overlap: -0.1 }), ConfigError);
  assert.throws(() => inferenceGrid([20, 20, 20], { patchXY: 8, patchT: 8, overlap: 1 }), ConfigError);
});

test('inferenceSlabs: final frame ranges partition [0, T) in order', () => {
  for (const [shape, P, Pt, overlap] of [...awkward, [[300, 20, 20], 16, 128, 0.5] as Case]) {
    const grid = inferenceGrid(shape, { patchXY: P, patchT: Pt, overlap });
    const slabs = inferenceSlabs(grid);
    let next = 0;
    let nextPatch = 0;
    for (const s of slabs) {
      assert.equal(s.finalT0, next);
      assert.ok(s.finalT1 > s.finalT0);
      assert.ok(s.keptT0 === s.finalT0 && s.finalT1 <= s.keptT1);
      assert.equal(s.first, nextPatch);
      for (let i = s.first; i < s.end; i++) assert.equal(grid[i]!.grid.t, s.t);
      next = s.finalT1;
      nextPatch = s.end;
    }
    assert.equal(next, shape[0]);
    assert.equal(nextPatch, grid.length);
  }
  // T=300, Pt=128, gap 64: kept [0,96) [96,160) [160,224) [204,300) → final ends 96, 160, 204, 300.
  const s = inferenceSlabs(inferenceGrid([300, 20, 20], { patchXY: 16, patchT: 128, overlap: 0.5 }));
  assert.deepEqual(s.map((x) => [x.keptT0, x.keptT1, x.finalT1]), [[0, 96, 96], [96, 160, 160], [160, 224, 204], [204, 300, 300]]);
});
