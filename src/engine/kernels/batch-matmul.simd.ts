/**
 * A batched f32 matrix product as a small wasm SIMD module generated at runtime:
 * C[b] = A[b]·B[b] for many small matrices (attention's [windows·heads, 49, 16] operands).
 *
 * C is computed in tiles of up to 4 rows × 8 columns held in eight f32x4 accumulators; each
 * step over K loads two vectors of a B row and broadcasts one A value per row. A is read
 * through a row and a column stride, so a transposed A costs nothing; B must be K × N row-major
 * (the caller transposes it first when needed) and C is written M × N row-major. The last
 * N mod 8 columns are done 4 at a time, the final group shifted left to end at column N: it
 * overlaps columns already done and writes them again with the same values (each element's
 * sum is formed in the same order), so no partial loads or stores are needed — hence N ≥ 4.
 * The last M mod 4 rows have tiles of their own height.
 *
 * With `accumulate` set, the accumulators start from C's values instead of zero: a caller can
 * cut K into blocks and call once per block, each element's sum still formed term by term in
 * order of k (so the bits are those of one call), while the block of B the tiles walk stays
 * in cache (batch-matmul.wasm.ts). Only for N a multiple of 4: the shifted last tile would add
 * its overlap twice.
 */
import { encodeModule, type FuncDef, I32, op, V128, type ValType, type Bytes } from './wasm-binary.js';

/** Rows of C per tile. */
const TILE_ROWS = 4;
/** The narrowest C this kernel computes (one f32x4). */
export const MIN_COLUMNS = 4;

/**
 * Computes `batch` products; every pointer and stride is in bytes within the imported memory.
 * A[b][i][k] is at a + b·aBatch + i·aRow + k·aCol; B[b] (K × N) at b + b·bBatch; C[b] (M × N)
 * at c + b·M·N·4; accumulate 1 adds the products to C's values. Requires M, K ≥ 1 and N ≥
 * MIN_COLUMNS.
 */
export type SimdMatMul = (
  a: number,
  b: number,
  c: number,
  batch: number,
  m: number,
  n: number,
  k: number,
  aBatch: number,
  bBatch: number,
  aRow: number,
  aCol: number,
  accumulate: 0 | 1,
) => void;

/** Numbered locals after the parameters, allocated as the code is generated. */
class Locals {
  readonly types: ValType[] = [];
  constructor(private readonly params: number) {}
  add(type: ValType): number {
    this.types.push(type);
    return this.params + this.types.length - 1;
  }
}

const get = op.localGet;
const set = op.localSet;
/** x += delta, both locals (i32). */
const addTo = (x: number, delta: number): Bytes => [...get(x), ...get(delta), ...op.i32Add, ...set(x)];

// Parameters of the row-block functions: rows(a, b, c, n, k, aRow, aCol, accumulate).
const R = { a: 0, b: 1, c: 2, n: 3, k: 4, aRow: 5, aCol: 6, accumulate: 7 } as const;

/**
 * One function per tile height `rows` (1..4): the C rows [i, i + rows) of one product, all
 * columns. a, c point at row i of A and C.
 */
function rowBlock(rows: number): FuncDef {
  const L = new Locals(8);
  const rowBytes = L.add(I32); // N·4: one row of B and of C
  const col = L.add(I32); // byte offset of the tile's first column
  const kLeft = L.add(I32);
  const pb = L.add(I32);
  const pc = L.add(I32);
  const pa = Array.from({ length: rows }, () => L.add(I32));
  const zero = L.add(V128);
  const av = L.add(V128);
  const bv = [L.add(V128), L.add(V128)];
  const acc = Array.from({ length: rows }, () => [L.add(V128), L.add(V128)]);

  /** The tile at column offset `col`, `vectors` f32x4 wide. */
  const tile = (vectors: number): Bytes => {
    const code: Bytes = [...get(R.accumulate), ...op.if, ...get(R.c), ...get(col), ...op.i32Add, ...set(pc)];
    for (let r = 0; r < rows; r++) {
      for (let v = 0; v < vectors; v++) code.push(...get(pc), ...op.v128Load(16 * v), ...set(acc[r]![v]!));
      if (r < rows - 1) code.push(...addTo(pc, rowBytes));
    }
    code.push(...op.else);
    for (let r = 0; r < rows; r++) for (let v = 0; v < vectors; v++) code.push(...get(zero), ...set(acc[r]![v]!));
    code.push(...op.end);
    code.push(...get(R.a), ...set(pa[0]!));
    for (let r = 1; r < rows; r++) code.push(...get(pa[r - 1]!), ...get(R.aRow), ...op.i32Add, ...set(pa[r]!));
    code.push(...get(R.b), ...get(col), ...op.i32Add, ...set(pb), ...get(R.k), ...set(kLeft));
    code.push(...op.loop);
    for (let v = 0; v < vectors; v++) code.push(...get(pb), ...op.v128Load(16 * v), ...set(bv[v]!));
    for (let r = 0; r < rows; r++) {
      code.push(...get(pa[r]!), ...op.v128Load32Splat(0), ...set(av));
      for (let v = 0; v < vectors; v++) {
        code.push(...get(acc[r]![v]!), ...get(av), ...get(bv[v]!), ...op.f32x4Mul, ...op.f32x4Add, ...set(acc[r]![v]!));
      }
      code.push(...addTo(pa[r]!, R.aCol));
    }
    code.push(...addTo(pb, rowBytes));
    code.push(...get(kLeft), ...op.i32Const(1), ...op.i32Sub, ...op.localTee(kLeft), ...op.brIf(0), ...op.end);
    code.push(...get(R.c), ...get(col), ...op.i32Add, ...set(pc));
    for (let r = 0; r < rows; r++) {
      for (let v = 0; v < vectors; v++) code.push(...get(pc), ...get(acc[r]![v]!), ...op.v128Store(16 * v));
      if (r < rows - 1) code.push(...addTo(pc, rowBytes));
    }
    return code;
  };

  const body: Bytes = [
    ...get(R.n), ...op.i32Const(4), ...op.i32Mul, ...set(rowBytes),
    ...op.i32Const(0), ...set(col),
    ...op.v128Zero, ...set(zero),
    // 8-column tiles while they fit.
    ...op.block, ...op.loop,
    ...get(col), ...op.i32Const(32), ...op.i32Add, ...get(rowBytes), ...op.i32GtS, ...op.brIf(1),
    ...tile(2),
    ...get(col), ...op.i32Const(32), ...op.i32Add, ...set(col),
    ...op.br(0), ...op.end, ...op.end,
    // Then 4-column tiles, the last one shifted to end at column N.
    ...op.block, ...op.loop,
    ...get(col), ...get(rowBytes), ...op.i32GeS, ...op.brIf(1),
    ...get(col), ...op.i32Const(16), ...op.i32Add, ...get(rowBytes), ...op.i32GtS,
    ...op.if, ...get(rowBytes), ...op.i32Const(16), ...op.i32Sub, ...set(col), ...op.end,
    ...tile(1),
    ...get(col), ...op.i32Const(16), ...op.i32Add, ...set(col),
    ...op.br(0), ...op.end, ...op.end,
  ];
  return { params: new Array<ValType>(8).fill(I32), locals: L.types, body };
}

// Parameters of the entry point, in SimdMatMul's order.
const P = { a: 0, b: 1, c: 2, batch: 3, m: 4, n: 5, k: 6, aBatch: 7, bBatch: 8, aRow: 9, aCol: 10, accumulate: 11 } as const;

/** The exported entry: loops over the batch and over row blocks; function r − 1 is rowBlock(r). */
function entry(): FuncDef {
  const L = new Locals(12);
  const rowsLeft = L.add(I32);
  const pa = L.add(I32);
  const pc = L.add(I32);
  const tileA = L.add(I32); // A bytes from one row block to the next: 4·aRow
  const tileC = L.add(I32); // C bytes per row block: 4·N·4
  const cBatch = L.add(I32);
  const callRows = (rows: number): Bytes => [...[pa, P.b, pc, P.n, P.k, P.aRow, P.aCol, P.accumulate].flatMap((x) => get(x)), ...op.call(rows - 1)];
  const rowsIs = (rows: number): Bytes => [...get(rowsLeft), ...op.i32Const(rows), ...op.i32Eq];
  const body: Bytes = [
    ...get(P.aRow), ...op.i32Const(TILE_ROWS), ...op.i32Mul, ...set(tileA),
    ...get(P.n), ...op.i32Const(4 * TILE_ROWS), ...op.i32Mul, ...set(tileC),
    ...get(P.m), ...get(P.n), ...op.i32Mul, ...op.i32Const(4), ...op.i32Mul, ...set(cBatch),
    ...op.block, ...op.loop,
    ...get(P.batch), ...op.i32Const(1), ...op.i32LtS, ...op.brIf(1),
    ...get(P.a), ...set(pa), ...get(P.c), ...set(pc), ...get(P.m), ...set(rowsLeft),
    ...op.block, ...op.loop,
    ...get(rowsLeft), ...op.i32Const(TILE_ROWS), ...op.i32LtS, ...op.brIf(1),
    ...callRows(TILE_ROWS),
    ...addTo(pa, tileA), ...addTo(pc, tileC),
    ...get(rowsLeft), ...op.i32Const(TILE_ROWS), ...op.i32Sub, ...set(rowsLeft),
    ...op.br(0), ...op.end, ...op.end,
    ...Array.from({ length: TILE_ROWS - 1 }, (_, r) => [...rowsIs(r + 1), ...op.if, ...callRows(r + 1), ...op.end]).flat(),
    ...addTo(P.a, P.aBatch), ...addTo(P.b, P.bBatch), ...addTo(P.c, cBatch),
    ...get(P.batch), ...op.i32Const(1), ...op.i32Sub, ...set(P.batch),
    ...op.br(0), ...op.end, ...op.end,
  ];
  return { params: new Array<ValType>(12).fill(I32), locals: L.types, body, exportAs: 'matmul' };
}

/** The module's bytes, importing a shared or an unshared memory. */
export function simdMatMulModule(shared: boolean): Uint8Array<ArrayBuffer> {
  const funcs: FuncDef[] = [];
  for (let rows = 1; rows <= TILE_ROWS; rows++) funcs.push(rowBlock(rows));
  funcs.push(entry());
  return encodeModule(funcs, { shared });
}

/**
 * The kernel working on `memory` (where the operands live), or undefined where this engine has
 * no wasm SIMD (then callers use something else).
 */
export function instantiateSimdMatMul(memory: WebAssembly.Memory): SimdMatMul | undefined {
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  const bytes = simdMatMulModule(shared);
  if (!WebAssembly.validate(bytes)) return undefined;
  // Synchronous compilation: kernels run synchronously. Browsers allow it on the main thread
  // for modules up to 4 KB, which this one stays under (checked by its test).
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  return instance.exports['matmul'] as SimdMatMul;
}
