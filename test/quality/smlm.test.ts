import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, simulateSmlm } from '../../src/node.js';
import { erf } from '../../src/quality/simulate/smlm.js';

test('erf is accurate to ~1e-7', () => {
  assert.ok(Math.abs(erf(0)) < 1e-8);
  assert.ok(Math.abs(erf(0.5) - 0.5204998778130465) < 2e-7);
  assert.ok(Math.abs(erf(-1.5) + 0.9661051464753108) < 2e-7);
  assert.ok(Math.abs(erf(4) - 0.9999999845827421) < 2e-7);
});

test('emitter density along filaments, duty cycle and on-time match the parameters', () => {
  const emitterDensity = 1.5;
  const dutyCycle = 0.03;
  const meanOnFrames = 3;
  const r = simulateSmlm({ shape: [300, 96, 96], emitterDensity, dutyCycle, meanOnFrames, seed: 2 });
  const expected = emitterDensity * r.filamentLength;
  const z = (r.emitters.count - expected) / Math.sqrt(expected);
  assert.ok(Math.abs(z) < 4.5, `${r.emitters.count} emitters for ${expected.toFixed(0)} expected`);
  for (let j = 0; j < r.emitters.count; j++) {
    assert.ok(r.emitters.x[j]! >= 0 && r.emitters.x[j]! < 96 && r.emitters.y[j]! >= 0 && r.emitters.y[j]! < 96);
  }
  const n = r.emitters.count;
  let on = 0;
  let runs = 0;
  for (let t = 0; t < 300; t++) {
    for (let j = 0; j < n; j++) {
      if (r.on[t * n + j]) {
        on++;
        if (t === 0 || !r.on[(t - 1) * n + j]) runs++;
      }
    }
  }
  const duty = on / (300 * n);
  assert.ok(Math.abs(duty / dutyCycle - 1) < 0.12, `duty cycle ${duty}`);
  const meanRun = on / runs;
  assert.ok(Math.abs(meanRun / meanOnFrames - 1) < 0.12, `mean on-run ${meanRun} frames`);
});

test('photon budget: background mean, photons per emitter, noisy mean = clean mean', () => {
  const photons = 800;
  const background = 15;
  const r = simulateSmlm({ shape: [100, 64, 64], photons, background, dutyCycle: 0.05, seed: 3 });
  const [T, H, W] = r.clean.shape;
  const hw = H * W;
  const bgMean = r.background.reduce((a, b) => a + b, 0) / hw;
  assert.ok(Math.abs(bgMean - background) < 1e-3, `background ${bgMean}`);
  let signal = 0;
  let sc = 0;
  let sn = 0;
  for (let t = 0; t < T; t++) {
    for (let p = 0; p < hw; p++) {
      const c = r.clean.data[t * hw + p]!;
      signal += c - r.params.offset - r.background[p]!;
      sc += c;
      sn += r.noisy.data[t * hw + p]!;
    }
  }
  const onCount = r.on.reduce((a, b) => a + b, 0);
  const perEmitter = signal / onCount;
  // Emitters near the border lose the part of their PSF outside the field.
  assert.ok(perEmitter <= photons * 1.0001 && perEmitter > photons * 0.9, `photons per emitter ${perEmitter}`);
  assert.ok(Math.abs(sn / sc - 1) < 2e-3, `noisy mean ${sn / (T * hw)} vs clean ${sc / (T * hw)}`);
});

test('PSF: an isolated emitter has its centroid at the emitter and variance σ² + 1/12', () => {
  const psfSigma = 1.4;
  const r = simulateSmlm({ shape: [200, 64, 64], filaments: 2, emitterDensity: 0.05, dutyCycle: 0.2, background: 0, psfSigma, readNoise: 0, seed: 4 });
  const [T, H, W] = r.clean.shape;
  const hw = H * W;
  const n = r.emitters.count;
  assert.ok(n > 0);
  let checked = 0;
  for (let t = 0; t < T && checked < 5; t++) {
    const onIdx: number[] = [];
    for (let j = 0; j < n; j++) if (r.on[t * n + j]) onIdx.push(j);
    if (onIdx.length !== 1) continue;
    const j = onIdx[0]!;
    const ex = r.emitters.x[j]!;
    const ey = r.emitters.y[j]!;
    if (ex < 10 || ey < 10 || ex > W - 10 || ey > H - 10) continue;
    let s = 0, mx = 0, my = 0, vx = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const v = r.clean.data[t * hw + y * W + x]! - 100;
        s += v;
        mx += v * (x + 0.5);
        my += v * (y + 0.5);
      }
    }
    mx /= s;
    my /= s;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) vx += (r.clean.data[t * hw + y * W + x]! - 100) * (x + 0.5 - mx) ** 2;
    vx /= s;
    assert.ok(Math.abs(s - 500) < 1, `photons ${s}`);
    assert.ok(Math.abs(mx - ex) < 0.01 && Math.abs(my - ey) < 0.01, `centroid ${mx},${my} vs ${ex},${ey}`);
    assert.ok(Math.abs(vx / (psfSigma ** 2 + 1 / 12) - 1) < 0.02, `PSF variance ${vx}`);
    checked++;
  }
  assert.ok(checked > 0, 'no frame with a single emitter away from the border');
});

test('seeding and option checks', () => {
  const a = simulateSmlm({ shape: [5, 32, 32], seed: 1 });
  const b = simulateSmlm({ shape: [5, 32, 32], seed: 1 });
  const c = simulateSmlm({ shape: [5, 32, 32], seed: 2 });
  assert.deepEqual(a.noisy.data, b.noisy.data);
  assert.deepEqual(a.emitters.x, b.emitters.x);
  assert.notDeepEqual(a.noisy.data, c.noisy.data);
  assert.throws(() => simulateSmlm({ dutyCycle: 0.9, meanOnFrames: 1 }), ConfigError);
  assert.throws(() => simulateSmlm({ psfSigma: 0 }), ConfigError);
});
