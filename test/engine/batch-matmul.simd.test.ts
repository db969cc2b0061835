import { test } from 'node:test';
import assert from 'node:assert/strict';
import { instantiateSimdMatMul, simdMatMulModule } from '../../src/engine/kernels/batch-matmul.simd.js';
import { sleb, uleb } from '../../src/engine/kernels/wasm-binary.js';
import { relErr, seeded } from '../support/arrays.js';

/** The generated SIMD module on its own, outside TF.js: bytes, and products on both memory kinds. */

test('LEB128 encodings', () => {
  assert.deepEqual(uleb(0), [0]);
  assert.deepEqual(uleb(127), [0x7f]);
  assert.deepEqual(uleb(128), [0x80, 0x01]);
  assert.deepEqual(uleb(65536), [0x80, 0x80, 0x04]);
  assert.deepEqual(sleb(63), [0x3f]);
  assert.deepEqual(sleb(64), [0xc0, 0x00]);
  assert.deepEqual(sleb(-1), [0x7f]);
  assert.deepEqual(sleb(-65), [0xbf, 0x7f]);
});

test('the module is valid for both memory kinds and small enough for synchronous compilation in browsers (4 KB)', () => {
  for (const shared of [false, true]) {
    const bytes = simdMatMulModule(shared);
    assert.ok(WebAssembly.validate(bytes), `shared ${shared}`);
    assert.ok(bytes.length < 4096, `${bytes.length} bytes`);
  }
});

interface Layout {
  batch: number;
  m: number;
  n: number;
  k: number;
  transposeA: boolean;
  /** A's matrices are one matrix repeated (batch stride 0). */
  broadcastA: boolean;
}

/** Runs the kernel on operands placed at odd offsets in `memory`; returns [got, reference]. */
function run(memory: WebAssembly.Memory, l: Layout): [Float32Array, Float32Array] {
  const { batch, m, n, k } = l;
  const aSize = (l.broadcastA ? 1 : batch) * m * k;
  const a = seeded([aSize], 1);
  const b = seeded([batch * k * n], 2);
  // Float offsets: not 16-byte aligned, with guard floats in between that must stay untouched.
  const aAt = 3;
  const bAt = aAt + aSize + 5;
  const cAt = bAt + b.length + 7;
  const end = cAt + batch * m * n + 9;
  const pages = Math.ceil((end * 4) / 65536) - memory.buffer.byteLength / 65536;
  if (pages > 0) memory.grow(pages);
  const heap = new Float32Array(memory.buffer);
  heap.fill(-7, 0, end);
  heap.set(a, aAt);
  heap.set(b, bAt);
  const kernel = instantiateSimdMatMul(memory)!;
  const [aRow, aCol] = l.transposeA ? [1, m] : [k, 1];
  kernel(4 * aAt, 4 * bAt, 4 * cAt, batch, m, n, k, l.broadcastA ? 0 : 4 * m * k, 4 * k * n, 4 * aRow, 4 * aCol, 0);
  const got = new Float32Array(memory.buffer).slice(0, end);
  const ref = heap.slice(0, end);
  for (let bi = 0; bi < batch; bi++) {
    const a0 = aAt + (l.broadcastA ? 0 : bi * m * k);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let kk = 0; kk < k; kk++) s += a[a0 - aAt + i * aRow + kk * aCol]! * b[bi * k * n + kk * n + j]!;
        ref[cAt + (bi * m + i) * n + j] = s;
      }
    }
  }
  return [got, ref];
}

test('products match a plain loop on unshared and shared memories; nothing outside C is written', () => {
  const memories = [new WebAssembly.Memory({ initial: 1 }), new WebAssembly.Memory({ initial: 1, maximum: 64, shared: true })];
  for (const memory of memories) {
    for (const m of [1, 2, 3, 4, 5, 9, 49]) {
      for (const n of [4, 5, 7, 8, 9, 12, 15, 49]) {
        for (const [k, transposeA, broadcastA] of [
          [1, false, false],
          [16, true, false],
          [17, false, true],
        ] as const) {
          const [got, ref] = run(memory, { batch: 3, m, n, k, transposeA, broadcastA });
          const e = relErr(got, ref);
          assert.ok(e <= 1e-6, `m ${m} n ${n} k ${k} transposeA ${transposeA} broadcastA ${broadcastA}: error ${e}`);
        }
      }
    }
  }
});

test('accumulate mode (N a multiple of 4): K cut into blocks, one call each, gives the bits of one call over all of K', () => {
  const memory = new WebAssembly.Memory({ initial: 4 });
  const kernel = instantiateSimdMatMul(memory)!;
  const heap = new Float32Array(memory.buffer);
  for (const [batch, m, n, k, transposeA] of [
    [1, 7, 12, 100, false],
    [2, 5, 8, 37, true],
    [3, 4, 4, 64, false],
  ] as const) {
    const [aRow, aCol] = transposeA ? [1, m] : [k, 1];
    const aSize = batch * m * k;
    const bAt = aSize;
    const cAt = [bAt + batch * k * n, bAt + batch * k * n + batch * m * n];
    heap.set(seeded([aSize], 5), 0);
    heap.set(seeded([batch * k * n], 6), bAt);
    const call = (c: number, k0: number, kn: number, accumulate: 0 | 1): void =>
      kernel(4 * k0 * aCol, 4 * (bAt + k0 * n), 4 * c, batch, m, n, kn, 4 * m * k, 4 * k * n, 4 * aRow, 4 * aCol, accumulate);
    call(cAt[0]!, 0, k, 0);
    heap.fill(123, cAt[1]!, cAt[1]! + batch * m * n); // overwritten by the first block, not added to
    for (const [k0, kn] of [[0, 9], [9, 1], [10, k - 10]] as const) call(cAt[1]!, k0, kn, k0 > 0 ? 1 : 0);
    const one = heap.slice(cAt[0]!, cAt[0]! + batch * m * n);
    const blocked = heap.slice(cAt[1]!, cAt[1]! + batch * m * n);
    assert.deepEqual(blocked, one, `batch ${batch} m ${m} n ${n} k ${k} transposeA ${transposeA}`);
  }
});
