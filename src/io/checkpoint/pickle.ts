/**
 * A deliberately small pickle reader for PyTorch state dicts.
 *
 * Python's own unpickler imports and calls whatever the file names, so a `.pth` from an untrusted
 * source can run arbitrary code. This one never runs anything: it knows only the opcodes that a
 * state dict (dicts, tuples, lists, numbers, strings, tensors) is written with, and a global is
 * only ever looked up in a table the caller passes in. Anything else stops the read with a
 * PickleError before any later byte is looked at.
 */

/** A read that cannot go on; callers turn it into a CheckpointError that names the file. */
export class PickleError extends Error {
  override name = 'PickleError';
}

/** A Python tuple (kept distinct from a list so that callers can tell them apart). */
export class PyTuple {
  constructor(readonly items: unknown[]) {}
}

export type PyKey = string | number | bigint | boolean | null;

/** A Python dict or collections.OrderedDict; insertion order is kept either way. */
export class PyDict {
  readonly map = new Map<PyKey, unknown>();
  /** What BUILD set on it (an OrderedDict's __dict__, e.g. a state dict's `_metadata`). */
  state: unknown = undefined;
  constructor(readonly ordered: boolean) {}
}

/**
 * A global from the allow-list: a callable (REDUCE calls `call`, which is our own TypeScript,
 * never the named Python function) or a plain marker such as a storage type.
 */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly call?: (args: unknown[]) => unknown,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

export interface UnpickleOptions {
  /** Globals the file may name, keyed by `module.name`. Any other global refuses the file. */
  globals: ReadonlyMap<string, PyGlobal>;
  /** Resolves a BINPERSID id (torch uses these for tensor storages). */
  persistentLoad?: (pid: unknown) => unknown;
}

export interface UnpickleResult {
  value: unknown;
  /** Offset just past the STOP opcode (the legacy torch format puts more pickles after it). */
  end: number;
}

const MARK = Symbol('mark');

/** An owned copy (Buffer#slice would share memory with the file). */
function copyBytes(b: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(b);
}

/** Pickle protocols 2 to 5 as written by Python's C pickler (torch.save uses protocol 2). */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions, start = 0): UnpickleResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let pos = start;

  const need = (n: number): void => {
    if (n < 0 || pos + n > bytes.length) throw new PickleError(`the pickle ends early (byte ${pos} of ${bytes.length}); the file may be truncated`);
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(bytes.length)) throw new PickleError(`a length of ${v} bytes in the pickle exceeds the file`);
    return Number(v);
  };
  const take = (n: number): Uint8Array => {
    need(n);
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const text = (n: number): string => {
    const b = take(n);
    try {
      return utf8.decode(b);
    } catch (err) {
      throw new PickleError(`a string in the pickle is not valid UTF-8 (byte ${pos})`, { cause: err });
    }
  };
  // Python 2 `str` (SHORT_BINSTRING/BINSTRING): bytes; torch reads them as ASCII.
  const latin1 = (n: number): string => {
    const b = take(n);
    let s = '';
    for (const c of b) s += String.fromCharCode(c);
    return s;
  };
  const line = (): string => {
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) throw new PickleError('the pickle ends inside a GLOBAL name; the file may be truncated');
    const s = latin1(nl - pos);
    pos++;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0) throw new PickleError('malformed pickle: pop from an empty stack');
    const v = stack.pop();
    if (v === MARK) throw new PickleError('malformed pickle: unexpected MARK');
    return v;
  };
  const top = (): unknown => {
    const v = stack[stack.length - 1];
    if (stack.length === 0 || v === MARK) throw new PickleError('malformed pickle: empty stack');
    return v;
  };
  const popMark = (): unknown[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) throw new PickleError('malformed pickle: no MARK');
    const items = stack.splice(i);
    items.shift();
    return items;
  };
  const memoGet = (i: number): unknown => {
    if (!memo.has(i)) throw new PickleError(`malformed pickle: memo entry ${i} was never stored`);
    return memo.get(i);
  };
  const findGlobal = (module: string, name: string): PyGlobal => {
    const g = options.globals.get(`${module}.${name}`);
    if (!g) {
      throw new PickleError(
        `refuses to load: the file asks to run ${module}.${name}, which a state dict never needs ` +
          `(save the weights alone with torch.save(model.state_dict(), path))`,
      );
    }
    return g;
  };
  const asDict = (v: unknown, op: string): PyDict => {
    if (!(v instanceof PyDict)) throw new PickleError(`malformed pickle: ${op} on something that is not a dict`);
    return v;
  };
  const asList = (v: unknown, op: string): unknown[] => {
    if (!Array.isArray(v)) throw new PickleError(`malformed pickle: ${op} on something that is not a list`);
    return v;
  };
  const setItem = (d: PyDict, k: unknown, v: unknown): void => {
    if (!(k === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof k))) {
      throw new PickleError('unsupported dict key type (a state dict is keyed by names)');
    }
    d.map.set(k as PyKey, v);
  };
  const int = (v: bigint): number | bigint => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
  const long = (n: number): number | bigint => {
    // Little-endian two's complement of n bytes. Sizes and int64 values need at most 9; the cap
    // keeps a hostile length from costing quadratic BigInt work.
    if (n > 32) throw new PickleError(`an integer of ${n} bytes is larger than any a state dict holds`);
    const b = take(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (n > 0 && b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
    return int(v);
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const p = u8();
        if (p > 5) throw new PickleError(`pickle protocol ${p} is newer than any this reader knows (2 to 5)`);
        break;
      }
      case 0x95: // FRAME: a length hint only
        need(8);
        pos += 8;
        break;
      case 0x2e: // STOP
        return { value: pop(), end: pos };
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x30: // POP
        if (stack.length === 0) throw new PickleError('malformed pickle: POP on an empty stack');
        stack.pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4a: // BININT
        need(4);
        stack.push(view.getInt32(pos, true));
        pos += 4;
        break;
      case 0x8a: // LONG1
        stack.push(long(u8()));
        break;
      case 0x8b: { // LONG4
        need(4);
        const n = view.getInt32(pos, true);
        pos += 4;
        if (n < 0) throw new PickleError('malformed pickle: negative LONG4 length');
        stack.push(long(n));
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x55: // SHORT_BINSTRING (Python 2 str)
        stack.push(latin1(u8()));
        break;
      case 0x54: { // BINSTRING (Python 2 str)
        need(4);
        const n = view.getInt32(pos, true);
        pos += 4;
        if (n < 0) throw new PickleError('malformed pickle: negative BINSTRING length');
        stack.push(latin1(n));
        break;
      }
      case 0x43: // SHORT_BINBYTES
        stack.push(copyBytes(take(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(copyBytes(take(u32())));
        break;
      case 0x8e: // BINBYTES8
        stack.push(copyBytes(take(u64())));
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x85: // TUPLE1
        stack.push(new PyTuple([pop()]));
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b, c]));
        break;
      }
      case 0x74: // TUPLE
        stack.push(new PyTuple(popMark()));
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: { // APPEND
        const v = pop();
        asList(top(), 'APPEND').push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const list = asList(top(), 'APPENDS');
        for (const item of items) list.push(item);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict(false));
        break;
      case 0x64: { // DICT
        const items = popMark();
        const d = new PyDict(false);
        for (let i = 0; i + 1 < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        stack.push(d);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        setItem(asDict(top(), 'SETITEM'), k, v);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        if (items.length % 2 !== 0) throw new PickleError('malformed pickle: SETITEMS with an odd number of items');
        const d = asDict(top(), 'SETITEMS');
        for (let i = 0; i < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        stack.push(findGlobal(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new PickleError('malformed pickle: STACK_GLOBAL needs two strings');
        stack.push(findGlobal(module, name));
        break;
      }
      case 0x52: { // REDUCE: callable(*args), with our own implementation of the callable
        const args = pop();
        const fn = pop();
        if (!(fn instanceof PyGlobal) || !fn.call) {
          throw new PickleError(`malformed pickle: REDUCE on ${fn instanceof PyGlobal ? fn.qualifiedName : 'something'} that cannot be called`);
        }
        if (!(args instanceof PyTuple)) throw new PickleError('malformed pickle: REDUCE arguments are not a tuple');
        stack.push(fn.call(args.items));
        break;
      }
      case 0x62: { // BUILD: only as OrderedDict.__setstate__ (a state dict's _metadata); kept, not applied
        const state = pop();
        const obj = top();
        if (!(obj instanceof PyDict)) throw new PickleError('refuses to load: BUILD on an object other than a dict, which a state dict never needs');
        obj.state = state;
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) throw new PickleError('malformed pickle: a persistent id where none is expected');
        stack.push(options.persistentLoad(pid));
        break;
      }
      default:
        throw new PickleError(
          `refuses to load: pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at} is not one a state dict is written with`,
        );
    }
  }
}
