import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyCameraNoise, logGamma, samplePoisson } from '../../src/quality/simulate/poisson.js';
import { gaussianBlur2d, reflect } from '../../src/quality/filters.js';
import { Rng } from '../../src/util/rng.js';

test('logGamma matches log factorials', () => {
  let lf = 0;
  for (let k = 1; k <= 170; k++) {
    lf += Math.log(k);
    assert.ok(Math.abs(logGamma(k + 1) - lf) <= 1e-10 * Math.max(1, lf), `k=${k}`);
  }
  assert.ok(Math.abs(logGamma(0.5) - 0.5 * Math.log(Math.PI)) < 1e-12);
});

test('Poisson samples have mean = variance = λ for small and large λ (both algorithms)', () => {
  const rng = new Rng(7);
  const n = 100_000;
  for (const lambda of [0.05, 0.7, 3, 9.99, 10, 14, 60, 1000, 50000]) {
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const k = samplePoisson(rng, lambda);
      assert.ok(Number.isInteger(k) && k >= 0);
      s += k;
      s2 += k * k;
    }
    const mean = s / n;
    const variance = s2 / n - mean * mean;
    const seMean = Math.sqrt(lambda / n);
    const seVar = Math.sqrt((2 * lambda * lambda + lambda) / n);
    assert.ok(Math.abs(mean - lambda) < 5 * seMean, `λ=${lambda}: mean ${mean}`);
    assert.ok(Math.abs(variance - lambda) < 5 * seVar, `λ=${lambda}: variance ${variance}`);
  }
  assert.equal(samplePoisson(rng, 0), 0);
  assert.equal(samplePoisson(rng, -1), 0);
});

test('Poisson probabilities match the pmf around the threshold (λ = 9.5 and 12)', () => {
  const rng = new Rng(8);
  const n = 200_000;
  for (const lambda of [9.5, 12]) {
    const counts = new Float64Array(60);
    for (let i = 0; i < n; i++) counts[Math.min(59, samplePoisson(rng, lambda))]!++;
    for (const k of [0, 3, 8, 12, 20]) {
      const p = Math.exp(-lambda + k * Math.log(lambda) - logGamma(k + 1));
      const se = Math.sqrt((p * (1 - p)) / n);
      assert.ok(Math.abs(counts[k]! / n - p) < 5 * se + 1e-5, `λ=${lambda} k=${k}: ${counts[k]! / n} vs ${p}`);
    }
  }
});

test('camera noise on a flat field: mean λ + offset, variance gain²λ + σ² + 1/12', () => {
  const n = 200_000;
  for (const [lambda, gain, sigma] of [[3, 1, 1.5], [40, 2, 3]] as const) {
    const lam = new Float32Array(n).fill(lambda);
    const out = applyCameraNoise(lam, new Rng(9), { gain, readNoise: sigma, offset: 100 });
    let s = 0;
    let s2 = 0;
    for (const v of out) {
      s += v;
      s2 += v * v;
    }
    const mean = s / n;
    const variance = s2 / n - mean * mean;
    const expVar = gain * gain * lambda + sigma * sigma + 1 / 12;
    assert.ok(Math.abs(mean - (gain * lambda + 100)) < 5 * Math.sqrt(expVar / n), `mean ${mean}`);
    assert.ok(Math.abs(variance / expVar - 1) < 0.03, `variance ${variance} vs ${expVar}`);
  }
  // Clipping to the uint16 range.
  const hi = applyCameraNoise(Float32Array.of(1e6), new Rng(1), { offset: 0 });
  assert.equal(hi[0], 65535);
  const lo = applyCameraNoise(Float32Array.of(0), new Rng(1), { offset: 0, readNoise: 50 });
  assert.ok(lo[0]! >= 0);
});

test('gaussianBlur2d preserves the sum away from the edges and reflect() mirrors', () => {
  assert.deepEqual([-2, -1, 0, 3, 4, 5, 8].map((i) => reflect(i, 4)), [1, 0, 0, 3, 3, 2, 0]);
  const img = new Float32Array(31 * 31);
  img[15 * 31 + 15] = 1;
  gaussianBlur2d(img, 31, 31, 2);
  const sum = img.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - 1) < 1e-6);
  let m2 = 0;
  for (let y = 0; y < 31; y++) for (let x = 0; x < 31; x++) m2 += img[y * 31 + x]! * (x - 15) ** 2;
  assert.ok(Math.abs(m2 - 4) < 0.05, `variance ${m2}`);
});
