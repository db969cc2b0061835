import { CheckpointError } from '../../errors.js';
import { HOST_LITTLE_ENDIAN } from '../../util/endian.js';
import type { StateDict, StateTensor } from '../../model/params.js';
import { PickleError, PyDict, PyGlobal, PyTuple, unpickle } from './pickle.js';
import { isZip, ZipError, ZipReader } from './zip.js';

/**
 * Reads PyTorch `torch.save` files holding a state dict, without Python and without running
 * anything the file names (see pickle.ts). Two layouts exist:
 * - zip (torch ≥ 1.6, the default): `<name>/data.pkl` is the pickle; each tensor storage is the
 *   raw entry `<name>/data/<key>`; torch ≥ 2 adds `<name>/byteorder`.
 * - legacy (`_use_new_zipfile_serialization=False`, and every file before torch 1.6): pickles of
 *   a magic number, the protocol version and a sys-info dict, then the object pickle, then the
 *   sorted list of storage keys, then each storage as an int64 element count and its
 *   little-endian bytes, in that key order.
 * Accepted content: a dict of tensors, or a dict whose 'state_dict', 'model_state_dict' or
 * 'model' entry is one (training scripts often wrap the weights with epoch or optimiser state);
 * a DataParallel `module.` prefix on every name is removed.
 */

export type PthFormat = 'zip' | 'legacy';

export interface PthCheckpoint {
  tensors: StateDict;
  format: PthFormat;
  /** Where the tensors were: the top-level dict, or the named entry of it. */
  container: 'top level' | 'state_dict' | 'model_state_dict' | 'model';
  /** Whether every name had a DataParallel `module.` prefix, now removed. */
  strippedModulePrefix: boolean;
}

/** Entries of a wrapping dict that may hold the state dict, in the order they are tried. */
export const STATE_DICT_ENTRIES = ['state_dict', 'model_state_dict', 'model'] as const;

/** `--model` values read as PyTorch checkpoints. */
export function isPthPath(p: string): boolean {
  return /\.(pth|pt)$/i.test(p);
}

/** A reason the file cannot be used; decodePth adds the file name. */
class PthError extends Error {}

interface StorageKind {
  /** Element size in bytes. */
  size: number;
  /** How the elements become a StateTensor; null: a type an SRDTrans checkpoint never holds. */
  decode: 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | null;
  label: string;
}

// Storage classes are only markers inside persistent ids: allow-listing them lets a foreign
// dtype be reported by tensor name instead of as a refused global.
const STORAGE_KINDS: Record<string, StorageKind> = {
  FloatStorage: { size: 4, decode: 'float32', label: 'float32' },
  DoubleStorage: { size: 8, decode: 'float64', label: 'float64' },
  HalfStorage: { size: 2, decode: 'float16', label: 'float16' },
  BFloat16Storage: { size: 2, decode: 'bfloat16', label: 'bfloat16' },
  LongStorage: { size: 8, decode: 'int64', label: 'int64' },
  IntStorage: { size: 4, decode: null, label: 'int32' },
  ShortStorage: { size: 2, decode: null, label: 'int16' },
  CharStorage: { size: 1, decode: null, label: 'int8' },
  ByteStorage: { size: 1, decode: null, label: 'uint8' },
  BoolStorage: { size: 1, decode: null, label: 'bool' },
};

interface StorageRef {
  kind: StorageKind;
  key: string;
  /** Elements in the storage, as the persistent id says. */
  numel: number;
  /** Legacy storage views: where the view starts in its root storage, in elements. */
  viewOffset: number;
}

class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function intTuple(v: unknown, what: string): number[] {
  if (!(v instanceof PyTuple) || !v.items.every(isInt)) throw new PthError(`malformed tensor record: ${what} is not a tuple of sizes`);
  return v.items as number[];
}

function rebuildTensor(args: unknown[]): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StoragePlaceholder)) throw new PthError('malformed tensor record: no storage');
  if (!isInt(offset)) throw new PthError('malformed tensor record: bad storage offset');
  const sz = intTuple(size, 'size');
  const st = intTuple(stride, 'stride');
  if (sz.length !== st.length) throw new PthError('malformed tensor record: size and stride differ in length');
  return new TensorRef(storage.ref, offset, sz, st);
}

/** What BINPERSID yields; wrapped so a pickle cannot forge one out of plain values. */
class StoragePlaceholder {
  constructor(readonly ref: StorageRef) {}
}

function makeGlobals(): Map<string, PyGlobal> {
  const g = new Map<string, PyGlobal>();
  const add = (module: string, name: string, call?: (args: unknown[]) => unknown): void => {
    g.set(`${module}.${name}`, new PyGlobal(module, name, call));
  };
  add('collections', 'OrderedDict', (args) => {
    const d = new PyDict(true);
    const init = args[0];
    if (args.length > 1) throw new PthError('malformed pickle: OrderedDict with more than one argument');
    if (init !== undefined) {
      if (!Array.isArray(init)) throw new PthError('malformed pickle: OrderedDict from something other than a list of pairs');
      for (const pair of init) {
        if (!(pair instanceof PyTuple) || pair.items.length !== 2 || typeof pair.items[0] !== 'string') {
          throw new PthError('malformed pickle: OrderedDict from something other than a list of pairs');
        }
        d.map.set(pair.items[0], pair.items[1]);
      }
    }
    return d;
  });
  // (storage, offset, size, stride, requires_grad, backward_hooks[, metadata]); hooks and
  // metadata only matter to autograd.
  add('torch._utils', '_rebuild_tensor_v2', (args) => rebuildTensor(args));
  add('torch._utils', '_rebuild_tensor', (args) => rebuildTensor(args));
  // nn.Parameter(data, requires_grad, hooks[, state]): the data is all a state dict needs.
  const parameter = (args: unknown[]): unknown => {
    if (!(args[0] instanceof TensorRef)) throw new PthError('malformed pickle: a parameter without tensor data');
    return args[0];
  };
  add('torch._utils', '_rebuild_parameter', parameter);
  add('torch._utils', '_rebuild_parameter_with_state', parameter);
  for (const name of Object.keys(STORAGE_KINDS)) add('torch', name);
  return g;
}

const GLOBALS = makeGlobals();

/** Legacy persistent ids carry a 6th item (view metadata); zip ones stop at numel. */
function persistentLoad(pid: unknown): StoragePlaceholder {
  if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage' || pid.items.length < 5) {
    throw new PthError('unsupported persistent id (only tensor storages are expected)');
  }
  const [, type, key, , numel, view] = pid.items;
  const name = type instanceof PyGlobal && type.module === 'torch' ? type.name : undefined;
  const kind = name !== undefined ? STORAGE_KINDS[name] : undefined;
  if (!kind) throw new PthError('malformed storage record: unknown storage type');
  if (typeof key !== 'string' || !isInt(numel)) throw new PthError('malformed storage record');
  let viewOffset = 0;
  if (view !== undefined && view !== null) {
    if (!(view instanceof PyTuple) || !isInt(view.items[1])) throw new PthError('malformed storage view record');
    viewOffset = view.items[1];
  }
  return new StoragePlaceholder({ kind, key, numel, viewOffset });
}

const MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

/** Parses a torch.save file; `source` (the file name) starts every error message. */
export function decodePth(bytes: Uint8Array, source = 'checkpoint'): PthCheckpoint {
  try {
    return isZip(bytes) ? decodeZip(bytes) : decodeLegacy(bytes);
  } catch (err) {
    if (err instanceof PickleError || err instanceof PthError) throw new CheckpointError(`${source}: ${err.message}`, { cause: err });
    if (err instanceof ZipError) throw new CheckpointError(`${source}: not a readable PyTorch checkpoint (${err.message})`, { cause: err });
    throw err;
  }
}

function decodeZip(bytes: Uint8Array): PthCheckpoint {
  const zip = new ZipReader(bytes);
  // torch names the top folder after the file (torch 1.x) or 'archive' (2.x); take whichever is there.
  // TorchScript archives have a data.pkl too, but one that rebuilds scripted modules.
  if (zip.entries.some((e) => /^[^/]+\/(constants\.pkl|code\/)/.test(e.name))) {
    throw new PthError('is a TorchScript archive (torch.jit.save), not a state dict; save model.state_dict() with torch.save');
  }
  const pkl = zip.entries.find((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (!pkl) throw new PthError('is a zip archive without data.pkl, so not a torch.save checkpoint');
  const prefix = pkl.name.slice(0, -'data.pkl'.length);
  const order = zip.get(`${prefix}byteorder`);
  let little = true;
  if (order) {
    const text = new TextDecoder().decode(zip.read(order)).trim();
    if (text !== 'little' && text !== 'big') throw new PthError(`unknown byte order '${text}'`);
    little = text === 'little';
  }
  const { value } = unpickle(zip.read(pkl), { globals: GLOBALS, persistentLoad });
  const storages = new Map<string, Uint8Array>();
  const storageBytes = (ref: StorageRef): Uint8Array => {
    let b = storages.get(ref.key);
    if (!b) {
      const entry = zip.get(`${prefix}data/${ref.key}`);
      if (!entry) throw new PthError(`storage ${ref.key} is missing from the archive; the file is damaged`);
      b = zip.read(entry);
      storages.set(ref.key, b);
    }
    return b;
  };
  return finish(value, 'zip', storageBytes, little);
}

function decodeLegacy(bytes: Uint8Array): PthCheckpoint {
  if (bytes.length >= 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === 'ustar') {
    throw new PthError('is a tar-format checkpoint from PyTorch < 0.4, which is not supported; re-save it with a current torch');
  }
  if (bytes.length < 2 || bytes[0] !== 0x80) {
    throw new PthError('not a PyTorch checkpoint (neither a zip archive nor a pickle); the file may be truncated or of another kind');
  }
  // The header pickles hold only numbers and a dict of numbers: no globals allowed at all.
  const plain = { globals: new Map<string, PyGlobal>() };
  const magic = unpickle(bytes, plain, 0);
  if (magic.value !== MAGIC && magic.value !== Number(MAGIC)) {
    throw new PthError('is a pickle but not a torch.save checkpoint (no PyTorch magic number)');
  }
  const proto = unpickle(bytes, plain, magic.end);
  if (proto.value !== LEGACY_PROTOCOL) throw new PthError(`legacy checkpoint protocol ${String(proto.value)} is not supported (expected ${LEGACY_PROTOCOL})`);
  const sysInfo = unpickle(bytes, plain, proto.end);
  const refs = new Map<string, StorageRef>();
  const obj = unpickle(bytes, {
    globals: GLOBALS,
    persistentLoad: (pid) => {
      const p = persistentLoad(pid);
      if (!refs.has(p.ref.key)) refs.set(p.ref.key, p.ref);
      return p;
    },
  }, sysInfo.end);
  const keys = unpickle(bytes, plain, obj.end);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) {
    throw new PthError('malformed legacy checkpoint: storage key list missing');
  }
  // Storages follow back to back: int64 element count, then the elements (always little-endian:
  // torch converts when it writes this format).
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const storages = new Map<string, Uint8Array>();
  let pos = keys.end;
  for (const key of keys.value as string[]) {
    const ref = refs.get(key);
    if (!ref) throw new PthError(`malformed legacy checkpoint: storage ${key} is not used by any tensor`);
    if (pos + 8 > bytes.length) throw new PthError(`storage ${key} is missing; the file is truncated`);
    const numel = view.getBigInt64(pos, true);
    const n = Number(numel) * ref.kind.size;
    if (numel < 0n || pos + 8 + n > bytes.length) throw new PthError(`storage ${key} runs past the end of the file; the file is truncated`);
    storages.set(key, bytes.subarray(pos + 8, pos + 8 + n));
    pos += 8 + n;
  }
  const storageBytes = (ref: StorageRef): Uint8Array => {
    const b = storages.get(ref.key);
    if (!b) throw new PthError(`storage ${ref.key} is missing from the file`);
    return b;
  };
  return finish(obj.value, 'legacy', storageBytes, true);
}

function describe(v: unknown): string {
  if (v instanceof PyDict) return 'a dict';
  if (v instanceof PyTuple) return 'a tuple';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof TensorRef) return 'a single tensor';
  return v === null ? 'None' : `a ${typeof v}`;
}

function isTensorDict(v: unknown): v is PyDict {
  return v instanceof PyDict && v.map.size > 0 && [...v.map].every(([k, t]) => typeof k === 'string' && t instanceof TensorRef);
}

function finish(root: unknown, format: PthFormat, storageBytes: (ref: StorageRef) => Uint8Array, little: boolean): PthCheckpoint {
  let dict: PyDict | undefined;
  let container: PthCheckpoint['container'] = 'top level';
  if (isTensorDict(root)) {
    dict = root;
  } else if (root instanceof PyDict) {
    for (const entry of STATE_DICT_ENTRIES) {
      const inner = root.map.get(entry);
      if (isTensorDict(inner)) {
        dict = inner;
        container = entry;
        break;
      }
    }
  }
  if (!dict) {
    const keys = root instanceof PyDict ? ` with entries ${[...root.map.keys()].slice(0, 8).map((k) => `'${String(k)}'`).join(', ')}` : '';
    throw new PthError(
      `holds ${describe(root)}${keys}, not a state dict; expected a dict of tensors, or a dict with a ` +
        `${STATE_DICT_ENTRIES.slice(0, -1).map((e) => `'${e}'`).join(', ')} or '${STATE_DICT_ENTRIES[STATE_DICT_ENTRIES.length - 1]}' entry holding one`,
    );
  }
  const names = [...dict.map.keys()] as string[];
  const strip = names.every((n) => n.startsWith('module.'));
  const decoded = new Map<string, Float32Array | BigInt64Array>();
  const tensors: StateDict = new Map();
  for (const [key, value] of dict.map) {
    const name = strip ? (key as string).slice('module.'.length) : (key as string);
    if (tensors.has(name)) throw new PthError(`tensor '${name}' appears twice`);
    tensors.set(name, materialize(name, value as TensorRef, storageBytes, little, decoded));
  }
  return { tensors, format, container, strippedModulePrefix: strip };
}

/** Decodes a whole storage once (several tensors may share it), as float32 or int64. */
function decodeStorage(ref: StorageRef, raw: Uint8Array, little: boolean): Float32Array | BigInt64Array {
  const { kind } = ref;
  const n = Math.floor(raw.length / kind.size);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  // A real copy: `raw` is often a Node Buffer, whose slice() would share the (unaligned) file bytes.
  const copy = (nbytes: number): ArrayBuffer => Uint8Array.prototype.slice.call(raw, 0, nbytes).buffer;
  switch (kind.decode) {
    case 'float32': {
      if (little === HOST_LITTLE_ENDIAN) return new Float32Array(copy(n * 4));
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, little);
      return out;
    }
    case 'float64': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, little);
      return out;
    }
    case 'float16': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, little));
      return out;
    }
    case 'bfloat16': {
      // bfloat16 is the top half of a float32.
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(i * 2, little) << 16;
      return out;
    }
    case 'int64': {
      if (little === HOST_LITTLE_ENDIAN) return new BigInt64Array(copy(n * 8));
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getBigInt64(i * 8, little);
      return out;
    }
    default:
      throw new Error('unreachable');
  }
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function materialize(
  name: string,
  t: TensorRef,
  storageBytes: (ref: StorageRef) => Uint8Array,
  little: boolean,
  decoded: Map<string, Float32Array | BigInt64Array>,
): StateTensor {
  const { kind } = t.storage;
  if (!kind.decode) throw new PthError(`tensor '${name}' is ${kind.label}; only float and int64 tensors are supported`);
  let all = decoded.get(t.storage.key);
  if (!all) {
    const raw = storageBytes(t.storage);
    if (raw.length < t.storage.numel * kind.size) {
      throw new PthError(`storage of tensor '${name}' holds ${raw.length} bytes, ${t.storage.numel * kind.size} expected; the file is damaged`);
    }
    all = decodeStorage(t.storage, raw, little);
    decoded.set(t.storage.key, all);
  }
  const numel = t.size.reduce((a, b) => a * b, 1);
  const base = t.storage.viewOffset + t.offset;
  let last = base;
  for (let i = 0; i < t.size.length; i++) if (t.size[i]! > 0) last += (t.size[i]! - 1) * t.stride[i]!;
  if (numel > 0 && last >= all.length) {
    throw new PthError(`tensor '${name}' (shape ${t.size.join('×')}) reaches past the end of its storage; the file is damaged`);
  }
  // A tiny file must not be able to ask for a huge tensor through zero strides (expanded views).
  if (numel > all.length) throw new PthError(`tensor '${name}' is a broadcast view larger than its storage; save a .contiguous() copy`);
  const dtype = kind.decode === 'int64' ? 'int64' : 'float32';
  // Row-major (contiguous) tensors are one slice; anything else is gathered element by element.
  let contiguous = true;
  let expect = 1;
  for (let i = t.size.length - 1; i >= 0; i--) {
    if (t.size[i] !== 1 && t.stride[i] !== expect) contiguous = false;
    expect *= t.size[i]!;
  }
  if (contiguous || numel === 0) return { shape: [...t.size], dtype, data: all.slice(base, base + numel) } as StateTensor;
  const out = all instanceof Float32Array ? new Float32Array(numel) : new BigInt64Array(numel);
  const rank = t.size.length;
  const idx = new Array<number>(rank).fill(0);
  let src = base;
  for (let o = 0; o < numel; o++) {
    out[o] = all[src]!;
    for (let ax = rank - 1; ax >= 0; ax--) {
      idx[ax]!++;
      src += t.stride[ax]!;
      if (idx[ax]! < t.size[ax]!) break;
      src -= t.stride[ax]! * t.size[ax]!;
      idx[ax] = 0;
    }
  }
  return { shape: [...t.size], dtype, data: out } as StateTensor;
}
