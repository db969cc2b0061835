import { bytesField, ProtoWriter, readFields } from '../../io/protobuf.js';
import { ONNX_INPUT, ONNX_OUTPUT } from '../onnx/export.js';
import { GraphBuilder } from '../onnx/graph.js';
import { encodeNode, encodeTensor, FIELD, type GraphMessage } from '../onnx/messages.js';

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
 * mean and sums only a patch's kept centre: see the package README.) The arithmetic is built with
 * the exporter's graph builder; it is joined to the encoded model at the protobuf level, so the
 * wrapper depends only on the exporter's input and output names and not on how the network
 * inside is built.
 */

export const WRAPPED_INPUT = 'raw';
export const WRAPPED_OUTPUT = 'denoised';

const GRAPH = FIELD.graph;
const VALUE_INFO_NAME = FIELD.valueInfo.name;

/** The nodes that run before the network and after it (two graphs: nodes are listed in topological order). */
function normalisation(scale: number): { before: GraphMessage; after: GraphMessage } {
  // Prefixed fresh names keep clear of the network's, which come from a builder without one.
  const pre = new GraphBuilder('bioimageio_pre_');
  const s = pre.scalar(scale);
  // Reductions without axes reduce over every axis and keep them (keepdims defaults to 1).
  const mean = pre.op('ReduceMean', [WRAPPED_INPUT]);
  const scaled = pre.op('Div', [WRAPPED_INPUT, s]);
  pre.alias(pre.op('Sub', [scaled, mean]), ONNX_INPUT);
  const post = new GraphBuilder('bioimageio_post_');
  const restored = post.op('Add', [ONNX_OUTPUT, mean]);
  const ratio = post.op('Div', [post.op('ReduceSum', [scaled]), post.op('ReduceSum', [restored])]);
  const rescaled = post.op('Mul', [restored, post.op('Sqrt', [ratio])]);
  post.alias(post.op('Mul', [rescaled, s]), WRAPPED_OUTPUT);
  return { before: pre.build(''), after: post.build('') };
}

function valueName(info: Uint8Array): string {
  const name = bytesField(readFields(info), VALUE_INFO_NAME);
  return name ? new TextDecoder().decode(name) : '';
}

/** The value info `info` under another name (same type and shape). */
function renamed(info: Uint8Array, name: string): ProtoWriter {
  const w = new ProtoWriter().string(VALUE_INFO_NAME, name);
  for (const f of readFields(info)) if (f.field !== VALUE_INFO_NAME) w.copy(f);
  return w;
}

/** Wraps an exported model (from exportOnnx) as described above; input `raw`, output `denoised`, same shapes. */
export function withPatchNormalisation(onnx: Uint8Array, scale: number): Uint8Array {
  if (!(scale > 0 && Number.isFinite(scale))) throw new RangeError(`scale ${scale} must be a positive number`);
  const model = readFields(onnx);
  const graph = bytesField(model, FIELD.model.graph);
  if (!graph) throw new Error('internal: the ONNX model has no graph');
  const fields = readFields(graph);
  const single = (field: number, name: string): Uint8Array => {
    const infos = fields.filter((f) => f.field === field).map((f) => f.value as Uint8Array);
    if (infos.length !== 1 || valueName(infos[0]!) !== name) {
      throw new Error(`internal: expected the exported graph to have the single ${field === GRAPH.input ? 'input' : 'output'} '${name}'`);
    }
    return infos[0]!;
  };
  const input = single(GRAPH.input, ONNX_INPUT);
  const output = single(GRAPH.output, ONNX_OUTPUT);
  const { before, after } = normalisation(scale);
  const g = new ProtoWriter();
  for (const n of before.nodes) g.message(GRAPH.node, encodeNode(n));
  for (const f of fields) if (f.field !== GRAPH.input && f.field !== GRAPH.output) g.copy(f);
  for (const n of after.nodes) g.message(GRAPH.node, encodeNode(n));
  for (const t of before.initializers) g.message(GRAPH.initializer, encodeTensor(t));
  g.message(GRAPH.input, renamed(input, WRAPPED_INPUT));
  g.message(GRAPH.output, renamed(output, WRAPPED_OUTPUT));
  const m = new ProtoWriter();
  for (const f of model) {
    if (f.field === FIELD.model.graph) m.message(FIELD.model.graph, g);
    else m.copy(f);
  }
  return m.finish();
}
