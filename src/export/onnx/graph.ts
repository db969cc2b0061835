import type { AttributeValue, GraphMessage, NodeMessage, TensorMessage, ValueInfoMessage } from './messages.js';
import { ONNX_FLOAT } from './messages.js';

/** Attributes as plain values: numbers are ints unless wrapped with `floatAttr`. */
export type Attributes = Record<string, number | readonly number[] | string | { float: number }>;

export function floatAttr(value: number): { float: number } {
  return { float: value };
}

function toAttribute(v: Attributes[string]): AttributeValue {
  if (typeof v === 'string') return { kind: 'string', value: v };
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`internal: integer attribute ${v}`);
    return { kind: 'int', value: v };
  }
  if ('float' in v) return { kind: 'float', value: v.float };
  return { kind: 'ints', value: v };
}

/**
 * Builds an ONNX graph in order: every node's outputs get fresh names (op type and a counter),
 * so a network is written as a sequence of calls, like the forward pass it describes.
 */
export class GraphBuilder {
  private readonly nodes: NodeMessage[] = [];
  private readonly initializers: TensorMessage[] = [];
  private readonly inputs: ValueInfoMessage[] = [];
  private readonly outputs: ValueInfoMessage[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  /** `prefix` starts every fresh name: a graph meant to be joined to another keeps clear of its names. */
  constructor(private readonly prefix = '') {}

  input(name: string, shape: readonly number[]): string {
    this.claim(name);
    this.inputs.push({ name, elemType: ONNX_FLOAT, shape });
    return name;
  }

  /** Marks `value` as the graph output `name` (through an Identity node, so any value can be one). */
  output(value: string, name: string, shape: readonly number[]): void {
    this.alias(value, name);
    this.outputs.push({ name, elemType: ONNX_FLOAT, shape });
  }

  /** `value` under the name `name`, which another graph's nodes expect (through an Identity node). */
  alias(value: string, name: string): void {
    this.claim(name);
    this.nodes.push({ name: `${this.prefix}${name}_out`, opType: 'Identity', inputs: [value], outputs: [name], attributes: new Map() });
  }

  /** A weight or constant; returns its name. */
  initializer(name: string, dims: readonly number[], data: Float32Array | BigInt64Array): string {
    this.claim(name);
    return this.addInitializer(name, dims, data);
  }

  /** A 1-D int64 constant (shapes, axes, pads). */
  ints(values: readonly number[]): string {
    return this.addInitializer(this.fresh('const'), [values.length], BigInt64Array.from(values, (v) => BigInt(v)));
  }

  /** A float scalar constant. */
  scalar(value: number): string {
    return this.addInitializer(this.fresh('const'), [], Float32Array.of(value));
  }

  /** Adds a node with one output and returns the output's name. */
  op(opType: string, inputs: readonly string[], attributes: Attributes = {}): string {
    return this.opN(opType, inputs, 1, attributes)[0]!;
  }

  /** Adds a node with `count` outputs. */
  opN(opType: string, inputs: readonly string[], count: number, attributes: Attributes = {}): string[] {
    const name = this.fresh(opType);
    const outputs = count === 1 ? [name] : Array.from({ length: count }, (_, i) => `${name}_${i}`);
    if (count > 1) outputs.forEach((o) => this.claim(o));
    const attrs = new Map(Object.entries(attributes).map(([k, v]) => [k, toAttribute(v)]));
    this.nodes.push({ name, opType, inputs, outputs, attributes: attrs });
    return outputs;
  }

  build(name: string): GraphMessage {
    return { name, nodes: this.nodes, initializers: this.initializers, inputs: this.inputs, outputs: this.outputs };
  }

  private addInitializer(name: string, dims: readonly number[], data: Float32Array | BigInt64Array): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (data.length !== count) throw new Error(`internal: initializer ${name} has ${data.length} values for ${dims.join('×')}`);
    this.initializers.push({ name, dims: [...dims], data });
    return name;
  }

  private fresh(stem: string): string {
    let name: string;
    do name = `${this.prefix}${stem}_${this.counter++}`;
    while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`internal: ONNX value name ${name} used twice`);
    this.names.add(name);
  }
}
