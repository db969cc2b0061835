import { ONNX_INPUT, ONNX_OUTPUT } from './onnx/export.js';
import { ProtoWriter } from './onnx/protobuf.js';
import { bytesField, readFields, type ProtoField } from './proto-fields.js';

/**
 * The exported network wrapped in the per-patch arithmetic of `srdtrans denoise`, for tools
 * (bioimage.io consumers) whose pre/postprocessing steps cannot express it:
 *
 *   m = mean(raw);  scaled = raw / s;  input = scaled − m;  output = network(input);
 *   restored = output + m;  denoised = restored · sqrt(Σ scaled / Σ restored) · s
 *
 * with s the training scale: the published normalisation (the mean of the unscaled values
 * subtracted from the scaled ones, as `srdtrans denoise` does), the add-back, and the published
 * rescale of each patch to its input's intensity, over the tile the tool passes in. (Ours subtracts the whole stack's
 * mean and sums only a patch's kept centre: see the package README.) The wrapper edits the
 * encoded model at the protobuf level, so it depends only on the exporter's input and output
 * names and not on how the network inside is built.
 */

export const WRAPPED_INPUT = 'raw';
export const WRAPPED_OUTPUT = 'denoised';

// Field numbers of onnx.proto.
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const VALUE_INFO_NAME = 1;
const NODE = { input: 1, output: 2, name: 3, opType: 4 } as const;

const GRAPH_INITIALIZER = 5;
const TENSOR = { dataType: 2, name: 8, rawData: 9 } as const;
const FLOAT = 1;

const MEAN = 'bioimageio_mean';
const SCALE = 'bioimageio_scale';
const SCALED = 'bioimageio_scaled';
const RESTORED = 'bioimageio_restored';

type NodeSpec = readonly [opType: string, inputs: readonly string[], output: string];

// Reductions without axes reduce over every axis and keep them (keepdims defaults to 1).
const BEFORE: readonly NodeSpec[] = [
  ['ReduceMean', [WRAPPED_INPUT], MEAN],
  ['Div', [WRAPPED_INPUT, SCALE], SCALED],
  ['Sub', [SCALED, MEAN], ONNX_INPUT],
];
const AFTER: readonly NodeSpec[] = [
  ['Add', [ONNX_OUTPUT, MEAN], RESTORED],
  ['ReduceSum', [SCALED], 'bioimageio_sum_scaled'],
  ['ReduceSum', [RESTORED], 'bioimageio_sum_restored'],
  ['Div', ['bioimageio_sum_scaled', 'bioimageio_sum_restored'], 'bioimageio_ratio'],
  ['Sqrt', ['bioimageio_ratio'], 'bioimageio_factor'],
  ['Mul', [RESTORED, 'bioimageio_factor'], 'bioimageio_rescaled'],
  ['Mul', ['bioimageio_rescaled', SCALE], WRAPPED_OUTPUT],
];

function node([opType, inputs, output]: NodeSpec): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of inputs) w.string(NODE.input, i);
  return w.string(NODE.output, output).string(NODE.name, `bioimageio_${output}`).string(NODE.opType, opType);
}

/** A float32 scalar initializer. */
function scalar(name: string, value: number): ProtoWriter {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setFloat32(0, value, true);
  return new ProtoWriter().varint(TENSOR.dataType, FLOAT).string(TENSOR.name, name).bytes(TENSOR.rawData, data);
}

function copy(w: ProtoWriter, f: ProtoField): void {
  if (f.wire === 0) w.varint(f.field, f.value as bigint);
  else if (f.wire === 2) w.bytes(f.field, f.value as Uint8Array);
  else throw new Error(`internal: ONNX field ${f.field} has the unexpected wire type ${f.wire}`);
}

function valueName(info: Uint8Array): string {
  const name = bytesField(readFields(info), VALUE_INFO_NAME);
  return name ? new TextDecoder().decode(name) : '';
}

/** The value info `info` under another name (same type and shape). */
function renamed(info: Uint8Array, name: string): ProtoWriter {
  const w = new ProtoWriter().string(VALUE_INFO_NAME, name);
  for (const f of readFields(info)) if (f.field !== VALUE_INFO_NAME) copy(w, f);
  return w;
}

/** Wraps an exported model (from exportOnnx) as described above; input `raw`, output `denoised`, same shapes. */
export function withPatchNormalisation(onnx: Uint8Array, scale: number): Uint8Array {
  if (!(scale > 0 && Number.isFinite(scale))) throw new RangeError(`scale ${scale} must be a positive number`);
  const model = readFields(onnx);
  const graph = bytesField(model, MODEL_GRAPH);
  if (!graph) throw new Error('internal: the ONNX model has no graph');
  const fields = readFields(graph);
  const single = (field: number, name: string): Uint8Array => {
    const infos = fields.filter((f) => f.field === field).map((f) => f.value as Uint8Array);
    if (infos.length !== 1 || valueName(infos[0]!) !== name) {
      throw new Error(`internal: expected the exported graph to have the single ${field === GRAPH_INPUT ? 'input' : 'output'} '${name}'`);
    }
    return infos[0]!;
  };
  const input = single(GRAPH_INPUT, ONNX_INPUT);
  const output = single(GRAPH_OUTPUT, ONNX_OUTPUT);
  // Nodes must be listed in topological order: ours before and after the network's.
  const g = new ProtoWriter();
  for (const n of BEFORE) g.message(GRAPH_NODE, node(n));
  for (const f of fields) if (f.field !== GRAPH_INPUT && f.field !== GRAPH_OUTPUT) copy(g, f);
  for (const n of AFTER) g.message(GRAPH_NODE, node(n));
  g.message(GRAPH_INITIALIZER, scalar(SCALE, scale));
  g.message(GRAPH_INPUT, renamed(input, WRAPPED_INPUT));
  g.message(GRAPH_OUTPUT, renamed(output, WRAPPED_OUTPUT));
  const m = new ProtoWriter();
  for (const f of model) {
    if (f.field === MODEL_GRAPH) m.message(MODEL_GRAPH, g);
    else copy(m, f);
  }
  return m.finish();
}
