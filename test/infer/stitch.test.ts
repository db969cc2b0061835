import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractPatch, stackMean } from '../../src/data/normalize.js';
import { inferenceGrid, outputDType, type Stack } from '../../src/node.js';
import { inferenceSlabs, type Shape3 } from '../../src/data/patches.js';
import { finalFrames, makeSlabBuffer, rescaleKept, toOutputType, type SlabBuffer } from '../../src/infer/stitch.js';

const whole = (T: number, H: number, W: number): SlabBuffer => ({ data: new Float64Array(T * H * W), t0: 0, t1: T, h: H, w: W });
const box = (t0: number, t1: number, y0: number, y1: number, x0: number, x1: number) => ({ t0, t1, y0, y1, x0, x1 });

test('rescale: hand-computed example, only the kept region enters the sums', () => {
  // 2×4×4 patch; kept region t[0,2) y[1,3) x[1,3) (8 voxels). mean 1: output 0 → 1, input 3 → 4.
  // sum(input)/sum(output) = 32/8 = 4, factor 2, written values 1·2 = 2.
  const size = { t: 2, h: 4, w: 4 };
  const out = new Float32Array(32).fill(1000); // outside the kept region: must not count
  const inp = new Float32Array(32).fill(-1000);
  for (let t = 0; t < 2; t++) for (let y = 1; y < 3; y++) for (let x = 1; x < 3; x++) {
    out[(t * 4 + y) * 4 + x] = 0;
    inp[(t * 4 + y) * 4 + x] = 3;
  }
  const buf = whole(3, 5, 6);
  const kept = { src: box(0, 2, 1, 3, 1, 3), dst: box(1, 3, 3, 5, 0, 2) };
  const factor = rescaleKept(out, inp, size, kept, 1, buf);
  assert.equal(factor, 2);
  for (let t = 0; t < 3; t++) for (let y = 0; y < 5; y++) for (let x = 0; x < 6; x++) {
    const inside = t >= 1 && y >= 3 && x < 2;
    assert.equal(buf.data[(t * 5 + y) * 6 + x], inside ? 2 : 0, `${t},${y},${x}`);
  }
});

test('rescale: float32 sums, float32 ratio, float64 sqrt, float32 product (NumPy 1.x values)', () => {
  const [T, H, W] = [4, 6, 6];
  const out = new Float32Array(T * H * W), inp = new Float32Array(T * H * W);
  for (let i = 0; i < out.length; i++) {
    out[i] = ((i * 37) % 101) * 0.013 - 0.4;
    inp[i] = ((i * 53) % 97) * 0.011 - 0.3;
  }
  const buf = whole(3, 4, 4);
  const kept = { src: box(1, 4, 1, 5, 2, 6), dst: box(0, 3, 0, 4, 0, 4) };
  const factor = rescaleKept(out, inp, { t: T, h: H, w: W }, kept, 123.456, buf);
  // a = out[1:4,1:5,2:6] + float32(mean); b likewise; r = float32(b.sum()/a.sum());
  // s = float64(r) ** 0.5; a * float32(s) — computed with NumPy
  assert.equal(factor, 1.0000243186950684);
  const want = [
    123.21499633789062, 123.69600677490234, 124.1770248413086, 123.34500122070312, 123.47500610351562,
    123.95601654052734, 123.12399291992188, 123.60501098632812, 123.7350082397461, 124.21602630615234,
    123.38400268554688, 123.8650131225586, 123.9950180053711, 123.16300201416016, 123.64400482177734,
    124.1250228881836, 123.46200561523438, 123.9430160522461, 123.11099243164062, 123.59201049804688,
    123.72200775146484, 124.2030258178711, 123.37100219726562, 123.85201263427734, 123.98201751708984,
    123.1500015258789, 123.6310043334961, 124.11202239990234, 124.24201965332031, 123.40999603271484,
    123.8910140991211, 123.05899047851562, 123.7090072631836, 124.19002532958984, 123.35800170898438,
    123.8390121459961, 123.9690170288086, 123.13699340820312, 123.61800384521484, 124.0990219116211,
    124.22901916503906, 123.39700317382812, 123.87801361083984, 124.35902404785156, 123.1760025024414,
    123.6570053100586, 124.13802337646484, 123.30599975585938,
  ];
  assert.deepEqual(Array.from(buf.data), want);
});

test('streaming by slabs gives the same stack as stitching into one whole buffer', () => {
  const cases: [Shape3, number, number, number][] = [
    [[37, 21, 19], 8, 8, 0.5],
    [[20, 13, 13], 5, 4, 0.5],
    [[16, 16, 16], 16, 16, 0.25],
    [[29, 17, 23], 8, 12, 0],
  ];
  for (const [shape, P, Pt, overlap] of cases) {
    const [T, H, W] = shape;
    const data = new Uint16Array(T * H * W).map((_, i) => 100 + ((i * 7919) % 1009));
    const stack: Stack = { data, shape, dtype: 'uint16' };
    const mean = stackMean(stack);
    const grid = inferenceGrid(shape, { patchXY: P, patchT: Pt, overlap });
    const size = { t: Pt, h: P, w: P };
    // a fake network: a patch-dependent smooth response
    const net = (x: Float32Array, k: number) => x.map((v, i) => v * 0.5 + ((i + k) % 7) - 3);
    const ref = whole(T, H, W);
    for (const p of grid) {
      const inp = extractPatch(stack, p.origin, size, 1, mean);
      rescaleKept(net(inp, p.index), inp, size, p, mean, ref);
    }
    const streamed = new Float64Array(T * H * W);
    for (const slab of inferenceSlabs(grid)) {
      const buf = makeSlabBuffer(slab, H, W);
      for (let i = slab.first; i < slab.end; i++) {
        const p = grid[i]!;
        const inp = extractPatch(stack, p.origin, size, 1, mean);
        rescaleKept(net(inp, p.index), inp, size, p, mean, buf);
      }
      streamed.set(finalFrames(buf, slab), slab.finalT0 * H * W);
    }
    assert.deepEqual(streamed, ref.data, `${shape}`);
    assert.ok(ref.data.every((v) => v !== 0), 'every voxel written');
  }
});

test('toOutputType: float32 scaling, clip, truncation (not rounding), type rules', () => {
  const v = new Float64Array([-5, 0.4, 1.9999, 2.9999999999, 65535.7, 70000, 40000.9, NaN]);
  // 2.9999999999 rounds to float32 3 before truncation
  assert.deepEqual(Array.from(toOutputType(v, 'uint16', 1, false)), [0, 0, 1, 3, 65535, 65535, 40000, 0]);
  const i16 = toOutputType(v, 'int16', 1, false);
  assert.ok(i16 instanceof Int16Array);
  assert.deepEqual(Array.from(i16), [0, 0, 1, 3, 32767, 32767, 32767, -32767]);
  for (const dt of ['uint8', 'uint32', 'int32', 'float32'] as const) {
    const r = toOutputType(v, dt, 1, false);
    assert.ok(r instanceof Int32Array, dt);
    assert.deepEqual(Array.from(r), [0, 0, 1, 3, 65535, 65535, 40000, -2147483648]);
  }
  assert.ok(toOutputType(v, 'uint16', 1, false) instanceof Uint16Array);
  // scale multiplies in float32 before the clip: 1.6·2 = 3.2 → 3, 40000·2 → 65535
  assert.deepEqual(Array.from(toOutputType(new Float64Array([1.6, 40000]), 'uint16', 2, false)), [3, 65535]);
  // float output: float32(value)·scale, no clip or truncation
  const f = toOutputType(new Float64Array([-5.25, 1.1, 70000.5]), 'uint16', 2, true);
  assert.ok(f instanceof Float32Array);
  assert.deepEqual(Array.from(f), [-10.5, Math.fround(Math.fround(1.1) * 2), 140001]);
  assert.equal(outputDType('uint16', false), 'uint16');
  assert.equal(outputDType('int16', false), 'int16');
  assert.equal(outputDType('uint8', false), 'int32');
  assert.equal(outputDType('uint16', true), 'float32');
});
