import { CheckpointError, ConfigError } from '../errors.js';
import { DEFAULT_MODEL_CONFIG, type ModelConfig, validateModelConfig } from './config.js';
import { formatShape, type StateDict } from './params.js';

/**
 * The architecture of an SRDTrans state dict, read from its tensor shapes alone, so that a
 * published `.pth` (which carries no configuration) can be used without restating the training
 * command line. Only the attention dropout cannot be seen in the weights; it matters for training
 * only, and takes the published default.
 */
export function inferModelConfig(sd: StateDict): ModelConfig {
  const shapeOf = (name: string, rank: number): number[] => {
    const t = sd.get(name);
    if (!t) throw new CheckpointError(`not an SRDTrans state dict: lacks '${name}'`);
    if (t.shape.length !== rank) {
      throw new CheckpointError(`not an SRDTrans state dict: '${name}' has shape ${formatShape(t.shape)}, expected ${rank} dimensions`);
    }
    return t.shape;
  };

  // Encoder level k's second convolution outputs fMaps[k] channels; levels are numbered from 0 up.
  const fMaps: number[] = [];
  for (let k = 0; sd.has(encoderConv2(k)); k++) fMaps.push(shapeOf(encoderConv2(k), 5)[0]!);
  if (fMaps.length === 0) shapeOf(encoderConv2(0), 5);

  const embedDim = shapeOf('conv_before_trans.Conv3d.weight', 5)[0]!;

  // One layers.k per (temporal, Swin) transformer pair; the indices must run 0..blocks-1.
  const layerIndices = new Set<number>();
  for (const name of sd.keys()) {
    const m = /^layers\.(\d+)\./.exec(name);
    if (m) layerIndices.add(Number(m[1]));
  }
  const blocks = layerIndices.size;
  for (let i = 0; i < Math.max(blocks, 1); i++) {
    if (!layerIndices.has(i)) throw new CheckpointError(`not an SRDTrans state dict: lacks transformer layer 'layers.${i}'`);
  }

  // Bias table: ((2w−1)², heads).
  const [rows, heads] = shapeOf(`${swinAttn(0)}.relative_position_bias_table`, 2) as [number, number];
  const side = Math.round(Math.sqrt(rows));
  if (side * side !== rows || side % 2 === 0) {
    throw new CheckpointError(`not an SRDTrans state dict: ${rows} rows in the relative position bias table is not (2·window−1)²`);
  }
  const window = (side + 1) / 2;

  const mlpDim = shapeOf('layers.0.spaceTrans.transformer.blocks.0.mlp.fc1.weight', 2)[0]!;

  // The positional embedding (1, S, E) fixes the patch length: T = S · 2^levels.
  const seq = shapeOf('layers.0.timeTrans.position_encoding.position_embeddings', 3)[1]!;
  const config: ModelConfig = {
    fMaps,
    embedDim,
    heads,
    mlpDim,
    window,
    blocks,
    patchT: seq * 2 ** fMaps.length,
    attnDropout: DEFAULT_MODEL_CONFIG.attnDropout,
  };
  try {
    validateModelConfig(config);
  } catch (err) {
    if (err instanceof ConfigError) throw new CheckpointError(`the tensor shapes describe no valid SRDTrans (${err.message})`, { cause: err });
    throw err;
  }
  return config;
}

function encoderConv2(k: number): string {
  return `encoders.${k}.conv_net.SingleConv2.Conv3d.weight`;
}

function swinAttn(layer: number): string {
  return `layers.${layer}.spaceTrans.transformer.blocks.0.attn`;
}
