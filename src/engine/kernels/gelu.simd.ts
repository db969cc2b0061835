/**
 * GELU and its slope as a small wasm SIMD module generated at runtime, four values at a time:
 *   g(h) = h·Φ(h),  slope(h) = g'(h) = Φ(h) + h·φ(h),  Φ(h) = (1 + erf(h/√2))/2.
 * erf is TF.js's own formula (Abramowitz & Stegun 7.1.26, |error| ≤ 1.5e-7, as its cpu, wasm
 * and webgpu Erf kernels), and its exp(−h²/2) is also φ's, so one exp serves both: Cephes'
 * expf (range reduction by ln 2 in two parts, a degree-7 polynomial, 2ⁿ built in the exponent
 * bits), over arguments clamped at −87 where it is below float32's normal range anyway.
 * The last n mod 4 values are done by a final group shifted to end at value n, which writes
 * some values again with the same results: hence n ≥ 4.
 */
import { encodeModule, type FuncDef, I32, op, V128, type Bytes, type ValType } from './wasm-binary.js';

/** The fewest values the module takes (one f32x4). */
export const MIN_VALUES = 4;

/** gelu(x, g, n) writes g; geluSlope(x, g, slope, n) writes both; pointers in bytes, n in values. */
export interface SimdGelu {
  gelu(x: number, g: number, n: number): void;
  geluSlope(x: number, g: number, slope: number, n: number): void;
}

// A&S 7.1.26 (TF.js backend_util.ERF_*).
const ERF_P = 0.3275911;
const ERF_A = [0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429];
// Cephes expf.
const LOG2E = 1.44269504088896341;
const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;
const EXP_P = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
const EXP_MIN = -87;

const get = op.localGet;
const set = op.localSet;
const c = op.f32x4Const;

/** One function: (x, g[, slope], n). */
function geluFunc(withSlope: boolean): FuncDef {
  const params = withSlope ? 4 : 3;
  const [X, G, S, N] = withSlope ? [0, 1, 2, 3] : [0, 1, -1, 2];
  let next = params;
  const local = (): number => next++;
  const at = local(); // byte offset of the current group
  const last = local(); // byte offset of the final group: 4·(n − 4)
  const h = local();
  const e = local(); // exp(−h²/2)
  const t = local();
  const y = local(); // scratch
  const k = local(); // exp's n, as f32
  const phi = local(); // Φ(h)
  const locals: ValType[] = [I32, I32, V128, V128, V128, V128, V128, V128];

  /** Horner: value of local `v` in polynomial coefficients `cs` (highest first), left on the stack. */
  const horner = (v: number, cs: number[]): Bytes => {
    const code: Bytes = [...c(cs[0]!)];
    for (const coeff of cs.slice(1)) code.push(...get(v), ...op.f32x4Mul, ...c(coeff), ...op.f32x4Add);
    return code;
  };

  const group: Bytes = [
    ...get(X), ...get(at), ...op.i32Add, ...op.v128Load(0), ...set(h),
    // y = max(−h²/2, EXP_MIN); e = exp(y).
    ...get(h), ...get(h), ...op.f32x4Mul, ...c(-0.5), ...op.f32x4Mul, ...c(EXP_MIN), ...op.f32x4Max, ...set(y),
    ...get(y), ...c(LOG2E), ...op.f32x4Mul, ...op.f32x4Nearest, ...set(k),
    ...get(y), ...get(k), ...c(LN2_HI), ...op.f32x4Mul, ...op.f32x4Sub, ...get(k), ...c(LN2_LO), ...op.f32x4Mul, ...op.f32x4Sub, ...set(y),
    // e = (poly(y)·y² + y + 1)·2^k
    ...horner(y, EXP_P), ...get(y), ...op.f32x4Mul, ...get(y), ...op.f32x4Mul, ...get(y), ...op.f32x4Add, ...c(1), ...op.f32x4Add,
    ...get(k), ...op.i32x4TruncSatF32x4S, ...op.i32x4Const(127), ...op.i32x4Add, ...op.i32Const(23), ...op.i32x4Shl,
    ...op.f32x4Mul, ...set(e),
    // t = 1/(1 + p·|h/√2|); erf(|h|/√2) = 1 − poly(t)·t·e, signed like h (bit flip, as sign·value).
    ...c(1), ...c(1), ...get(h), ...op.f32x4Abs, ...c(ERF_P * Math.SQRT1_2), ...op.f32x4Mul, ...op.f32x4Add, ...op.f32x4Div, ...set(t),
    ...c(1), ...horner(t, [...ERF_A].reverse()), ...get(t), ...op.f32x4Mul, ...get(e), ...op.f32x4Mul, ...op.f32x4Sub,
    ...get(h), ...op.i32x4Const(-0x80000000), ...op.v128And, ...op.v128Xor,
    // Φ = (1 + erf)/2; g = h·Φ.
    ...c(1), ...op.f32x4Add, ...c(0.5), ...op.f32x4Mul, ...set(phi),
    ...get(G), ...get(at), ...op.i32Add, ...get(h), ...get(phi), ...op.f32x4Mul, ...op.v128Store(0),
    ...(withSlope
      ? [
          // slope = Φ + h·e/√(2π)
          ...get(S), ...get(at), ...op.i32Add,
          ...get(phi), ...get(h), ...get(e), ...op.f32x4Mul, ...c(1 / Math.sqrt(2 * Math.PI)), ...op.f32x4Mul, ...op.f32x4Add,
          ...op.v128Store(0),
        ]
      : []),
  ];

  const body: Bytes = [
    ...get(N), ...op.i32Const(4), ...op.i32Sub, ...op.i32Const(4), ...op.i32Mul, ...set(last),
    ...op.i32Const(0), ...set(at),
    ...op.block, ...op.loop,
    ...group,
    ...get(at), ...get(last), ...op.i32Eq, ...op.brIf(1),
    ...get(at), ...op.i32Const(16), ...op.i32Add, ...set(at),
    ...get(at), ...get(last), ...op.i32GtS, ...op.if, ...get(last), ...set(at), ...op.end,
    ...op.br(0), ...op.end, ...op.end,
  ];
  return {
    params: new Array<ValType>(params).fill(I32),
    locals,
    body,
    exportAs: withSlope ? 'geluSlope' : 'gelu',
  };
}

/** The module's bytes, importing a shared or an unshared memory. */
export function simdGeluModule(shared: boolean): Uint8Array<ArrayBuffer> {
  return encodeModule([geluFunc(false), geluFunc(true)], { shared });
}

/** The kernels working on `memory`, or undefined where this engine has no wasm SIMD. */
export function instantiateSimdGelu(memory: WebAssembly.Memory): SimdGelu | undefined {
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const bytes = simdGeluModule(shared);
  if (!WebAssembly.validate(bytes)) return undefined;
  // Synchronous compilation (kernels run synchronously); under the browsers' 4 KB limit (tested).
  const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
  return { gelu: exports['gelu'] as SimdGelu['gelu'], geluSlope: exports['geluSlope'] as SimdGelu['geluSlope'] };
}
