/**
 * Stitching inference patches back into a stack with bounded memory, reproducing the published
 * per-patch rescale and output conversion as NumPy 1.x computes them (SRDTRANS.md "Inference
 * procedure"). Only one temporal slab (kept frames × H × W, float64) is held at a time: see
 * `inferenceSlabs` in data/patches.ts.
 */
import { numpySum32 } from '../data/normalize.js';
import type { Size3 } from '../data/normalize.js';
import type { Box3, InferenceSlab } from '../data/patches.js';
import type { StackArray, StackDType } from '../data/stack.js';

const fround = Math.fround;

/** Float64 stitch buffer for frames [t0, t1) of an h × w stack (the published buffer is float64). */
export interface SlabBuffer {
  readonly data: Float64Array;
  readonly t0: number;
  readonly t1: number;
  readonly h: number;
  readonly w: number;
}

/** A zeroed buffer for the frames a slab writes (keptT0..keptT1). */
export function makeSlabBuffer(slab: InferenceSlab, h: number, w: number): SlabBuffer {
  return { data: new Float64Array((slab.keptT1 - slab.keptT0) * h * w), t0: slab.keptT0, t1: slab.keptT1, h, w };
}

/** View of the frames [finalT0, finalT1) of a slab's buffer, final once all its patches are written. */
export function finalFrames(buf: SlabBuffer, slab: InferenceSlab): Float64Array {
  const frame = buf.h * buf.w;
  if (slab.finalT0 < buf.t0 || slab.finalT1 > buf.t1) throw new RangeError('slab buffer does not hold the final frames');
  return buf.data.subarray((slab.finalT0 - buf.t0) * frame, (slab.finalT1 - buf.t0) * frame);
}

/** Which part of a patch's output is kept (src, patch coordinates) and where it goes (dst, stack coordinates). */
export interface KeptRegion {
  readonly src: Box3;
  readonly dst: Box3;
}

let scratchA = new Float32Array(0);
let scratchB = new Float32Array(0);

/**
 * Adds the mean back to the kept region of the network output and of its input, and writes
 * output·sqrt(sum(input)/sum(output)) into `target` at the region's stack position:
 *  - the mean is cast to float32 and added in float32 (NumPy 1.x: float32 array + float64 scalar);
 *  - both sums are float32 `np.sum`s of the kept region (C order, 8192-element blocks each
 *    summed pairwise, block sums accumulated in float32; see numpySum32);
 *  - their ratio is float32, its square root float64 (`np.float32 ** 0.5` under NumPy 1.x);
 *  - the product is float32 (the float64 factor is cast to float32, as value-based casting does
 *    for a float32 array times a float64 scalar) and stored in the float64 buffer.
 * Patches are (t, h, w) row-major with the size `patchSize`. Returns the float32 factor
 * (NaN or ±Inf when the output's kept sum is 0 or the ratio negative, as in the published code).
 */
export function rescaleKept(
  output: Float32Array,
  input: Float32Array,
  patchSize: Size3,
  kept: KeptRegion,
  mean: number,
  target: SlabBuffer,
): number {
  const { src, dst } = kept;
  const kt = src.t1 - src.t0, kh = src.y1 - src.y0, kw = src.x1 - src.x0;
  if (dst.t1 - dst.t0 !== kt || dst.y1 - dst.y0 !== kh || dst.x1 - dst.x0 !== kw) {
    throw new RangeError('kept region: source and destination extents differ');
  }
  if (src.t0 < 0 || src.y0 < 0 || src.x0 < 0 || src.t1 > patchSize.t || src.y1 > patchSize.h || src.x1 > patchSize.w) {
    throw new RangeError('kept region lies outside the patch');
  }
  if (dst.t0 < target.t0 || dst.t1 > target.t1 || dst.y0 < 0 || dst.x0 < 0 || dst.y1 > target.h || dst.x1 > target.w) {
    throw new RangeError('kept region lies outside the slab buffer');
  }
  const volume = patchSize.t * patchSize.h * patchSize.w;
  if (output.length !== volume || input.length !== volume) {
    throw new RangeError(`patch buffers hold ${output.length} and ${input.length} values, expected ${volume}`);
  }
  const n = kt * kh * kw;
  if (scratchA.length < n) {
    scratchA = new Float32Array(n);
    scratchB = new Float32Array(n);
  }
  const a = scratchA;
  const b = scratchB;
  const fm = fround(mean);
  const PH = patchSize.h, PW = patchSize.w;
  let o = 0;
  for (let t = src.t0; t < src.t1; t++) {
    for (let y = src.y0; y < src.y1; y++) {
      const row = (t * PH + y) * PW;
      for (let x = src.x0; x < src.x1; x++) {
        a[o] = output[row + x]! + fm; // stored as float32: fround(out + fm)
        b[o] = input[row + x]! + fm;
        o++;
      }
    }
  }
  const ratio = fround(numpySum32(b, 0, n) / numpySum32(a, 0, n));
  const factor = fround(Math.sqrt(ratio));
  const H = target.h, W = target.w;
  const buf = target.data;
  o = 0;
  for (let t = dst.t0; t < dst.t1; t++) {
    for (let y = dst.y0; y < dst.y1; y++) {
      const row = ((t - target.t0) * H + y) * W;
      for (let x = dst.x0; x < dst.x1; x++) {
        buf[row + x] = fround(a[o++]! * factor);
      }
    }
  }
  return factor;
}

/** Output array type for an input stack type (the published rule), or float32 with `asFloat`. */
export function outputDType(inputDtype: StackDType, asFloat: boolean): StackDType {
  if (asFloat) return 'float32';
  if (inputDtype === 'uint16' || inputDtype === 'int16') return inputDtype;
  return 'int32';
}

const INT32_MIN = -2147483648;

/**
 * Converts stitched values to the output type as the published code does: cast to float32,
 * multiply by float32(scale) in float32, clip to [0, 65535], cast to int32 by truncation; then
 * uint16 input → uint16, int16 input → int16 clipped to ±32767 (so [0, 32767]), any other input
 * type → int32. A NaN pixel (a patch whose output summed to 0) becomes int32 −2147483648 as on
 * x86, hence 0 in uint16, −32767 in int16.
 * With `asFloat`, returns float32 values float32(value)·float32(scale) with no clipping or
 * truncation: the rescaled denoised intensities in the units of the input stack.
 */
export function toOutputType(values: Float64Array, inputDtype: StackDType, scale: number, asFloat: boolean): StackArray {
  const n = values.length;
  const fs = fround(scale);
  if (asFloat) {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = fround(values[i]!) * fs;
    return out;
  }
  const kind = outputDType(inputDtype, false);
  const out = kind === 'uint16' ? new Uint16Array(n) : kind === 'int16' ? new Int16Array(n) : new Int32Array(n);
  const lo = kind === 'int16' ? -32767 : kind === 'uint16' ? 0 : INT32_MIN;
  const hi = kind === 'int16' ? 32767 : 65535;
  for (let i = 0; i < n; i++) {
    const v = fround(fround(values[i]!) * fs);
    // np.clip(v, 0, 65535) keeps NaN; float32 → int32 truncates, NaN → INT32_MIN (x86).
    const c = v < 0 ? 0 : v > 65535 ? 65535 : v;
    let k = Number.isNaN(c) ? INT32_MIN : Math.trunc(c);
    if (k < lo) k = lo;
    else if (k > hi) k = hi;
    out[i] = k;
  }
  return out;
}
