/**
 * Intensity normalisation of stacks and extraction of float32 patches, reproducing the
 * published code's arithmetic as NumPy 1.x performs it (see SRDTRANS.md and the notes below).
 *
 * NumPy 1.x rules that matter here:
 *  - `uint16_array.astype(float32) / scale` is a float32 division (the Python int `scale` is
 *    cast to float32 first).
 *  - `float32_array - mean` with a float64 (or Python float) scalar `mean` stays float32:
 *    value-based casting converts the scalar to float32 first, then subtracts in float32.
 *  - `np.sum` / `np.mean` over a whole array walk it in C order in blocks of the ufunc buffer
 *    size (8192 elements); each block is summed pairwise (8-way unrolled blocks of at most 128
 *    elements, split in halves above that) in the accumulation type, and the block sums are
 *    added one after another to an accumulator that starts at 0. The accumulation type is
 *    float32 for float32 data and float64 for integer data (mean uses a float64 accumulator
 *    for integers). NumPy >= 2.3 grows the block to the whole contiguous array; the numbers we
 *    match are the NumPy 1.x ones.
 */
import type { Stack, StackArray } from './stack.js';
import { StackError } from '../errors.js';

const fround = Math.fround;

/** NumPy's default ufunc buffer size: the block length of its partial pairwise summation. */
export const NUMPY_BUFSIZE = 8192;
const PW_BLOCKSIZE = 128;

export interface Point3 {
  readonly t: number;
  readonly y: number;
  readonly x: number;
}

export interface Size3 {
  readonly t: number;
  readonly h: number;
  readonly w: number;
}

/** NumPy's pairwise summation of a[start, start+n) in float32 arithmetic. */
export function pairwiseSum32(a: Float32Array, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res = fround(res + a[start + i]!);
    return res;
  }
  if (n <= PW_BLOCKSIZE) {
    let r0 = a[start]!, r1 = a[start + 1]!, r2 = a[start + 2]!, r3 = a[start + 3]!;
    let r4 = a[start + 4]!, r5 = a[start + 5]!, r6 = a[start + 6]!, r7 = a[start + 7]!;
    const lim = n - (n % 8);
    let i = 8;
    for (; i < lim; i += 8) {
      const p = start + i;
      r0 = fround(r0 + a[p]!);
      r1 = fround(r1 + a[p + 1]!);
      r2 = fround(r2 + a[p + 2]!);
      r3 = fround(r3 + a[p + 3]!);
      r4 = fround(r4 + a[p + 4]!);
      r5 = fround(r5 + a[p + 5]!);
      r6 = fround(r6 + a[p + 6]!);
      r7 = fround(r7 + a[p + 7]!);
    }
    let res = fround(
      fround(fround(r0 + r1) + fround(r2 + r3)) + fround(fround(r4 + r5) + fround(r6 + r7)),
    );
    for (; i < n; i++) res = fround(res + a[start + i]!);
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return fround(pairwiseSum32(a, start, n2) + pairwiseSum32(a, start + n2, n - n2));
}

/** NumPy's pairwise summation of a[start, start+n) in float64 arithmetic (values read as doubles). */
export function pairwiseSum64(a: ArrayLike<number>, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i]!;
    return res;
  }
  if (n <= PW_BLOCKSIZE) {
    let r0 = +a[start]!, r1 = +a[start + 1]!, r2 = +a[start + 2]!, r3 = +a[start + 3]!;
    let r4 = +a[start + 4]!, r5 = +a[start + 5]!, r6 = +a[start + 6]!, r7 = +a[start + 7]!;
    const lim = n - (n % 8);
    let i = 8;
    for (; i < lim; i += 8) {
      const p = start + i;
      r0 += a[p]!;
      r1 += a[p + 1]!;
      r2 += a[p + 2]!;
      r3 += a[p + 3]!;
      r4 += a[p + 4]!;
      r5 += a[p + 5]!;
      r6 += a[p + 6]!;
      r7 += a[p + 7]!;
    }
    let res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
    for (; i < n; i++) res += a[start + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum64(a, start, n2) + pairwiseSum64(a, start + n2, n - n2);
}

/**
 * `np.sum` of a float32 array (or of a[start, start+n) taken as one C-ordered array) as
 * NumPy 1.x computes it: blocks of `block` elements, each summed pairwise in float32, block
 * sums accumulated in float32 from 0. Pass `block = Infinity` for NumPy >= 2.3 on contiguous data.
 */
export function numpySum32(a: Float32Array, start = 0, n = a.length - start, block = NUMPY_BUFSIZE): number {
  let acc = 0;
  for (let off = 0; off < n; off += block) {
    acc = fround(acc + pairwiseSum32(a, start + off, Math.min(block, n - off)));
  }
  return acc;
}

/** As {@link numpySum32}, accumulating in float64 (NumPy's sum/mean of integer data as float64). */
export function numpySum64(a: ArrayLike<number>, start = 0, n = a.length - start, block = NUMPY_BUFSIZE): number {
  let acc = 0;
  for (let off = 0; off < n; off += block) {
    acc += pairwiseSum64(a, start + off, Math.min(block, n - off));
  }
  return acc;
}

/**
 * The whole-stack mean the published inference subtracts (`noise_im.mean()` on the stack as
 * read, before any scaling or frame limit). For integer stacks it is computed in float64 (exact
 * sums for any realistic size); for float32 stacks NumPy keeps it in float32, so it is a float32
 * pairwise sum divided by the count and rounded to float32.
 */
export function stackMean(stack: Stack): number {
  const n = stack.data.length;
  if (n === 0) throw new StackError('cannot take the mean of an empty stack');
  if (stack.data instanceof Float32Array) {
    return fround(numpySum32(stack.data) / n);
  }
  return numpySum64(stack.data) / n;
}

/**
 * stackMean over a stack that arrives in pieces (frames read a batch at a time), with the same
 * result to the last bit for any split: NumPy's blocks of NUMPY_BUFSIZE values are formed across
 * the pieces, and only the unfinished block is held.
 */
export class StreamingMean {
  private acc = 0;
  private count = 0;
  private readonly pending: Float64Array | Float32Array;
  private filled = 0;

  constructor(private readonly float32: boolean) {
    this.pending = float32 ? new Float32Array(NUMPY_BUFSIZE) : new Float64Array(NUMPY_BUFSIZE);
  }

  push(values: StackArray): void {
    for (let at = 0; at < values.length;) {
      const take = Math.min(values.length - at, NUMPY_BUFSIZE - this.filled);
      this.pending.set(values.subarray(at, at + take), this.filled);
      this.filled += take;
      at += take;
      if (this.filled === NUMPY_BUFSIZE) this.flush();
    }
  }

  /** The mean of everything pushed (stackMean's value for the whole stack). */
  mean(): number {
    this.flush();
    if (this.count === 0) throw new StackError('cannot take the mean of an empty stack');
    return this.float32 ? fround(this.acc / this.count) : this.acc / this.count;
  }

  private flush(): void {
    if (this.filled === 0) return;
    if (this.float32) this.acc = fround(this.acc + pairwiseSum32(this.pending as Float32Array, 0, this.filled));
    else this.acc += pairwiseSum64(this.pending, 0, this.filled);
    this.count += this.filled;
    this.filled = 0;
  }
}

/**
 * The per-stack mean the published training subtracts: `(stack.astype(float32) / scale).mean()`,
 * a float32 value (float32 pairwise sums of the scaled values, divided by the count, rounded).
 */
export function trainingMean(stack: Stack, scale: number): number {
  const n = stack.data.length;
  if (n === 0) throw new StackError('cannot take the mean of an empty stack');
  const fs = fround(scale);
  const src = stack.data;
  const buf = new Float32Array(Math.min(NUMPY_BUFSIZE, n));
  let acc = 0;
  for (let off = 0; off < n; off += NUMPY_BUFSIZE) {
    const len = Math.min(NUMPY_BUFSIZE, n - off);
    for (let i = 0; i < len; i++) buf[i] = fround(src[off + i]!) / fs;
    acc = fround(acc + pairwiseSum32(buf, 0, len));
  }
  return fround(acc / n);
}

/**
 * A float32 patch of `size` voxels starting at `origin`, normalised as the published code
 * does: float32(v) / float32(scale), minus float32(mean), each step rounded to float32.
 * Use {@link trainingMean} for training patches and {@link stackMean} for inference patches.
 * `out`, if given, must hold size.t·size.h·size.w values and is filled and returned.
 */
export function extractPatch(
  stack: Stack,
  origin: Point3,
  size: Size3,
  scale: number,
  mean: number,
  out?: Float32Array,
): Float32Array {
  const [T, H, W] = stack.shape;
  if (
    origin.t < 0 || origin.y < 0 || origin.x < 0 ||
    origin.t + size.t > T || origin.y + size.h > H || origin.x + size.w > W
  ) {
    throw new StackError(
      `patch at (t=${origin.t}, y=${origin.y}, x=${origin.x}) of ${size.t}×${size.h}×${size.w} ` +
        `does not fit in a stack of ${T}×${H}×${W}`,
    );
  }
  const len = size.t * size.h * size.w;
  const dst = out ?? new Float32Array(len);
  if (dst.length < len) throw new RangeError(`output buffer holds ${dst.length} values, need ${len}`);
  const fs = fround(scale);
  const fm = fround(mean);
  const src = stack.data;
  let o = 0;
  for (let t = 0; t < size.t; t++) {
    for (let y = 0; y < size.h; y++) {
      const row = ((origin.t + t) * H + origin.y + y) * W + origin.x;
      for (let x = 0; x < size.w; x++) {
        dst[o++] = fround(fround(fround(src[row + x]!) / fs) - fm);
      }
    }
  }
  return dst;
}

/**
 * Throws a StackError naming the first frame of a float stack that holds NaN or ±Inf
 * (`firstFrame`: the index of the stack's frame 0 in the file, for a batch of a longer one).
 */
export function checkFinite(stack: Stack, path: string, firstFrame = 0): void {
  if (!(stack.data instanceof Float32Array)) return; // integer stacks are always finite
  const [T, H, W] = stack.shape;
  const data = stack.data;
  const frame = H * W;
  for (let t = 0; t < T; t++) {
    const base = t * frame;
    for (let i = 0; i < frame; i++) {
      const v = data[base + i]!;
      if (!Number.isFinite(v)) {
        const y = Math.floor(i / W);
        const x = i - y * W;
        throw new StackError(
          `${path}: frame ${firstFrame + t} (counting from 0) holds ${Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf'} ` +
            `at y=${y}, x=${x}; replace non-finite pixels before denoising`,
        );
      }
    }
  }
}
