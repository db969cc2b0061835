/**
 * Photon (Poisson) and camera (Gaussian read noise, offset, gain) noise shared by the simulators.
 *
 * Poisson sampling is exact for every mean: inversion by sequential search of the CDF for
 * λ < 10 (one uniform and ~λ multiplications; equivalent to Knuth's product method) and Hörmann's PTRS transformed rejection for λ ≥ 10 (W. Hörmann, "The
 * transformed rejection method for generating Poisson random variables", Insurance: Mathematics
 * and Economics 12, 1993; the same algorithm NumPy uses), which needs ~1.2 uniform pairs per draw.
 */
import { ConfigError } from '../../errors.js';
import type { Rng } from '../../util/rng.js';

/** Threshold between Knuth's method and PTRS. PTRS is valid for λ ≥ 10. */
const PTRS_MIN_LAMBDA = 10;

const LANCZOS_G = 7;
const LANCZOS_C = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7; relative error ~1e-15). */
export function logGamma(x: number): number {
  if (x < 0.5) {
    // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
    return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  }
  const z = x - 1;
  let a = LANCZOS_C[0]!;
  const t = z + LANCZOS_G + 0.5;
  for (let i = 1; i < LANCZOS_G + 2; i++) a += LANCZOS_C[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}


/** One Poisson(λ) variate. λ ≤ 0 (or NaN) gives 0. */
export function samplePoisson(rng: Rng, lambda: number): number {
  if (!(lambda > 0)) return 0;
  if (lambda < PTRS_MIN_LAMBDA) {
    // Inversion by sequential search (one uniform; the same distribution as Knuth's product
    // method, which needs ~λ+1 uniforms). The cap guards against rounding leaving F just below u.
    const u = rng.next();
    let p = Math.exp(-lambda);
    let F = p;
    let k = 0;
    while (u > F && k < 200) {
      k++;
      p *= lambda / k;
      F += p;
    }
    return k;
  }
  return samplePtrs(rng, lambda);
}

function samplePtrs(rng: Rng, lambda: number): number {
  const slam = Math.sqrt(lambda);
  const loglam = Math.log(lambda);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const invalpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = rng.next() - 0.5;
    const v = rng.next();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor(((2 * a) / us + b) * u + lambda + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (
      Math.log(v) + Math.log(invalpha) - Math.log(a / (us * us) + b) <=
      -lambda + k * loglam - logGamma(k + 1)
    ) {
      return k;
    }
  }
}

export interface CameraOptions {
  /** Camera gain in counts (ADU) per detected photon. Default 1. */
  gain?: number;
  /** Standard deviation of the Gaussian read noise, in counts. Default 1.5 (a typical sCMOS). */
  readNoise?: number;
  /** Constant baseline added by the camera, in counts. Default 100. */
  offset?: number;
}

/** The camera settings with their defaults filled in, each checked against its range. */
export function checkCamera(opts: CameraOptions): Required<CameraOptions> {
  const camera = { gain: opts.gain ?? 1, readNoise: opts.readNoise ?? 1.5, offset: opts.offset ?? 100 };
  checkSimRange('readNoise', camera.readNoise, 0, 1000);
  checkSimRange('offset', camera.offset, 0, 60000);
  checkSimRange('gain', camera.gain, 1e-3, 1000);
  return camera;
}

/**
 * The camera's view of an expected photon image: for each pixel
 *   counts = round(gain · Poisson(photons) + offset + N(0, readNoise²)), clipped to [0, 65535].
 * `photons` holds the expected photon counts (no offset, no gain); the expected counts are then
 * gain·photons + offset (what the simulators return as `clean`).
 */
export function applyCameraNoise(
  photons: ArrayLike<number>,
  rng: Rng,
  opts: CameraOptions = {},
): Uint16Array {
  const gain = opts.gain ?? 1;
  const readNoise = opts.readNoise ?? 1.5;
  const offset = opts.offset ?? 100;
  const n = photons.length;
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    let v = gain * samplePoisson(rng, photons[i]!) + offset;
    if (readNoise > 0) v += readNoise * rng.normal();
    v = Math.round(v);
    out[i] = v < 0 ? 0 : v > 65535 ? 65535 : v;
  }
  return out;
}

/** Throws a ConfigError unless v is a finite number in [lo, hi]. */
export function checkSimRange(name: string, v: number, lo: number, hi: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) {
    throw new ConfigError(`simulation option ${name} = ${v} is out of range: use a number in [${lo}, ${hi}]`);
  }
}

/** Throws a ConfigError unless v is an integer in [lo, hi]. */
export function checkSimInt(name: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi) {
    throw new ConfigError(`simulation option ${name} = ${v} is out of range: use an integer in [${lo}, ${hi}]`);
  }
}

/** A simulated stack's [frames, height, width], checked. */
export function checkSimShape(shape: readonly [number, number, number]): readonly [number, number, number] {
  checkSimInt('shape[0] (frames)', shape[0], 1, 1e6);
  checkSimInt('shape[1] (height)', shape[1], 4, 16384);
  checkSimInt('shape[2] (width)', shape[2], 4, 16384);
  return shape;
}
