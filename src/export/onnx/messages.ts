import { ProtoWriter } from '../../io/protobuf.js';

/**
 * The ONNX messages an exported network needs (onnx.proto, proto2) and their encoding; only the
 * fields used here are modelled.
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

/**
 * Field numbers of onnx.proto, for the messages and fields used here: the encoder below and the
 * BioImage wrapper, which reads an encoded model, both take them from this one table.
 */
export const FIELD = {
  model: { irVersion: 1, producerName: 2, producerVersion: 3, docString: 6, graph: 7, opsetImport: 8, metadataProps: 14 },
  opsetId: { domain: 1, version: 2 },
  stringEntry: { key: 1, value: 2 },
  graph: { node: 1, name: 2, initializer: 5, input: 11, output: 12 },
  node: { input: 1, output: 2, name: 3, opType: 4, attribute: 5 },
  attribute: { name: 1, f: 2, i: 3, s: 4, ints: 8, type: 20 },
  tensor: { dims: 1, dataType: 2, name: 8, rawData: 9 },
  valueInfo: { name: 1, type: 2 },
  type: { tensorType: 1 },
  tensorType: { elemType: 1, shape: 2 },
  shape: { dim: 1 },
  dimension: { dimValue: 1 },
} as const;

/** AttributeProto.AttributeType values. */
const ATTRIBUTE_TYPE = { float: 1, int: 2, string: 3, ints: 7 } as const;

export function encodeTensor(t: TensorMessage): ProtoWriter {
  const F = FIELD.tensor;
  const w = new ProtoWriter();
  for (const d of t.dims) w.varint(F.dims, d);
  w.varint(F.dataType, t.data instanceof Float32Array ? ONNX_FLOAT : ONNX_INT64);
  w.string(F.name, t.name);
  // raw_data is little-endian, as typed arrays are on every platform Node supports.
  w.bytes(F.rawData, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return w;
}

function attribute(name: string, a: AttributeValue): ProtoWriter {
  const F = FIELD.attribute;
  const w = new ProtoWriter().string(F.name, name);
  switch (a.kind) {
    case 'float':
      w.float(F.f, a.value);
      break;
    case 'int':
      w.varint(F.i, a.value);
      break;
    case 'string':
      w.string(F.s, a.value);
      break;
    case 'ints':
      for (const v of a.value) w.varint(F.ints, v);
      break;
  }
  return w.varint(F.type, ATTRIBUTE_TYPE[a.kind]);
}

export function encodeNode(n: NodeMessage): ProtoWriter {
  const F = FIELD.node;
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(F.input, i);
  for (const o of n.outputs) w.string(F.output, o);
  w.string(F.name, n.name).string(F.opType, n.opType);
  for (const [name, a] of n.attributes) w.message(F.attribute, attribute(name, a));
  return w;
}

function valueInfo(v: ValueInfoMessage): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) shape.message(FIELD.shape.dim, new ProtoWriter().varint(FIELD.dimension.dimValue, d));
  const tensorType = new ProtoWriter().varint(FIELD.tensorType.elemType, v.elemType).message(FIELD.tensorType.shape, shape);
  return new ProtoWriter()
    .string(FIELD.valueInfo.name, v.name)
    .message(FIELD.valueInfo.type, new ProtoWriter().message(FIELD.type.tensorType, tensorType));
}

function graph(g: GraphMessage): ProtoWriter {
  const F = FIELD.graph;
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(F.node, encodeNode(n));
  w.string(F.name, g.name);
  for (const t of g.initializers) w.message(F.initializer, encodeTensor(t));
  for (const v of g.inputs) w.message(F.input, valueInfo(v));
  for (const v of g.outputs) w.message(F.output, valueInfo(v));
  return w;
}

/** A serialised ModelProto: the bytes of an .onnx file. */
export function encodeModel(m: ModelMessage): Uint8Array {
  const F = FIELD.model;
  const w = new ProtoWriter()
    .varint(F.irVersion, IR_VERSION)
    .string(F.producerName, m.producerName)
    .string(F.producerVersion, m.producerVersion)
    .string(F.docString, m.docString)
    .message(F.graph, graph(m.graph))
    .message(F.opsetImport, new ProtoWriter().string(FIELD.opsetId.domain, '').varint(FIELD.opsetId.version, m.opsetVersion));
  for (const [key, value] of m.metadata) {
    w.message(F.metadataProps, new ProtoWriter().string(FIELD.stringEntry.key, key).string(FIELD.stringEntry.value, value));
  }
  return w.finish();
}
