import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, simulateCalcium } from '../../src/node.js';
import { CalciumKernel } from '../../src/quality/simulate/calcium.js';

test('default 200×128×128 stack is fast, has the requested photon level, and unbiased noise', () => {
  const t0 = performance.now();
  const r = simulateCalcium({ seed: 3 });
  const ms = performance.now() - t0;
  assert.ok(ms < 5000, `simulation took ${ms} ms`);
  assert.deepEqual(r.noisy.shape, [200, 128, 128]);
  assert.equal(r.noisy.dtype, 'uint16');
  assert.equal(r.clean.dtype, 'float32');
  assert.ok(r.masks.count >= 20 && r.masks.count <= 25, `neurons ${r.masks.count}`);
  const n = r.clean.data.length;
  let sc = 0;
  let sn = 0;
  for (let i = 0; i < n; i++) {
    sc += r.clean.data[i]!;
    sn += r.noisy.data[i]!;
  }
  const offset = r.params.offset;
  assert.ok(Math.abs(sc / n - offset - r.params.photons) < 1e-3, `clean mean ${sc / n}`);
  assert.ok(Math.abs(sn / n - sc / n) < 0.01, `noisy mean ${sn / n} vs clean ${sc / n}`);
});

test('noise variance is gain²·λ + σ² + 1/12 at every pixel (Poisson + read noise + rounding)', () => {
  const gain = 2;
  const readNoise = 3;
  const offset = 500;
  const r = simulateCalcium({ shape: [60, 64, 64], gain, readNoise, offset, photons: 8, seed: 4 });
  const n = r.clean.data.length;
  let excess = 0;
  for (let i = 0; i < n; i++) {
    const c = r.clean.data[i]!;
    const d = r.noisy.data[i]! - c;
    // gain²·λ = gain·(clean − offset)
    excess += d * d - gain * (c - offset);
  }
  const got = excess / n;
  const want = readNoise * readNoise + 1 / 12;
  assert.ok(Math.abs(got - want) < 0.25, `residual variance beyond shot noise ${got}, want ${want}`);
});

test('an isolated transient decays with the decay time constant (fit within 10 %)', () => {
  const decayTime = 0.6;
  const frameRate = 30;
  const r = simulateCalcium({
    shape: [1800, 32, 32], frameRate, neurons: 1, spikeRate: 0.05, burstProbability: 0,
    decayTime, neuropilFluctuation: 0, photons: 20, seed: 12,
  });
  assert.equal(r.masks.count, 1);
  const [T, H, W] = r.clean.shape;
  const hw = H * W;
  const trace = new Float64Array(T);
  let npx = 0;
  for (let p = 0; p < hw; p++) if (r.masks.labels[p] === 1) npx++;
  for (let t = 0; t < T; t++) {
    for (let p = 0; p < hw; p++) if (r.masks.labels[p] === 1) trace[t]! += r.clean.data[t * hw + p]!;
    trace[t]! /= npx;
  }
  const spikes = Array.from(r.spikes[0]!);
  const duration = T / frameRate;
  const isolated = spikes.filter((ts, i) => ts > 5 && ts < duration - 3 && (i === 0 || ts - spikes[i - 1]! > 5) && (i === spikes.length - 1 || spikes[i + 1]! - ts > 3));
  assert.ok(isolated.length > 0, `no isolated spike among ${spikes.length}`);
  for (const ts of isolated) {
    const baseline = trace[Math.floor(ts * frameRate) - 1]!;
    const xs: number[] = [];
    const ys: number[] = [];
    for (let i = Math.ceil((ts + 0.3) * frameRate); i / frameRate < ts + 2.5; i++) {
      xs.push(i / frameRate);
      ys.push(Math.log(trace[i]! - baseline));
    }
    const mx = xs.reduce((a, b) => a + b) / xs.length;
    const my = ys.reduce((a, b) => a + b) / ys.length;
    let sxy = 0;
    let sxx = 0;
    for (let k = 0; k < xs.length; k++) {
      sxy += (xs[k]! - mx) * (ys[k]! - my);
      sxx += (xs[k]! - mx) ** 2;
    }
    const tau = -sxx / sxy;
    assert.ok(Math.abs(tau / decayTime - 1) < 0.1, `fitted τ ${tau} s vs ${decayTime} s`);
  }
});

test('frame rate: consecutive frames are nearly independent at 0.3 Hz and correlated at 30 Hz', () => {
  const lag1 = (fr: number): number => {
    const r = simulateCalcium({ shape: [400, 48, 48], frameRate: fr, neurons: 6, spikeRate: 0.5, seed: 21 });
    const T = 400;
    let acc = 0;
    let used = 0;
    for (let k = 0; k < r.masks.count; k++) {
      const x = r.traces.subarray(k * T, (k + 1) * T);
      const m = x.reduce((a, b) => a + b, 0) / T;
      let num = 0;
      let den = 0;
      for (let i = 0; i < T; i++) den += (x[i]! - m) ** 2;
      for (let i = 0; i + 1 < T; i++) num += (x[i]! - m) * (x[i + 1]! - m);
      if (den > 0) {
        acc += num / den;
        used++;
      }
    }
    return acc / used;
  };
  const slow = lag1(0.3);
  const fast = lag1(30);
  assert.ok(Math.abs(slow) < 0.2, `lag-1 autocorrelation at 0.3 Hz ${slow}`);
  assert.ok(fast > 0.9, `lag-1 autocorrelation at 30 Hz ${fast}`);
});

test('kernel: peak 1 near the rise time and exposure averaging is the mean of the curve', () => {
  const k = new CalciumKernel(0.05, 0.8);
  let peak = 0;
  for (let s = 0; s < 1; s += 1e-4) peak = Math.max(peak, k.at(s));
  assert.ok(Math.abs(peak - 1) < 1e-6);
  let num = 0;
  const N = 100_000;
  for (let i = 0; i < N; i++) num += k.at(0.1 + ((i + 0.5) / N) * 0.2);
  assert.ok(Math.abs(num / N - k.mean(0.1, 0.3)) < 1e-6);
  assert.ok(Math.abs(k.mean(-0.5, 0.5) - (() => { let s = 0; for (let i = 0; i < N; i++) s += k.at(-0.5 + (i + 0.5) / N); return s / N; })()) < 1e-5);
});

test('masks: every neuron is labelled and its pixels are brighter than the background', () => {
  const r = simulateCalcium({ shape: [20, 96, 96], seed: 5 });
  const [T, H, W] = r.clean.shape;
  const hw = H * W;
  const sizes = new Array<number>(r.masks.count + 1).fill(0);
  for (const l of r.masks.labels) sizes[l]!++;
  for (let k = 1; k <= r.masks.count; k++) assert.ok(sizes[k]! > 50, `neuron ${k} has ${sizes[k]} pixels`);
  let inside = 0;
  let outside = 0;
  for (let t = 0; t < T; t++) {
    for (let p = 0; p < hw; p++) {
      if (r.masks.labels[p]! > 0) inside += r.clean.data[t * hw + p]!;
      else outside += r.clean.data[t * hw + p]!;
    }
  }
  const nIn = sizes.slice(1).reduce((a, b) => a + b, 0);
  assert.ok(inside / nIn > outside / (hw - nIn) + 2, 'somata should be brighter than the neuropil');
});

test('seeding: same seed same stack, different seed different; noise-only options keep content', () => {
  const a = simulateCalcium({ shape: [10, 32, 32], seed: 9 });
  const b = simulateCalcium({ shape: [10, 32, 32], seed: 9 });
  const c = simulateCalcium({ shape: [10, 32, 32], seed: 10 });
  assert.deepEqual(a.noisy.data, b.noisy.data);
  assert.deepEqual(a.clean.data, b.clean.data);
  assert.notDeepEqual(a.noisy.data, c.noisy.data);
  assert.notDeepEqual(a.masks.labels, c.masks.labels);
  const d = simulateCalcium({ shape: [10, 32, 32], seed: 9, readNoise: 5 });
  assert.deepEqual(a.clean.data, d.clean.data);
  assert.notDeepEqual(a.noisy.data, d.noisy.data);
});

test('out-of-range options are ConfigErrors', () => {
  assert.throws(() => simulateCalcium({ frameRate: 0 }), ConfigError);
  assert.throws(() => simulateCalcium({ shape: [0, 8, 8] }), ConfigError);
  assert.throws(() => simulateCalcium({ riseTime: 1, decayTime: 0.5 }), ConfigError);
  assert.throws(() => simulateCalcium({ exposure: 2, frameRate: 1 }), ConfigError);
});
