/**
 * A minimal WebAssembly binary encoder: a module that imports one memory and defines functions
 * over i32 and v128 values, with the few instructions our generated kernels use. Kernels are
 * built at runtime, so users and CI need no C or wasm toolchain.
 */

export type Bytes = number[];

export const I32 = 0x7f;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof V128;

export interface FuncDef {
  params: ValType[];
  locals: ValType[];
  /** The instructions, without the final `end`. */
  body: Bytes;
  /** Export name, if the function is called from JS. */
  exportAs?: string;
}

/** Unsigned LEB128. */
export function uleb(n: number): Bytes {
  const out: Bytes = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
export function sleb(n: number): Bytes {
  const out: Bytes = [];
  n |= 0;
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function vec(items: Bytes[]): Bytes {
  return [...uleb(items.length), ...items.flat()];
}

function utf8(s: string): Bytes {
  return vec([...new TextEncoder().encode(s)].map((b) => [b]));
}

function section(id: number, content: Bytes): Bytes {
  return [id, ...uleb(content.length), ...content];
}

/** Locals as the code section wants them: runs of one type. */
function localRuns(locals: ValType[]): Bytes[] {
  const runs: Bytes[] = [];
  for (let i = 0; i < locals.length; ) {
    let j = i;
    while (j < locals.length && locals[j] === locals[i]) j++;
    runs.push([...uleb(j - i), locals[i]!]);
    i = j;
  }
  return runs;
}

/**
 * The module: functions (no results) numbered in the order given, and the memory imported as
 * env.memory. A shared memory (TF.js's threaded build) can only be imported as shared, with a
 * maximum at least its own.
 */
export function encodeModule(funcs: FuncDef[], memory: { shared: boolean }): Uint8Array<ArrayBuffer> {
  const memoryLimits = memory.shared ? [0x03, ...uleb(0), ...uleb(65536)] : [0x00, ...uleb(0)];
  const bytes: Bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(funcs.map((f) => [0x60, ...vec(f.params.map((t) => [t])), ...vec([])]))),
    ...section(2, vec([[...utf8('env'), ...utf8('memory'), 0x02, ...memoryLimits]])),
    ...section(3, vec(funcs.map((_, i) => uleb(i)))),
    ...section(
      7,
      vec(funcs.flatMap((f, i) => (f.exportAs === undefined ? [] : [[...utf8(f.exportAs), 0x00, ...uleb(i)]]))),
    ),
    ...section(
      10,
      vec(
        funcs.map((f) => {
          const body = [...vec(localRuns(f.locals)), ...f.body, 0x0b];
          return [...uleb(body.length), ...body];
        }),
      ),
    ),
  ];
  return new Uint8Array(bytes);
}

const simd = (opcode: number, ...imm: Bytes): Bytes => [0xfd, ...uleb(opcode), ...imm];
/** memarg: alignment hint 4 bytes (all our data are f32), constant byte offset. */
const memarg = (offset: number): Bytes => [2, ...uleb(offset)];

/** Instructions, each as its bytes. Blocks and loops have no results. */
export const op = {
  localGet: (i: number): Bytes => [0x20, ...uleb(i)],
  localSet: (i: number): Bytes => [0x21, ...uleb(i)],
  localTee: (i: number): Bytes => [0x22, ...uleb(i)],
  i32Const: (n: number): Bytes => [0x41, ...sleb(n)],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32Eq: [0x46],
  i32GtS: [0x4a],
  i32GeS: [0x4e],
  i32LtS: [0x48],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  else: [0x05],
  end: [0x0b],
  br: (depth: number): Bytes => [0x0c, ...uleb(depth)],
  brIf: (depth: number): Bytes => [0x0d, ...uleb(depth)],
  call: (func: number): Bytes => [0x10, ...uleb(func)],
  v128Load: (offset: number): Bytes => simd(0x00, ...memarg(offset)),
  v128Load32Splat: (offset: number): Bytes => simd(0x09, ...memarg(offset)),
  v128Store: (offset: number): Bytes => simd(0x0b, ...memarg(offset)),
  v128Zero: simd(0x0c, ...new Array<number>(16).fill(0)),
  /** v128.const of four equal f32 lanes. */
  f32x4Const: (v: number): Bytes => simd(0x0c, ...Array.from({ length: 4 }, () => [...new Uint8Array(new Float32Array([v]).buffer)]).flat()),
  /** v128.const of four equal i32 lanes. */
  i32x4Const: (v: number): Bytes => simd(0x0c, ...Array.from({ length: 4 }, () => [...new Uint8Array(new Int32Array([v]).buffer)]).flat()),
  v128And: simd(0x4e),
  v128Xor: simd(0x51),
  f32x4Nearest: simd(0x6a),
  i32x4Shl: simd(0xab),
  i32x4Add: simd(0xae),
  f32x4Abs: simd(0xe0),
  f32x4Add: simd(0xe4),
  f32x4Sub: simd(0xe5),
  f32x4Mul: simd(0xe6),
  f32x4Div: simd(0xe7),
  f32x4Max: simd(0xe9),
  i32x4TruncSatF32x4S: simd(0xf8),
};
