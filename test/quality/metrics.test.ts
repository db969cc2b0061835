import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, pearson, psnrDb, snrDb, ssim, standardizedSnrDb, type Stack, StackError } from '../../src/node.js';
import { DB_CAP, traceCorrelation } from '../../src/quality/metrics.js';
import { Rng } from '../../src/util/rng.js';

const close = (a: number, b: number, tol: number, what = ''): void =>
  assert.ok(Math.abs(a - b) <= tol, `${what} ${a} is not within ${tol} of ${b}`);

test('snrDb: hand-worked value with the affine fit', () => {
  // gt = 1..4, x = [1,2,3,5]: a = 6.5/8.75, residual = 5 − 6.5²/8.75 = 6/35, Σgt² = 30 → 10·log10(175).
  close(snrDb([1, 2, 3, 5], [1, 2, 3, 4]), 10 * Math.log10(175), 1e-9, 'snr');
  // Baseline: Σ(gt − 1)² = 14 → 10·log10(14·35/6).
  close(snrDb([1, 2, 3, 5], [1, 2, 3, 4], 1), 10 * Math.log10((14 * 35) / 6), 1e-9, 'snr with baseline');
});

test('snrDb is invariant to an affine transform of x, and capped for a perfect match', () => {
  const rng = new Rng(3);
  const gt = Float32Array.from({ length: 500 }, () => 10 + rng.normal());
  const x = Float64Array.from(gt, (v) => v + 0.3 * rng.normal());
  const base = snrDb(x, gt);
  close(snrDb(x.map((v) => 3 * v + 7), gt), base, 1e-9, 'scaled+shifted');
  close(snrDb(x.map((v) => -0.5 * v), gt), base, 1e-9, 'negated');
  assert.equal(snrDb(gt, gt), DB_CAP);
  assert.equal(snrDb(gt.map((v) => 2 * v - 1), gt), DB_CAP);
  // A constant x explains nothing but the mean: Σgt² / Σ(gt − mean)².
  assert.ok(snrDb(new Float32Array(500), gt) > 0);
});

test('psnrDb: known MSE, default and explicit data range', () => {
  const gt = [0, 1, 2, 3];
  const x = [1, 0, 3, 2]; // MSE 1, range 3
  close(psnrDb(x, gt), 10 * Math.log10(9), 1e-12, 'psnr');
  close(psnrDb(x, gt, 255), 10 * Math.log10(255 * 255), 1e-12, 'psnr range 255');
  assert.equal(psnrDb(gt, gt), DB_CAP);
  const y = [0.5, 1.5, 2.5, 3.5]; // MSE 0.25
  close(psnrDb(y, gt), 10 * Math.log10(9 / 0.25), 1e-12, 'psnr 0.25');
});

test('ssim: identical images give 1; constant images give the luminance term', () => {
  const rng = new Rng(5);
  const shape = [2, 24, 20] as const;
  const gt = Float32Array.from({ length: 2 * 24 * 20 }, () => rng.next() * 100);
  close(ssim(gt, gt, { shape }), 1, 1e-12, 'identical');
  // Constant x = 0.5 vs gt = 1, L = 1: (2·0.5·1 + C1)/(0.25 + 1 + C1), C1 = 1e-4.
  const a = new Float32Array(16 * 16).fill(0.5);
  const b = new Float32Array(16 * 16).fill(1);
  close(ssim(a, b, { shape: [1, 16, 16], dataRange: 1 }), (1 + 1e-4) / (1.25 + 1e-4), 1e-12, 'constant');
});

test('ssim matches a direct (non-separable, reflected-edge) evaluation of Wang et al.', () => {
  const rng = new Rng(11);
  const H = 17;
  const W = 19;
  const gt = Float64Array.from({ length: H * W }, (_, i) => 50 + 30 * Math.sin(i / 7) + 5 * rng.normal());
  const x = Float64Array.from(gt, (v) => 0.8 * v + 10 + 8 * rng.normal());
  const L = Math.max(...gt) - Math.min(...gt);
  const refl = (i: number, n: number): number => (i < 0 ? -i - 1 : i >= n ? 2 * n - 1 - i : i);
  const g1 = Array.from({ length: 11 }, (_, i) => Math.exp(-0.5 * ((i - 5) / 1.5) ** 2));
  const gs = g1.reduce((p, q) => p + q);
  let sum = 0;
  let n = 0;
  for (let y = 5; y < H - 5; y++) {
    for (let xx = 5; xx < W - 5; xx++) {
      let mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
      for (let dy = -5; dy <= 5; dy++) {
        for (let dx = -5; dx <= 5; dx++) {
          const wgt = (g1[dy + 5]! * g1[dx + 5]!) / (gs * gs);
          const p = refl(y + dy, H) * W + refl(xx + dx, W);
          mx += wgt * x[p]!; my += wgt * gt[p]!;
          sxx += wgt * x[p]! ** 2; syy += wgt * gt[p]! ** 2; sxy += wgt * x[p]! * gt[p]!;
        }
      }
      const C1 = (0.01 * L) ** 2;
      const C2 = (0.03 * L) ** 2;
      sum += ((2 * mx * my + C1) * (2 * (sxy - mx * my) + C2)) / ((mx * mx + my * my + C1) * (sxx - mx * mx + syy - my * my + C2));
      n++;
    }
  }
  close(ssim(x, gt, { shape: [1, H, W] }), sum / n, 1e-9, 'ssim');
});

test('traceCorrelation: hand-worked Pearson r per neuron, constant traces skipped', () => {
  // 2×2 frame, 3 frames; neuron 1 = pixel 0, neuron 2 = pixel 3 (constant in gt → skipped).
  const labels = Int32Array.from([1, 0, 0, 2]);
  const gt = [1, 0, 0, 5, 2, 0, 0, 5, 3, 0, 0, 5];
  const x = [2, 9, 9, 1, 4, 9, 9, 2, 6.5, 9, 9, 3];
  // a = [1,2,3], b = [2,4,6.5]: r = 4.5 / sqrt(2 · 10.1666…).
  const r = 4.5 / Math.sqrt(2 * (61 / 6));
  close(traceCorrelation(x, gt, labels)!, r, 1e-12, 'trace r');
  assert.equal(traceCorrelation(x, gt, new Int32Array(4)), null);
  assert.equal(pearson([1, 1, 1], [1, 2, 3]), null);
  close(pearson([1, 2, 3], [3, 2, 1])!, -1, 1e-12, 'anti');
  // Two neurons, one perfectly anti-correlated: average 0.
  const labels2 = Int32Array.from([1, 2]);
  close(traceCorrelation([1, 3, 2, 2, 3, 1], [1, 1, 2, 2, 3, 3], labels2)!, 0, 1e-12, 'avg');
});

test('evaluate(gt, gt) is perfect and JSON-safe; mismatched shapes are rejected', () => {
  const rng = new Rng(2);
  const shape = [3, 16, 16] as const;
  const data = Float32Array.from({ length: 3 * 256 }, () => 100 + 10 * rng.next());
  const gt: Stack = { data, shape, dtype: 'float32' };
  const labels = new Int32Array(256);
  labels[17] = 1;
  labels[18] = 1;
  labels[100] = 2;
  const e = evaluate(gt, gt, { labels });
  assert.deepEqual(e, { snr_db: DB_CAP, snr_z_db: DB_CAP, psnr_db: DB_CAP, ssim: 1, trace_r: 1, error_split: { static: 0, cells: 0, background: 0 } });
  assert.deepEqual(JSON.parse(JSON.stringify(e)), e);
  // Any numeric array type works with opts.shape.
  const u16 = Uint16Array.from(data, Math.round);
  const e2 = evaluate(u16, data, null, { shape, baseline: 100 });
  assert.ok(e2.snr_db > 10 && e2.snr_db < DB_CAP, `snr ${e2.snr_db}`);
  assert.equal(e2.trace_r, null);
  assert.equal(e2.error_split, null);
  assert.throws(() => evaluate(data.subarray(1), gt), StackError);
  assert.throws(() => evaluate({ data, shape: [3, 8, 32], dtype: 'float32' }, gt), StackError);
  assert.throws(() => evaluate(u16, data), TypeError);
});

test('standardizedSnrDb: the SNR of z-scored stacks, negative for poor results', () => {
  const rng = new Rng(5);
  const gt = Float64Array.from({ length: 4000 }, () => 100 + 10 * rng.next());
  // Direct definition: standardise both, then 10·log10(Σ ĝ² / Σ (ĝ − x̂)²).
  const z = (v: ArrayLike<number>) => {
    const n = v.length;
    let m = 0;
    for (let i = 0; i < n; i++) m += v[i]!;
    m /= n;
    let s = 0;
    for (let i = 0; i < n; i++) s += (v[i]! - m) ** 2;
    const sd = Math.sqrt(s / n);
    return Float64Array.from(v, (a) => (a - m) / sd);
  };
  const direct = (x: ArrayLike<number>) => {
    const [zx, zg] = [z(x), z(gt)];
    let sig = 0;
    let err = 0;
    for (let i = 0; i < zg.length; i++) {
      sig += zg[i]! ** 2;
      err += (zg[i]! - zx[i]!) ** 2;
    }
    return 10 * Math.log10(sig / err);
  };
  const noisy = gt.map((v) => v + 8 * (rng.next() - 0.5));
  close(standardizedSnrDb(noisy, gt), direct(noisy), 1e-9, 'noisy');
  // Blind to scale and offset, like snrDb; unlike it, pure noise scores about −3 dB, not above 0.
  close(standardizedSnrDb(noisy.map((v) => 3 * v - 7), gt), direct(noisy), 1e-9, 'affine');
  const unrelated = gt.map(() => rng.next());
  close(standardizedSnrDb(unrelated, gt), -10 * Math.log10(2), 0.3, 'unrelated');
  assert.ok(snrDb(unrelated, gt) >= 0);
  close(standardizedSnrDb(gt.map((v) => -v), gt), -10 * Math.log10(4), 1e-9, 'inverted');
  assert.equal(standardizedSnrDb(gt.map(() => 5), gt), 0);
  assert.equal(standardizedSnrDb(gt, gt), DB_CAP);
});
