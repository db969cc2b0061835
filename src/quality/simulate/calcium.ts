/**
 * Synthetic calcium imaging with ground truth (GCaMP-like somata in a fluctuating neuropil),
 * for judging denoisers at a known photon level and frame rate.
 *
 * Model, in expected detected photons per pixel and frame (λ):
 *   λ(t, p) = s · [ floor + Σ_j neuropil_j(p) · g_j(t) + Σ_k b_k · (1 + c_k(t)) · f_k(p) ]
 * - f_k: the soma footprint of neuron k: a slightly elliptical disc of radius `somaRadius`
 *   whose cytosolic ring is bright (1) and whose nucleus (inner 55 % of the radius) is dim (0.3),
 *   as GCaMP is excluded from the nucleus; 3×3 supersampled, then blurred by the optical PSF
 *   (Gaussian, σ = `blur` px). b_k ∈ [0.6, 1.4] is the neuron's resting brightness.
 * - c_k(t): ΔF/F of neuron k. Spikes are a Poisson process (per-neuron rate log-normal around
 *   `spikeRate`; with probability `burstProbability` an event is a burst of 2–6 spikes 10–40 ms
 *   apart); each spike adds amplitude·(e^{−s/τd} − e^{−s/τr}), normalised to peak 1 (τr =
 *   `riseTime`, τd = `decayTime`); the per-neuron amplitude is log-normal around `amplitude`.
 *   The frame value is the transient averaged over the frame's exposure window
 *   [i/frameRate, i/frameRate + exposure] (integrated analytically, so it is exact at any frame
 *   rate: at 0.3 Hz consecutive frames are nearly independent, at 30 Hz they are highly
 *   correlated). exposure = 0 samples the transient at the frame time.
 * - neuropil_j: two spatially smooth random fields (white noise blurred with σ = 8 px, mean 1,
 *   ±~40 %), together of mean `neuropil` (relative to a resting cytosol of brightness 1), each
 *   modulated by g_j(t) = 1 + `neuropilFluctuation` · z_j(t), z_j the standardised sum of a dense
 *   (20 Hz) spike train through the same calcium kernel (out-of-focus neurites).
 * - floor = 0.05: autofluorescence.
 * - s is chosen so that the mean of λ over the whole stack equals `photons` exactly.
 * Then counts = round(gain·Poisson(λ) + offset + N(0, readNoise²)), clipped to [0, 65535]
 * (see poisson.ts), and clean = gain·λ + offset.
 *
 * The default (0.3 Hz, 10 photons per pixel per frame on average, 33 ms exposure) is the
 * low-speed, photon-limited regime that motivates SRDTrans (paper: volumetric imaging at 0.3 Hz).
 *
 * Random streams: placement, spikes, neuropil and noise each use their own stream forked from
 * `seed`, so changing e.g. `photons` or `readNoise` keeps the same neurons and spikes.
 */
import type { Stack } from '../../data/stack.js';
import { ConfigError } from '../../errors.js';
import { Rng } from '../../util/rng.js';
import { applyCameraNoise, checkSimInt as checkInt, checkSimRange as checkRange, checkSimShape, checkCamera } from './poisson.js';
import { gaussianBlur2d } from '../filters.js';

export interface CalciumOptions {
  /** [frames, height, width]. Default [200, 128, 128]. */
  shape?: readonly [number, number, number];
  /** Frames per second, 0.01–1000 (realistic: 0.1–30). Default 0.3. */
  frameRate?: number;
  /** Exposure per frame in seconds, ≤ 1/frameRate; 0 = instantaneous sampling. Default min(1/frameRate, 1/30). */
  exposure?: number;
  /** Number of neurons to place; overrides `density`. */
  neurons?: number;
  /** Neurons per 100×100 px when `neurons` is not given. Default 15 (≈ 25 in 128×128). */
  density?: number;
  /** Soma radius in px. Default 6. */
  somaRadius?: number;
  /** Mean expected photons per pixel per frame over the whole stack (not the peak). Default 10. */
  photons?: number;
  /** Camera read noise σ in counts. Default 1.5. */
  readNoise?: number;
  /** Camera baseline in counts. Default 100. */
  offset?: number;
  /** Counts per photon. Default 1. */
  gain?: number;
  /** Optical PSF σ in px. Default 1. */
  blur?: number;
  /** Mean spike rate per neuron in Hz (burst spikes included). Default 0.3. */
  spikeRate?: number;
  /** Probability that a spike event is a burst of 2–6 spikes. Default 0.15. */
  burstProbability?: number;
  /** Rise time constant of a transient in s. Default 0.05. */
  riseTime?: number;
  /** Decay time constant of a transient in s. Default 0.8. */
  decayTime?: number;
  /** Mean peak ΔF/F of a single-spike transient. Default 1. */
  amplitude?: number;
  /** Neuropil brightness relative to a resting cytosol of 1. Default 0.5. */
  neuropil?: number;
  /** Relative temporal fluctuation (σ) of the neuropil. Default 0.2. */
  neuropilFluctuation?: number;
  /** Seed. Default 1. */
  seed?: number;
}

export interface CalciumMasks {
  /** h×w, 0 = background, k = neuron k (1-based). */
  labels: Int32Array;
  count: number;
}

export interface CalciumResult {
  /** Camera counts (uint16). */
  noisy: Stack;
  /** Expected counts gain·λ + offset before noise (float32). */
  clean: Stack;
  masks: CalciumMasks;
  /** spikes[k−1]: spike times (s, from the first frame's start) of neuron k within the recording. */
  spikes: Float64Array[];
  /** count × frames, row k−1: the noise-free ΔF/F c_k of neuron k at each frame. */
  traces: Float32Array;
  /** The options as used (defaults filled in). */
  params: Required<Omit<CalciumOptions, 'neurons' | 'density'>> & { neurons: number };
}

const NUCLEUS_FRACTION = 0.55;
const NUCLEUS_BRIGHTNESS = 0.3;
const FLOOR = 0.05;
const NEUROPIL_COMPONENTS = 2;
const NEUROPIL_SIGMA = 8;
const NEUROPIL_EVENT_RATE = 20;

export function simulateCalcium(opts: CalciumOptions = {}): CalciumResult {
  const shape = checkSimShape(opts.shape ?? [200, 128, 128]);
  const [T, H, W] = shape;
  const frameRate = opts.frameRate ?? 0.3;
  checkRange('frameRate', frameRate, 0.01, 1000);
  const exposure = opts.exposure ?? Math.min(1 / frameRate, 1 / 30);
  checkRange('exposure', exposure, 0, 1 / frameRate);
  const somaRadius = opts.somaRadius ?? 6;
  checkRange('somaRadius', somaRadius, 1, 100);
  const photons = opts.photons ?? 10;
  checkRange('photons', photons, 1e-3, 1e5);
  const { readNoise, offset, gain } = checkCamera(opts);
  const blur = opts.blur ?? 1;
  checkRange('blur', blur, 0, 50);
  const spikeRate = opts.spikeRate ?? 0.3;
  checkRange('spikeRate', spikeRate, 0, 100);
  const burstProbability = opts.burstProbability ?? 0.15;
  checkRange('burstProbability', burstProbability, 0, 1);
  const riseTime = opts.riseTime ?? 0.05;
  checkRange('riseTime', riseTime, 0, 10);
  const decayTime = opts.decayTime ?? 0.8;
  checkRange('decayTime', decayTime, 0.01, 100);
  if (riseTime >= decayTime) throw new ConfigError(`riseTime (${riseTime} s) must be shorter than decayTime (${decayTime} s)`);
  const amplitude = opts.amplitude ?? 1;
  checkRange('amplitude', amplitude, 0, 100);
  const neuropil = opts.neuropil ?? 0.5;
  checkRange('neuropil', neuropil, 0, 100);
  const neuropilFluctuation = opts.neuropilFluctuation ?? 0.2;
  checkRange('neuropilFluctuation', neuropilFluctuation, 0, 10);
  const seed = opts.seed ?? 1;
  let wanted: number;
  if (opts.neurons !== undefined) {
    checkInt('neurons', opts.neurons, 0, 100000);
    wanted = opts.neurons;
  } else {
    const density = opts.density ?? 15;
    checkRange('density', density, 0, 1000);
    wanted = Math.round((density * H * W) / 1e4);
  }

  const root = new Rng(seed);
  const placeRng = root.fork();
  const spikeRng = root.fork();
  const neuropilRng = root.fork();
  const noiseRng = root.fork();

  const hw = H * W;
  const kernel = new CalciumKernel(riseTime, decayTime);

  // --- Neurons: placement, footprints, labels.
  const neurons = placeNeurons(placeRng, wanted, H, W, somaRadius);
  const count = neurons.length;
  const labels = new Int32Array(hw);
  const bestRho = new Float32Array(hw).fill(Infinity);
  const footprints: Footprint[] = [];
  for (let k = 0; k < count; k++) {
    const n = neurons[k]!;
    footprints.push(renderFootprint(n, blur));
    labelNeuron(n, k + 1, labels, bestRho, H, W);
  }
  // Labels of neurons hidden entirely by others would be empty; the count stays the number placed.

  // --- Activity.
  const spikes: Float64Array[] = [];
  const traces = new Float32Array(count * T);
  const duration = T / frameRate;
  const warmup = 10 * decayTime;
  const frameTrace = new Float64Array(T);
  for (let k = 0; k < count; k++) {
    const rate = Math.min(5, Math.max(0.02, spikeRate * Math.exp(0.5 * spikeRng.normal() - 0.125)));
    const amp = amplitude * Math.exp(0.3 * spikeRng.normal() - 0.045);
    const times = spikeTrain(spikeRng, spikeRate > 0 ? rate : 0, burstProbability, -warmup, duration);
    frameTrace.fill(0);
    for (const ts of times) {
      const a = amp * Math.max(0.2, 1 + 0.2 * spikeRng.normal());
      kernel.addSpike(frameTrace, ts, a, frameRate, exposure);
    }
    for (let i = 0; i < T; i++) traces[k * T + i] = frameTrace[i]!;
    spikes.push(Float64Array.from(times.filter((t) => t >= 0 && t < duration)));
  }

  // --- Neuropil: smooth fields and their temporal modulation.
  const npFields: Float32Array[] = [];
  const npGains: Float64Array[] = [];
  for (let j = 0; j < NEUROPIL_COMPONENTS; j++) {
    npFields.push(smoothField(neuropilRng, H, W));
    const g = new Float64Array(T);
    if (neuropilFluctuation > 0) {
      const times = spikeTrain(neuropilRng, NEUROPIL_EVENT_RATE, 0, -warmup, duration);
      for (const ts of times) kernel.addSpike(g, ts, 1, frameRate, exposure);
      standardise(g);
      for (let i = 0; i < T; i++) g[i] = Math.max(0.05, 1 + neuropilFluctuation * g[i]!);
    } else {
      g.fill(1);
    }
    npGains.push(g);
  }

  // --- Render λ (unscaled), then scale to the requested mean photon level.
  const resting = new Float32Array(hw).fill(FLOOR);
  for (let k = 0; k < count; k++) footprints[k]!.addTo(resting, neurons[k]!.brightness, W);
  const lam = new Float32Array(T * hw);
  let total = 0;
  const npScale = neuropil / NEUROPIL_COMPONENTS;
  for (let i = 0; i < T; i++) {
    const frame = lam.subarray(i * hw, (i + 1) * hw);
    frame.set(resting);
    for (let j = 0; j < NEUROPIL_COMPONENTS; j++) {
      const f = npFields[j]!;
      const g = npScale * npGains[j]![i]!;
      if (g === 0) continue;
      for (let p = 0; p < hw; p++) frame[p]! += g * f[p]!;
    }
    for (let k = 0; k < count; k++) {
      const c = traces[k * T + i]!;
      if (c > 1e-7) footprints[k]!.addTo(frame, neurons[k]!.brightness * c, W);
    }
    for (let p = 0; p < hw; p++) total += frame[p]!;
  }
  const s = total > 0 ? (photons * T * hw) / total : 0;
  const clean = new Float32Array(T * hw);
  for (let p = 0; p < lam.length; p++) {
    const v = lam[p]! * s;
    lam[p] = v;
    clean[p] = gain * v + offset;
  }
  const noisy = applyCameraNoise(lam, noiseRng, { gain, readNoise, offset });

  return {
    noisy: { data: noisy, shape: [T, H, W], dtype: 'uint16' },
    clean: { data: clean, shape: [T, H, W], dtype: 'float32' },
    masks: { labels, count },
    spikes,
    traces,
    params: {
      shape: [T, H, W], frameRate, exposure, neurons: count, somaRadius, photons, readNoise, offset,
      gain, blur, spikeRate, burstProbability, riseTime, decayTime, amplitude, neuropil,
      neuropilFluctuation, seed,
    },
  };
}

/** Difference-of-exponentials transient, peak-normalised, averaged over exposure windows. */
export class CalciumKernel {
  private readonly norm: number;
  constructor(readonly riseTime: number, readonly decayTime: number) {
    if (riseTime > 0) {
      const tp = (Math.log(decayTime / riseTime) * decayTime * riseTime) / (decayTime - riseTime);
      this.norm = 1 / (Math.exp(-tp / decayTime) - Math.exp(-tp / riseTime));
    } else {
      this.norm = 1;
    }
  }

  /** Value of a unit transient s seconds after its spike. */
  at(s: number): number {
    if (s <= 0) return 0;
    const r = this.riseTime > 0 ? Math.exp(-s / this.riseTime) : 0;
    return this.norm * (Math.exp(-s / this.decayTime) - r);
  }

  /** Mean of a unit transient over [a, b] seconds after the spike. */
  mean(a: number, b: number): number {
    if (b <= a) return this.at(a);
    if (b <= 0) return 0;
    const u0 = Math.max(a, 0);
    const integ = (tau: number): number => tau * (Math.exp(-u0 / tau) - Math.exp(-b / tau));
    const r = this.riseTime > 0 ? integ(this.riseTime) : 0;
    return (this.norm * (integ(this.decayTime) - r)) / (b - a);
  }

  /** Adds amp × the transient of a spike at time ts (s) to every frame it reaches. */
  addSpike(out: Float64Array, ts: number, amp: number, frameRate: number, exposure: number): void {
    const T = out.length;
    const horizon = ts + 20 * this.decayTime;
    let i = Math.max(0, Math.floor((ts - exposure) * frameRate));
    for (; i < T; i++) {
      const t0 = i / frameRate;
      if (t0 > horizon) break;
      const v = exposure > 0 ? this.mean(t0 - ts, t0 + exposure - ts) : this.at(t0 - ts);
      out[i]! += amp * v;
    }
  }
}

/** Poisson spike train in [t0, t1) with bursts; `rate` counts all spikes, burst spikes included. */
function spikeTrain(rng: Rng, rate: number, burstProbability: number, t0: number, t1: number): number[] {
  const times: number[] = [];
  if (!(rate > 0)) return times;
  const meanEventSize = 1 + burstProbability * 3; // bursts of 2–6 spikes: mean 4, i.e. 3 extra
  const eventRate = rate / meanEventSize;
  let t = t0;
  for (;;) {
    t += -Math.log(1 - rng.next()) / eventRate;
    if (t >= t1) break;
    times.push(t);
    if (burstProbability > 0 && rng.next() < burstProbability) {
      const n = 2 + rng.int(5);
      let tb = t;
      for (let b = 1; b < n; b++) {
        tb += 0.01 + 0.03 * rng.next();
        if (tb < t1) times.push(tb);
      }
    }
  }
  times.sort((a, b) => a - b);
  return times;
}

interface Neuron {
  cx: number;
  cy: number;
  a: number;
  b: number;
  cos: number;
  sin: number;
  brightness: number;
}

function placeNeurons(rng: Rng, wanted: number, H: number, W: number, r: number): Neuron[] {
  const out: Neuron[] = [];
  const minDist2 = (1.8 * r) ** 2;
  const margin = 0.5 * r;
  const maxTries = 200 * Math.max(1, wanted);
  for (let tries = 0; out.length < wanted && tries < maxTries; tries++) {
    const cx = margin + rng.next() * Math.max(0, W - 2 * margin);
    const cy = margin + rng.next() * Math.max(0, H - 2 * margin);
    if (out.some((n) => (n.cx - cx) ** 2 + (n.cy - cy) ** 2 < minDist2)) continue;
    const e = 0.15 * rng.next();
    const th = Math.PI * rng.next();
    out.push({
      cx, cy, a: r * (1 + e), b: r * (1 - e), cos: Math.cos(th), sin: Math.sin(th),
      brightness: 0.6 + 0.8 * rng.next(),
    });
  }
  return out;
}

function rho(n: Neuron, x: number, y: number): number {
  const dx = x - n.cx;
  const dy = y - n.cy;
  const u = dx * n.cos + dy * n.sin;
  const v = -dx * n.sin + dy * n.cos;
  return Math.sqrt((u / n.a) ** 2 + (v / n.b) ** 2);
}

/** A blurred footprint in a box (x0, y0, bw, bh) that may extend past the image. */
class Footprint {
  constructor(readonly x0: number, readonly y0: number, readonly bw: number, readonly bh: number, readonly v: Float32Array) {}
  addTo(frame: Float32Array, scale: number, W: number): void {
    const H = frame.length / W;
    for (let by = 0; by < this.bh; by++) {
      const y = this.y0 + by;
      if (y < 0 || y >= H) continue;
      const row = y * W;
      for (let bx = 0; bx < this.bw; bx++) {
        const x = this.x0 + bx;
        if (x < 0 || x >= W) continue;
        frame[row + x]! += scale * this.v[by * this.bw + bx]!;
      }
    }
  }
}

function renderFootprint(n: Neuron, blur: number): Footprint {
  const pad = Math.ceil(3.5 * blur) + 2;
  const R = Math.max(n.a, n.b);
  const x0 = Math.floor(n.cx - R) - pad;
  const y0 = Math.floor(n.cy - R) - pad;
  const bw = Math.ceil(n.cx + R) + pad - x0 + 1;
  const bh = Math.ceil(n.cy + R) + pad - y0 + 1;
  const v = new Float32Array(bw * bh);
  const SS = 3;
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      let acc = 0;
      for (let sy = 0; sy < SS; sy++) {
        for (let sx = 0; sx < SS; sx++) {
          const r = rho(n, x0 + bx + (sx + 0.5) / SS, y0 + by + (sy + 0.5) / SS);
          if (r <= 1) acc += r < NUCLEUS_FRACTION ? NUCLEUS_BRIGHTNESS : 1;
        }
      }
      v[by * bw + bx] = acc / (SS * SS);
    }
  }
  gaussianBlur2d(v, bh, bw, blur);
  return new Footprint(x0, y0, bw, bh, v);
}

/** Pixel (x, y) covers [x, x+1) × [y, y+1); it belongs to a neuron when its centre is inside. */
function labelNeuron(n: Neuron, k: number, labels: Int32Array, best: Float32Array, H: number, W: number): void {
  const R = Math.max(n.a, n.b);
  const xa = Math.max(0, Math.floor(n.cx - R - 1));
  const xb = Math.min(W - 1, Math.ceil(n.cx + R + 1));
  const ya = Math.max(0, Math.floor(n.cy - R - 1));
  const yb = Math.min(H - 1, Math.ceil(n.cy + R + 1));
  for (let y = ya; y <= yb; y++) {
    for (let x = xa; x <= xb; x++) {
      const r = rho(n, x + 0.5, y + 0.5);
      const p = y * W + x;
      if (r <= 1 && r < best[p]!) {
        best[p] = r;
        labels[p] = k;
      }
    }
  }
}

/** White noise blurred with σ = NEUROPIL_SIGMA px, mapped to mean 1 and σ 0.4 (floored at 0.1). */
function smoothField(rng: Rng, H: number, W: number): Float32Array {
  const f = new Float32Array(H * W);
  for (let p = 0; p < f.length; p++) f[p] = rng.normal();
  gaussianBlur2d(f, H, W, NEUROPIL_SIGMA);
  const z = Float64Array.from(f);
  standardise(z);
  for (let p = 0; p < f.length; p++) f[p] = Math.max(0.1, 1 + 0.4 * z[p]!);
  return f;
}

function standardise(x: Float64Array): void {
  let m = 0;
  for (let i = 0; i < x.length; i++) m += x[i]!;
  m /= x.length;
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i]! - m) ** 2;
  const sd = Math.sqrt(v / x.length);
  for (let i = 0; i < x.length; i++) x[i] = sd > 0 ? (x[i]! - m) / sd : 0;
}

