import type { Stack } from '../data/stack.js';
import { StackError } from '../errors.js';

/**
 * The linear oracle: the best linear estimate of each frame from the noisy frame, given the
 * ground truth's mean image, the covariance of its frames around that mean, and each pixel's
 * noise variance (the linear minimum-mean-square-error, or Wiener, estimate with the truth's own
 * statistics). No denoiser can know these; in a comparison it shows how much of the truth the
 * noisy data hold for an estimator that is told where and how things vary, so that a learned
 * method's shortfall can be told apart from a noise level too high for anyone. A nonlinear
 * estimator could still beat it. It is a fair reference only where the truth's frames vary in
 * far fewer directions than there are frames (simulated calcium: one per cell and neuropil
 * component); otherwise the covariance of the frames at hand spans the frames themselves.
 *
 * With C the truth's frames minus their mean m (T × P), D the diagonal of the per-pixel noise
 * variances (measured as the mean of (noisy − truth)² over frames) and Σ = CᵀC / T, the estimate
 *   x̂_t = m + Σ (Σ + D)⁻¹ (y_t − m) = m + Cᵀ (T·I + C D⁻¹ Cᵀ)⁻¹ C D⁻¹ (y_t − m),
 * the second form (Woodbury) needing only a T × T solve: O(T²·P) time, T·P memory.
 */
export function linearOracle(noisy: Stack, clean: Stack): Stack {
  if (!linearOracleAffordable(clean.shape)) {
    throw new StackError(`linear oracle: a ${clean.shape.join('×')} stack is beyond its budget of frames² × pixels = ${ORACLE_MAX_WORK.toExponential(0)}`);
  }
  const [T, H, W] = clean.shape;
  if (noisy.shape.some((d, i) => d !== clean.shape[i])) {
    throw new StackError(`linear oracle: the noisy stack is ${noisy.shape.join('×')} but the truth ${clean.shape.join('×')}`);
  }
  const P = H * W;
  const y = noisy.data;
  const c = clean.data;
  const mean = new Float64Array(P);
  const noiseInv = new Float64Array(P);
  for (let t = 0; t < T; t++) {
    for (let p = 0; p < P; p++) {
      mean[p]! += c[t * P + p]!;
      noiseInv[p]! += (y[t * P + p]! - c[t * P + p]!) ** 2;
    }
  }
  for (let p = 0; p < P; p++) {
    mean[p]! /= T;
    // A noiseless pixel would make D singular; its tiny floor only lets the truth through there.
    noiseInv[p] = T / Math.max(noiseInv[p]!, T * 1e-12);
  }
  const dyn = new Float64Array(T * P);
  const obs = new Float64Array(T * P);
  for (let t = 0; t < T; t++) {
    for (let p = 0; p < P; p++) {
      dyn[t * P + p] = c[t * P + p]! - mean[p]!;
      obs[t * P + p] = (y[t * P + p]! - mean[p]!) * noiseInv[p]!;
    }
  }
  // M = T·I + C D⁻¹ Cᵀ and B = C D⁻¹ (Y − m)ᵀ, both T × T.
  const M = new Float64Array(T * T);
  const B = new Float64Array(T * T);
  for (let a = 0; a < T; a++) {
    const ca = dyn.subarray(a * P, (a + 1) * P);
    for (let b = 0; b < T; b++) {
      const cb = dyn.subarray(b * P, (b + 1) * P);
      const ob = obs.subarray(b * P, (b + 1) * P);
      let mab = 0;
      let bab = 0;
      for (let p = 0; p < P; p++) {
        bab += ca[p]! * ob[p]!;
        if (b >= a) mab += ca[p]! * cb[p]! * noiseInv[p]!;
      }
      B[a * T + b] = bab;
      if (b >= a) M[a * T + b] = M[b * T + a] = mab + (a === b ? T : 0);
    }
  }
  choleskySolveInPlace(M, B, T);
  const out = new Float32Array(T * P);
  const row = new Float64Array(P);
  for (let t = 0; t < T; t++) {
    row.set(mean);
    for (let a = 0; a < T; a++) {
      const k = B[a * T + t]!;
      if (k === 0) continue;
      const ca = dyn.subarray(a * P, (a + 1) * P);
      for (let p = 0; p < P; p++) row[p]! += k * ca[p]!;
    }
    out.set(row, t * P);
  }
  return { data: out, shape: clean.shape, dtype: 'float32' };
}

/**
 * frames² × pixels, the oracle's work, at most: about two minutes on a 2-core machine (800
 * frames of 96² took 24 s). A stack of thousands of large frames would take hours.
 */
export const ORACLE_MAX_WORK = 3e10;

export function linearOracleAffordable(shape: Stack['shape']): boolean {
  const [t, h, w] = shape;
  return t * t * h * w <= ORACLE_MAX_WORK;
}

/** Solves M X = B for symmetric positive definite M (n × n, destroyed); X replaces B (n × n). */
function choleskySolveInPlace(M: Float64Array, B: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) {
    let d = M[j * n + j]!;
    for (let k = 0; k < j; k++) d -= M[j * n + k]! ** 2;
    const l = Math.sqrt(d);
    M[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let s = M[i * n + j]!;
      for (let k = 0; k < j; k++) s -= M[i * n + k]! * M[j * n + k]!;
      M[i * n + j] = s / l;
    }
  }
  for (let col = 0; col < n; col++) {
    for (let i = 0; i < n; i++) {
      let s = B[i * n + col]!;
      for (let k = 0; k < i; k++) s -= M[i * n + k]! * B[k * n + col]!;
      B[i * n + col] = s / M[i * n + i]!;
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = B[i * n + col]!;
      for (let k = i + 1; k < n; k++) s -= M[k * n + i]! * B[k * n + col]!;
      B[i * n + col] = s / M[i * n + i]!;
    }
  }
}
