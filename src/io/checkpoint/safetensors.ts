import type { StateDict, StateTensor } from '../../model/params.js';

/**
 * safetensors: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
 * shape and byte range, then the raw little-endian data. Chosen as our checkpoint format because
 * PyTorch, NumPy, Rust and JS tools read it without executing anything (unlike pickle), and it is
 * simple enough to write here in a few dozen lines rather than pull in a dependency.
 */

const DTYPE_TAGS = { float32: 'F32', int64: 'I64' } as const;

export interface SafetensorsFile {
  tensors: StateDict;
  metadata: Record<string, string>;
}

export function encodeSafetensors(tensors: StateDict, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  let offset = 0;
  const names = [...tensors.keys()].sort();
  for (const name of names) {
    const t = tensors.get(name)!;
    const bytes = t.data.byteLength;
    header[name] = { dtype: DTYPE_TAGS[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Pad with spaces so the data starts 8-byte aligned, as the format recommends.
  const headerBytes = new Uint8Array(json.length + ((8 - ((8 + json.length) % 8)) % 8)).fill(0x20);
  headerBytes.set(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const name of names) {
    const t = tensors.get(name)!;
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/** Parses a safetensors file; throws Error with a short reason (callers add the file name). */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.length < 8) throw new Error('file too short for safetensors');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength <= 0 || 8 + headerLength > bytes.length) throw new Error('bad safetensors header length');
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  } catch (err) {
    throw new Error('safetensors header is not valid JSON', { cause: err });
  }
  const base = 8 + headerLength;
  const tensors: StateDict = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: range } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const begin = base + range[0];
    const end = base + range[1];
    if (!(range[0] >= 0 && end <= bytes.length && begin <= end)) throw new Error(`tensor '${name}' lies outside the file`);
    const count = shape.reduce((a, b) => a * b, 1);
    // Copy into a fresh buffer: the source may be unaligned for typed-array views (and a Node
    // Buffer's slice is a view into a shared pool).
    const raw = new Uint8Array(bytes.subarray(begin, end));
    let tensor: StateTensor;
    if (dtype === 'F32' && raw.byteLength === count * 4) {
      tensor = { shape, dtype: 'float32', data: new Float32Array(raw.buffer) };
    } else if (dtype === 'I64' && raw.byteLength === count * 8) {
      tensor = { shape, dtype: 'int64', data: new BigInt64Array(raw.buffer) };
    } else {
      throw new Error(`tensor '${name}' has unsupported dtype ${dtype} or a size that does not match its shape`);
    }
    tensors.set(name, tensor);
  }
  return { tensors, metadata };
}
