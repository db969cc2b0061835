import type { StateDict } from '../../model/params.js';
import { HOST_LITTLE_ENDIAN } from '../../util/endian.js';
import { writeStoredZip } from './zip.js';

/**
 * Writes a state dict as torch.save would (zip format, pickle protocol 2): an OrderedDict of
 * name → tensor, each tensor `torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False,
 * OrderedDict())` with its storage a persistent id ('storage', torch.FloatStorage|LongStorage,
 * key, 'cpu', numel) whose bytes are the entry `archive/data/<key>`. Only globals that
 * `torch.load(weights_only=True)` allows are used, so the file loads under torch's safe mode too.
 * The `_metadata` attribute torch attaches to state dicts is left out: load_state_dict treats a
 * missing one as "current version" for every module.
 */

const ARCHIVE = 'archive';
/** torch's serialization format version record ("3\n" since torch 1.6). */
const FORMAT_VERSION = '3\n';

class Pickler {
  private readonly chunks: number[] = [];
  private readonly memo = new Map<string, number>();

  bytes(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }

  op(...codes: number[]): void {
    for (const c of codes) this.chunks.push(c);
  }

  raw(b: Uint8Array): void {
    for (const c of b) this.chunks.push(c);
  }

  u32(v: number): void {
    this.op(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }

  /** GLOBAL the first time, BINGET after, as Python's pickler does. */
  global(module: string, name: string): void {
    const key = `${module}\n${name}\n`;
    const slot = this.memo.get(key);
    if (slot !== undefined) return this.get(slot);
    this.op(0x63);
    this.raw(new TextEncoder().encode(key));
    this.put(key);
  }

  private put(key: string): void {
    const slot = this.memo.size;
    this.memo.set(key, slot);
    if (slot < 256) this.op(0x71, slot); // BINPUT
    else {
      this.op(0x72); // LONG_BINPUT
      this.u32(slot);
    }
  }

  private get(slot: number): void {
    if (slot < 256) this.op(0x68, slot); // BINGET
    else {
      this.op(0x6a); // LONG_BINGET
      this.u32(slot);
    }
  }

  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.op(0x58); // BINUNICODE
    this.u32(b.length);
    this.raw(b);
  }

  int(v: number): void {
    if (!Number.isInteger(v) || v < 0) throw new Error(`internal: cannot pickle ${v} as a size`);
    if (v < 0x100) this.op(0x4b, v); // BININT1
    else if (v < 0x10000) this.op(0x4d, v & 0xff, v >>> 8); // BININT2
    else if (v < 0x80000000) {
      this.op(0x4a); // BININT
      this.u32(v);
    } else {
      // LONG1: little-endian two's complement, with a sign byte to spare.
      const bytes: number[] = [];
      let x = BigInt(v);
      while (x > 0n) {
        bytes.push(Number(x & 0xffn));
        x >>= 8n;
      }
      if (bytes[bytes.length - 1]! & 0x80) bytes.push(0);
      this.op(0x8a, bytes.length, ...bytes);
    }
  }

  intTuple(items: readonly number[]): void {
    if (items.length === 0) return this.op(0x29); // EMPTY_TUPLE
    if (items.length > 3) this.op(0x28); // MARK
    items.forEach((v) => this.int(v));
    this.op(items.length === 1 ? 0x85 : items.length === 2 ? 0x86 : items.length === 3 ? 0x87 : 0x74);
  }
}

function rowMajorStrides(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= shape[i]!;
  }
  return out;
}

/** The bytes of a torch zip checkpoint holding `sd` (in its iteration order). */
export function encodePth(sd: StateDict): Uint8Array {
  const p = new Pickler();
  p.op(0x80, 2); // PROTO 2
  p.global('collections', 'OrderedDict');
  p.op(0x29, 0x52); // EMPTY_TUPLE, REDUCE
  const storages: { name: string; data: Uint8Array }[] = [];
  const names = [...sd.keys()];
  // SETITEMS in batches of 1000, as Python's pickler writes them.
  for (let start = 0; start < names.length; start += 1000) {
    p.op(0x28); // MARK
    for (const name of names.slice(start, start + 1000)) {
      const t = sd.get(name)!;
      const numel = t.shape.reduce((a, b) => a * b, 1);
      if (t.data.length !== numel) throw new Error(`internal: tensor '${name}' holds ${t.data.length} values for its shape`);
      const key = String(storages.length);
      storages.push({ name: `${ARCHIVE}/data/${key}`, data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) });
      p.str(name);
      p.global('torch._utils', '_rebuild_tensor_v2');
      p.op(0x28); // MARK: the argument tuple
      p.op(0x28); // MARK: the persistent id tuple
      p.str('storage');
      p.global('torch', t.dtype === 'int64' ? 'LongStorage' : 'FloatStorage');
      p.str(key);
      p.str('cpu');
      p.int(numel);
      p.op(0x74, 0x51); // TUPLE, BINPERSID
      p.int(0); // storage offset
      p.intTuple(t.shape);
      p.intTuple(rowMajorStrides(t.shape));
      p.op(0x89); // requires_grad False
      p.global('collections', 'OrderedDict');
      p.op(0x29, 0x52); // backward_hooks = OrderedDict()
      p.op(0x74, 0x52); // TUPLE, REDUCE
    }
    p.op(0x75); // SETITEMS
  }
  p.op(0x2e); // STOP
  const enc = new TextEncoder();
  return writeStoredZip([
    { name: `${ARCHIVE}/data.pkl`, data: p.bytes() },
    // Storages are written in this machine's byte order; the record tells torch which that is.
    { name: `${ARCHIVE}/byteorder`, data: enc.encode(HOST_LITTLE_ENDIAN ? 'little' : 'big') },
    ...storages,
    { name: `${ARCHIVE}/version`, data: enc.encode(FORMAT_VERSION) },
  ]);
}
