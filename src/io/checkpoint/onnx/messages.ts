import { ProtoWriter } from './protobuf.js';

/**
 * The ONNX messages an exported network needs (onnx.proto, proto2) and their encoding. Field
 * numbers are those of the ONNX specification; only the fields used here are modelled.
 */

/** TensorProto.DataType values. */
export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;

/** ir_version 8 is the one that goes with opset 17 (ONNX 1.12). */
export const IR_VERSION = 8;

export interface TensorMessage {
  name: string;
  dims: readonly number[];
  data: Float32Array | BigInt64Array;
}

export type AttributeValue =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'string'; value: string };

export interface NodeMessage {
  name: string;
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes: ReadonlyMap<string, AttributeValue>;
}

export interface ValueInfoMessage {
  name: string;
  elemType: number;
  /** Fixed sizes of every axis. */
  shape: readonly number[];
}

export interface GraphMessage {
  name: string;
  nodes: readonly NodeMessage[];
  initializers: readonly TensorMessage[];
  inputs: readonly ValueInfoMessage[];
  outputs: readonly ValueInfoMessage[];
}

export interface ModelMessage {
  producerName: string;
  producerVersion: string;
  docString: string;
  opsetVersion: number;
  graph: GraphMessage;
  metadata: ReadonlyMap<string, string>;
}

/** AttributeProto.AttributeType values. */
const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, ints: 7 } as const;

function tensor(t: TensorMessage): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.varint(1, d);
  w.varint(2, t.data instanceof Float32Array ? ONNX_FLOAT : ONNX_INT64);
  w.string(8, t.name);
  // raw_data is little-endian, as typed arrays are on every platform Node supports.
  w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return w;
}

function attribute(name: string, a: AttributeValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  switch (a.kind) {
    case 'float':
      w.float(2, a.value);
      break;
    case 'int':
      w.varint(3, a.value);
      break;
    case 'string':
      w.string(4, a.value);
      break;
    case 'ints':
      for (const v of a.value) w.varint(8, v);
      break;
  }
  return w.varint(20, ATTRIBUTE_TYPE[a.kind]);
}

function node(n: NodeMessage): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name).string(4, n.opType);
  for (const [name, a] of n.attributes) w.message(5, attribute(name, a));
  return w;
}

function valueInfo(v: ValueInfoMessage): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) shape.message(1, new ProtoWriter().varint(1, d));
  const tensorType = new ProtoWriter().varint(1, v.elemType).message(2, shape);
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}

function graph(g: GraphMessage): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, node(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, tensor(t));
  for (const v of g.inputs) w.message(11, valueInfo(v));
  for (const v of g.outputs) w.message(12, valueInfo(v));
  return w;
}

/** A serialised ModelProto: the bytes of an .onnx file. */
export function encodeModel(m: ModelMessage): Uint8Array {
  const w = new ProtoWriter()
    .varint(1, IR_VERSION)
    .string(2, m.producerName)
    .string(3, m.producerVersion)
    .string(6, m.docString)
    .message(7, graph(m.graph))
    .message(8, new ProtoWriter().string(1, '').varint(2, m.opsetVersion));
  for (const [key, value] of m.metadata) w.message(14, new ProtoWriter().string(1, key).string(2, value));
  return w.finish();
}
