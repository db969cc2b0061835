/** Separable filtering shared by the simulators (optical blur), SSIM and the baselines. */

/** Normalised Gaussian taps for σ, radius `radius` (default ⌈3.5σ⌉, at least 1). */
export function gaussianKernel(sigma: number, radius = Math.max(1, Math.ceil(3.5 * sigma))): Float64Array {
  const k = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const v = Math.exp((-0.5 * i * i) / (sigma * sigma));
    k[i + radius] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i]! /= sum;
  return k;
}

/** Half-sample symmetric index reflection (SciPy's mode='reflect'), valid for any offset. */
export function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n;
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

/**
 * Convolves every line of a row-major array along `axis` with an odd-length `kernel`, in place,
 * edges reflected as SciPy's mode='reflect' does.
 */
export function filterAxis(data: Float32Array | Float64Array, shape: readonly number[], axis: number, kernel: Float64Array): void {
  const n = shape[axis]!;
  const radius = (kernel.length - 1) / 2;
  const stride = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const padded = new Float64Array(n + 2 * radius);
  for (let o = 0; o < outer; o++) {
    for (let inner = 0; inner < stride; inner++) {
      const base = o * n * stride + inner;
      for (let i = -radius; i < n + radius; i++) padded[i + radius] = data[base + reflect(i, n) * stride]!;
      for (let i = 0; i < n; i++) {
        let acc = 0;
        for (let j = 0; j < kernel.length; j++) acc += kernel[j]! * padded[i + j]!;
        data[base + i * stride] = acc;
      }
    }
  }
}

/** In-place 2D Gaussian blur of one h×w image. */
export function gaussianBlur2d(img: Float32Array | Float64Array, h: number, w: number, sigma: number): void {
  if (!(sigma > 0)) return;
  const k = gaussianKernel(sigma);
  filterAxis(img, [h, w], 1, k);
  filterAxis(img, [h, w], 0, k);
}
