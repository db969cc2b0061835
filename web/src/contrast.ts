/** Display contrast: the intensities that map to black and white. */

/** At most this many pixels are sorted for the percentiles: a large frame is sampled evenly. */
const SAMPLE = 1 << 16;

/** The `low` and `high` percentiles (0–100) of a frame's values. */
export function percentileRange(data: Float32Array, low: number, high: number): [number, number] {
  const stride = Math.max(1, Math.floor(data.length / SAMPLE));
  const sample = new Float32Array(Math.ceil(data.length / stride));
  for (let i = 0, j = 0; i < data.length; i += stride, j++) sample[j] = data[i]!;
  sample.sort();
  const at = (p: number) => sample[Math.min(sample.length - 1, Math.max(0, Math.round((p / 100) * (sample.length - 1))))]!;
  const lo = at(low);
  const hi = at(high);
  // A flat frame still shows (grey) rather than dividing by zero.
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}
