/**
 * Synthetic single-molecule localisation microscopy (SMLM) stacks with ground truth: sparse
 * blinking emitters labelling filaments, for judging denoisers where consecutive frames share
 * no content (the case temporal self-supervision cannot handle).
 *
 * Model (expected photons per pixel and frame λ, then the camera model of poisson.ts):
 * - Filaments: `filaments` random smooth curves (a 2D worm-like chain: 0.5 px steps whose
 *   direction diffuses with variance step/`persistence` per step), started at a uniform point
 *   and direction and grown both ways until they leave the field or reach 2·max(h, w) px.
 * - Emitters: a Poisson process along each curve with `emitterDensity` emitters per px of
 *   length, displaced laterally by N(0, `labelJitter`²) (label size); those outside the field
 *   are dropped.
 * - Blinking: each emitter is a two-state Markov chain per frame, on → off with probability
 *   1/`meanOnFrames`, off → on with probability chosen so that the stationary on fraction is
 *   `dutyCycle`; the first frame's states are drawn from that stationary distribution.
 * - An emitter that is on in a frame contributes `photons` expected photons spread by a
 *   Gaussian PSF of σ = `psfSigma` px, integrated exactly over each pixel (erf differences),
 *   so photons falling outside the field are lost.
 * - Background: `background` photons per pixel on average, modulated ±~30 % by a smooth field
 *   (out-of-focus light), constant over time.
 * Defaults: a 100 nm pixel and σ 1.3 px ≈ 130 nm (a 670 nm dye at NA 1.3–1.4), 500 photons per
 * emitter per frame over 20 background photons per pixel: a dim, low-SNR SMLM acquisition;
 * with a 1 % duty cycle a 128×128 frame holds ~10–25 emitters that are on.
 */
import type { Stack } from '../../data/stack.js';
import { ConfigError } from '../../errors.js';
import { Rng } from '../../util/rng.js';
import { applyCameraNoise, checkSimInt as checkInt, checkSimRange as checkRange, checkSimShape, checkCamera } from './poisson.js';
import { gaussianBlur2d } from '../filters.js';

export interface SmlmOptions {
  /** [frames, height, width]. Default [200, 128, 128]. */
  shape?: readonly [number, number, number];
  /** Number of filaments. Default 6. */
  filaments?: number;
  /** Persistence length of the filaments in px (larger = straighter). Default 60. */
  persistence?: number;
  /** Emitters per px of filament length. Default 2. */
  emitterDensity?: number;
  /** Lateral displacement σ of an emitter from its filament, px. Default 0.15. */
  labelJitter?: number;
  /** Stationary fraction of frames an emitter is on. Default 0.01. */
  dutyCycle?: number;
  /** Mean number of consecutive frames an emitter stays on (≥ 1). Default 2. */
  meanOnFrames?: number;
  /** Expected photons of an emitter in a frame it is on. Default 500. */
  photons?: number;
  /** Gaussian PSF σ in px. Default 1.3. */
  psfSigma?: number;
  /** Mean background photons per pixel per frame. Default 20. */
  background?: number;
  /** Camera read noise σ in counts. Default 1.5. */
  readNoise?: number;
  /** Camera baseline in counts. Default 100. */
  offset?: number;
  /** Counts per photon. Default 1. */
  gain?: number;
  /** Seed. Default 1. */
  seed?: number;
}

export interface SmlmResult {
  /** Camera counts (uint16). */
  noisy: Stack;
  /** Expected counts gain·λ + offset (float32). */
  clean: Stack;
  /** Emitter positions in px (pixel (x, y) covers [x, x+1) × [y, y+1)). */
  emitters: { x: Float32Array; y: Float32Array; count: number };
  /** frames × count: 1 where emitter j is on in frame t (index t·count + j). */
  on: Uint8Array;
  /** Total length in px of the filaments inside the field. */
  filamentLength: number;
  /** h×w expected background photons per pixel (per frame). */
  background: Float32Array;
  /** The options as used (defaults filled in). */
  params: Required<SmlmOptions>;
}

export function simulateSmlm(opts: SmlmOptions = {}): SmlmResult {
  const shape = checkSimShape(opts.shape ?? [200, 128, 128]);
  const [T, H, W] = shape;
  const filaments = opts.filaments ?? 6;
  checkInt('filaments', filaments, 0, 10000);
  const persistence = opts.persistence ?? 60;
  checkRange('persistence', persistence, 0.5, 1e6);
  const emitterDensity = opts.emitterDensity ?? 2;
  checkRange('emitterDensity', emitterDensity, 0, 1000);
  const labelJitter = opts.labelJitter ?? 0.15;
  checkRange('labelJitter', labelJitter, 0, 100);
  const dutyCycle = opts.dutyCycle ?? 0.01;
  checkRange('dutyCycle', dutyCycle, 0, 1);
  const meanOnFrames = opts.meanOnFrames ?? 2;
  checkRange('meanOnFrames', meanOnFrames, 1, 1e6);
  const photons = opts.photons ?? 500;
  checkRange('photons', photons, 0, 1e7);
  const psfSigma = opts.psfSigma ?? 1.3;
  checkRange('psfSigma', psfSigma, 0.1, 50);
  const background = opts.background ?? 20;
  checkRange('background', background, 0, 1e5);
  const { readNoise, offset, gain } = checkCamera(opts);
  const seed = opts.seed ?? 1;
  const pOff = 1 / meanOnFrames;
  const pOn = dutyCycle >= 1 ? 1 : (dutyCycle * pOff) / (1 - dutyCycle);
  if (pOn > 1) {
    throw new ConfigError(`dutyCycle ${dutyCycle} cannot be reached with meanOnFrames ${meanOnFrames}: raise meanOnFrames or lower dutyCycle`);
  }

  const root = new Rng(seed);
  const curveRng = root.fork();
  const blinkRng = root.fork();
  const bgRng = root.fork();
  const noiseRng = root.fork();

  // --- Filaments and emitters.
  const ex: number[] = [];
  const ey: number[] = [];
  let filamentLength = 0;
  const step = 0.5;
  const maxLen = 2 * Math.max(H, W);
  const angSd = Math.sqrt(step / persistence);
  const inside = (x: number, y: number): boolean => x >= 0 && y >= 0 && x < W && y < H;
  for (let f = 0; f < filaments; f++) {
    const x0 = curveRng.next() * W;
    const y0 = curveRng.next() * H;
    const th0 = 2 * Math.PI * curveRng.next();
    let grown = 0;
    for (const dir of [0, Math.PI]) {
      let x = x0;
      let y = y0;
      let th = th0 + dir;
      while (grown < maxLen && inside(x, y)) {
        th += angSd * curveRng.normal();
        const nx = x + step * Math.cos(th);
        const ny = y + step * Math.sin(th);
        grown += step;
        filamentLength += step;
        // Emitters on this step: Poisson(density·step), uniform along it.
        let k = 0;
        const limit = Math.exp(-emitterDensity * step);
        for (let p = curveRng.next(); p > limit; p *= curveRng.next()) k++;
        for (let e = 0; e < k; e++) {
          const u = curveRng.next();
          const px = x + u * (nx - x) + labelJitter * curveRng.normal();
          const py = y + u * (ny - y) + labelJitter * curveRng.normal();
          if (inside(px, py)) {
            ex.push(px);
            ey.push(py);
          }
        }
        x = nx;
        y = ny;
      }
    }
  }
  const n = ex.length;

  // --- Background.
  const hw = H * W;
  const bg = new Float32Array(hw);
  for (let p = 0; p < hw; p++) bg[p] = bgRng.normal();
  gaussianBlur2d(bg, H, W, Math.max(4, Math.min(H, W) / 6));
  let m = 0;
  let v = 0;
  for (let p = 0; p < hw; p++) m += bg[p]!;
  m /= hw;
  for (let p = 0; p < hw; p++) v += (bg[p]! - m) ** 2;
  const sd = Math.sqrt(v / hw);
  let bgSum = 0;
  for (let p = 0; p < hw; p++) {
    bg[p] = Math.max(0.1, 1 + (sd > 0 ? (0.3 * (bg[p]! - m)) / sd : 0));
    bgSum += bg[p]!;
  }
  for (let p = 0; p < hw; p++) bg[p] = (bg[p]! * background * hw) / bgSum;

  // --- Blinking and rendering.
  const on = new Uint8Array(T * n);
  const state = new Uint8Array(n);
  for (let j = 0; j < n; j++) state[j] = blinkRng.next() < dutyCycle ? 1 : 0;
  const lam = new Float32Array(T * hw);
  const R = Math.ceil(4 * psfSigma) + 1;
  const px = new Float64Array(2 * R + 2);
  const py = new Float64Array(2 * R + 2);
  const inv = 1 / (Math.SQRT2 * psfSigma);
  for (let t = 0; t < T; t++) {
    if (t > 0) {
      for (let j = 0; j < n; j++) {
        const u = blinkRng.next();
        state[j] = state[j] ? (u < pOff ? 0 : 1) : u < pOn ? 1 : 0;
      }
    }
    const frame = lam.subarray(t * hw, (t + 1) * hw);
    frame.set(bg);
    for (let j = 0; j < n; j++) {
      if (!state[j]) continue;
      on[t * n + j] = 1;
      const cx = ex[j]!;
      const cy = ey[j]!;
      const xa = Math.max(0, Math.floor(cx) - R);
      const xb = Math.min(W - 1, Math.floor(cx) + R);
      const ya = Math.max(0, Math.floor(cy) - R);
      const yb = Math.min(H - 1, Math.floor(cy) + R);
      // Fraction of the PSF in each column / row: ½[erf((x+1−cx)/(√2σ)) − erf((x−cx)/(√2σ))].
      for (let x = xa; x <= xb; x++) px[x - xa] = 0.5 * (erf((x + 1 - cx) * inv) - erf((x - cx) * inv));
      for (let y = ya; y <= yb; y++) py[y - ya] = 0.5 * (erf((y + 1 - cy) * inv) - erf((y - cy) * inv));
      for (let y = ya; y <= yb; y++) {
        const fy = photons * py[y - ya]!;
        const row = y * W;
        for (let x = xa; x <= xb; x++) frame[row + x]! += fy * px[x - xa]!;
      }
    }
  }
  const clean = new Float32Array(T * hw);
  for (let p = 0; p < lam.length; p++) clean[p] = gain * lam[p]! + offset;
  const noisy = applyCameraNoise(lam, noiseRng, { gain, readNoise, offset });

  return {
    noisy: { data: noisy, shape: [T, H, W], dtype: 'uint16' },
    clean: { data: clean, shape: [T, H, W], dtype: 'float32' },
    emitters: { x: Float32Array.from(ex), y: Float32Array.from(ey), count: n },
    on,
    filamentLength,
    background: bg,
    params: {
      shape: [T, H, W], filaments, persistence, emitterDensity, labelJitter, dutyCycle, meanOnFrames,
      photons, psfSigma, background, readNoise, offset, gain, seed,
    },
  };
}

/** erf(x) (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7). */
export function erf(x: number): number {
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}
