import { CheckpointError, ConfigError } from '../../errors.js';
import { type ModelConfig, temporalLength, validateModelConfig } from '../../model/config.js';
import type { ParamSpec, StateDict } from '../../model/params.js';
import { modelEntries } from '../../model/srdtrans.js';
import { GraphBuilder } from './graph.js';
import { OnnxLayers } from './layers.js';
import { encodeModel } from './messages.js';
import { swinTransformer, temporalTransformer } from './transformers.js';

/** Opset 17: the first with LayerNormalization. */
export const ONNX_OPSET = 17;
export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'output';
/** The published inference patch width/height. */
export const ONNX_DEFAULT_PATCH_XY = 128;

export interface OnnxExportOptions {
  /** Height and width of the (square) input patch; fixed in the graph. */
  patchXY: number;
  /** Frames per patch; must be the model's patchT (its positional embedding fixes it). Default: that. */
  patchT?: number;
  /** Where the weights came from, for error messages. */
  source?: string;
}

/**
 * The SRDTrans inference network (eval mode) as an ONNX model (opset 17): input `input` and
 * output `output`, both float32 [1, 1, T, H, W] with T = patchT and H = W = patchXY fixed,
 * because the Swin blocks' padding and shifted-window masks depend on H and W. The network
 * sees patches normalised as `srdtrans denoise` feeds them (divided by the scale, the stack
 * mean subtracted); the published rescale and stitching stay outside the graph.
 * `sd`: published names and PyTorch layouts (the int64 index buffers are not needed).
 */
export function exportOnnx(config: ModelConfig, sd: StateDict, options: OnnxExportOptions): Uint8Array {
  validateModelConfig(config);
  const patchT = options.patchT ?? config.patchT;
  const xy = options.patchXY;
  if (patchT !== config.patchT) {
    throw new ConfigError(`patch length ${patchT}: this model was built for patches of ${config.patchT} frames (its positional embedding fixes the length)`);
  }
  if (!Number.isInteger(xy) || xy < 1) throw new ConfigError(`patch size ${xy}: must be a positive integer`);
  const source = options.source ?? 'checkpoint';
  const specs = new Map<string, ParamSpec>();
  for (const entry of modelEntries(config)) if (entry.kind === 'param') specs.set(entry.spec.name, entry.spec);
  for (const name of sd.keys()) {
    if (!specs.has(name) && !name.endsWith('.relative_position_index')) {
      throw new CheckpointError(`${source}: unexpected tensor '${name}' for this model's configuration`);
    }
  }
  const g = new GraphBuilder();
  const L = new OnnxLayers(g, sd, specs, source);
  const shape = [1, 1, patchT, xy, xy];
  const y = network(L, g.input(ONNX_INPUT, shape), config, xy);
  g.output(y, ONNX_OUTPUT, shape);
  return encodeModel({
    producerName: 'srdtrans-ts',
    producerVersion: '1',
    docString: `SRDTrans denoising network, eval mode; input and output [1, 1, ${patchT}, ${xy}, ${xy}] float32 (patch divided by the scale, stack mean subtracted)`,
    opsetVersion: ONNX_OPSET,
    graph: g.build('srdtrans'),
    metadata: new Map([
      ['srdtrans.model', JSON.stringify(config)],
      ['srdtrans.patch', JSON.stringify({ t: patchT, y: xy, x: xy })],
    ]),
  });
}

/** Encoders, bottleneck transformers, decoders: the published forward pass in NCDHW. */
function network(L: OnnxLayers, input: string, c: ModelConfig, xy: number): string {
  let x = input;
  const skips: string[] = [];
  for (let i = 0; i < c.fMaps.length; i++) {
    const h = L.singleConv(x, `encoders.${i}.conv_net.SingleConv1.Conv3d`);
    const skip = L.singleConv(h, `encoders.${i}.conv_net.SingleConv2.Conv3d`);
    skips.unshift(skip);
    x = L.conv(skip, `encoders.${i}.down_sample`, 2);
  }
  x = L.singleConv(x, 'conv_before_trans.Conv3d');
  const size = { e: c.embedDim, s: temporalLength(c), h: xy, w: xy };
  for (let i = 0; i < c.blocks; i++) {
    x = temporalTransformer(L, x, `layers.${i}.timeTrans`, size, c.heads);
    x = swinTransformer(L, x, `layers.${i}.spaceTrans.transformer`, size, c.heads, c.window);
  }
  x = L.singleConv(x, 'conv_after_trans.Conv3d');
  for (let i = 0; i < c.fMaps.length; i++) {
    const level = c.fMaps.length - 1 - i;
    const dims = { c: c.fMaps[level]!, t: c.patchT >> (level + 1), h: xy, w: xy };
    const up = L.g.op('Add', [L.upSample(x, `decoders.${i}.up_sample`, dims), skips[i]!]);
    x = L.singleConv(L.singleConv(up, `decoders.${i}.conv_net.SingleConv1.Conv3d`), `decoders.${i}.conv_net.SingleConv2.Conv3d`);
  }
  return x;
}
