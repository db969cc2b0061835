import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  errorSplit, gaussianSpatioTemporal, linearOracle, linearOracleAffordable, meanImage, simulateCalcium, standardizedSnrDb, type Stack,
} from '../../src/node.js';
import { Rng } from '../../src/util/rng.js';

const stack = (data: Float32Array, shape: Stack['shape']): Stack => ({ data, shape, dtype: 'float32' });

/** Solves A x = b by Gaussian elimination with partial pivoting (A n × n, row-major; both copied). */
function solve(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const a = Float64Array.from(A);
  const x = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r * n + c]!) > Math.abs(a[piv * n + c]!)) piv = r;
    for (let k = 0; k < n; k++) [a[c * n + k], a[piv * n + k]] = [a[piv * n + k]!, a[c * n + k]!];
    [x[c], x[piv]] = [x[piv]!, x[c]!];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r * n + c]! / a[c * n + c]!;
      for (let k = 0; k < n; k++) a[r * n + k]! -= f * a[c * n + k]!;
      x[r]! -= f * x[c]!;
    }
  }
  return x.map((v, i) => v / a[i * n + i]!);
}

test('linear oracle: the Wiener estimate m + Σ(Σ + D)⁻¹(y − m) with the truth\'s statistics, computed in pixel space', () => {
  const [T, H, W] = [9, 2, 3];
  const P = H * W;
  const rng = new Rng(5);
  const clean = new Float32Array(T * P);
  const noisy = new Float32Array(T * P);
  for (let i = 0; i < clean.length; i++) {
    clean[i] = 10 + 3 * Math.sin(i * 0.7) + rng.normal();
    noisy[i] = clean[i]! + (1 + (i % P) * 0.3) * rng.normal();
  }
  const out = linearOracle(stack(noisy, [T, H, W]), stack(clean, [T, H, W])).data;
  const m = new Float64Array(P);
  const d = new Float64Array(P);
  for (let t = 0; t < T; t++) {
    for (let p = 0; p < P; p++) {
      m[p]! += clean[t * P + p]! / T;
      d[p]! += (noisy[t * P + p]! - clean[t * P + p]!) ** 2 / T;
    }
  }
  const sigma = new Float64Array(P * P);
  for (let t = 0; t < T; t++) {
    for (let p = 0; p < P; p++) for (let q = 0; q < P; q++) sigma[p * P + q]! += ((clean[t * P + p]! - m[p]!) * (clean[t * P + q]! - m[q]!)) / T;
  }
  const sd = Float64Array.from(sigma);
  for (let p = 0; p < P; p++) sd[p * P + p]! += d[p]!;
  for (let t = 0; t < T; t++) {
    const z = solve(sd, Float64Array.from({ length: P }, (_, p) => noisy[t * P + p]! - m[p]!), P);
    for (let p = 0; p < P; p++) {
      let v = m[p]!;
      for (let q = 0; q < P; q++) v += sigma[p * P + q]! * z[q]!;
      assert.ok(Math.abs(out[t * P + p]! - v) < 1e-4 * (1 + Math.abs(v)), `frame ${t} pixel ${p}: ${out[t * P + p]} against ${v}`);
    }
  }
});

test('linear oracle: nearly noiseless data come back as the truth, and it beats the classical filters on a simulation', () => {
  const sim = simulateCalcium({ shape: [40, 32, 32], photons: 2, frameRate: 1, seed: 3 });
  const rng = new Rng(1);
  const faint = Float32Array.from(sim.clean.data, (v) => v + 1e-4 * rng.normal());
  assert.ok(standardizedSnrDb(linearOracle(stack(faint, sim.clean.shape), sim.clean), sim.clean) > 40);
  const oracle = standardizedSnrDb(linearOracle(sim.noisy, sim.clean), sim.clean);
  for (const other of [sim.noisy, meanImage(sim.noisy), gaussianSpatioTemporal(sim.noisy, 1, 1)]) {
    assert.ok(oracle > standardizedSnrDb(other, sim.clean) + 1, `oracle ${oracle.toFixed(2)} dB`);
  }
  assert.throws(() => linearOracle(sim.noisy, stack(new Float32Array(10), [10, 1, 1])), /10×1×1/);
});

test('error split: the parts add up to the standardised error and put a flat output\'s error where the activity was', () => {
  const sim = simulateCalcium({ shape: [30, 24, 24], photons: 3, frameRate: 3, seed: 4 });
  const labels = sim.masks.labels;
  for (const x of [sim.noisy, meanImage(sim.noisy), gaussianSpatioTemporal(sim.noisy, 1, 1)]) {
    const e = errorSplit(x, sim.clean, labels);
    const total = 10 ** (-standardizedSnrDb(x, sim.clean) / 10);
    assert.ok(Math.abs(e.static + e.cells + e.background - total) < 1e-6 * total, `${JSON.stringify(e)} against ${total}`);
  }
  // The truth's own mean image: no static error left, and the dynamic error is exactly the
  // standardised truth's variation around its mean, inside and outside the cells.
  const [T, H, W] = sim.clean.shape;
  const P = H * W;
  const g = sim.clean.data;
  const n = g.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += g[i]! / n;
  let sd = 0;
  for (let i = 0; i < n; i++) sd += (g[i]! - mean) ** 2 / n;
  sd = Math.sqrt(sd);
  let cells = 0;
  let background = 0;
  const flat = meanImage(sim.clean);
  for (let t = 0; t < T; t++) {
    for (let p = 0; p < P; p++) {
      const v = ((g[t * P + p]! - flat.data[t * P + p]!) / sd) ** 2 / n;
      if (labels[p]! > 0) cells += v;
      else background += v;
    }
  }
  const e = errorSplit(flat, sim.clean, labels);
  assert.ok(Math.abs(e.cells - cells) < 1e-6 * cells && Math.abs(e.background - background) < 1e-6 * background, JSON.stringify(e));
  assert.ok(cells > 0 && background > 0);
  assert.throws(() => errorSplit(sim.noisy, sim.clean, new Int32Array(7)), /mask/);
});

test('linear oracle: a stack beyond its budget of frames² × pixels is refused, not computed for hours', () => {
  assert.ok(linearOracleAffordable([800, 96, 96]));
  assert.ok(!linearOracleAffordable([2000, 256, 256]));
  const big: Stack = { data: new Float32Array(0), shape: [4000, 64, 64], dtype: 'float32' };
  assert.throws(() => linearOracle(big, big), /beyond its budget/);
});
