import { ConfigError } from '../errors.js';

/** Hyper-parameters of the SRDTrans network (published defaults in DEFAULT_MODEL_CONFIG). */
export interface ModelConfig {
  /** Channels of the encoder levels, e.g. [8,16,32,64]; levels = fMaps.length. */
  fMaps: number[];
  /** Token width E of both transformers. */
  embedDim: number;
  /** Attention heads of both transformers. */
  heads: number;
  /** Hidden width of the temporal and Swin MLPs. */
  mlpDim: number;
  /** Swin window size w (the shifted block moves by floor(w/2)). */
  window: number;
  /** Number of (temporal transformer, Swin transformer) pairs: num_transBlock. */
  blocks: number;
  /** The network input's T; the positional embedding has length patchT / 2**levels. */
  patchT: number;
  /** Dropout rate on attention probabilities (both transformers) and the temporal projection output. */
  attnDropout: number;
}

export const DEFAULT_MODEL_CONFIG: ModelConfig = Object.freeze({
  fMaps: Object.freeze([8, 16, 32, 64]) as unknown as number[],
  embedDim: 128,
  heads: 8,
  mlpDim: 512,
  window: 7,
  blocks: 1,
  patchT: 128,
  attnDropout: 0.1,
}) as ModelConfig;

/** Sequence length of the temporal transformer: patchT / 2**levels. */
export function temporalLength(c: ModelConfig): number {
  return c.patchT / 2 ** c.fMaps.length;
}

function positiveInt(name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new ConfigError(`model setting ${name} must be a positive integer (got ${String(v)})`);
  }
}

/** Throws ConfigError with a message a user can act on when the configuration cannot build a network. */
export function validateModelConfig(c: ModelConfig): void {
  if (!Array.isArray(c.fMaps) || c.fMaps.length === 0) {
    throw new ConfigError('model setting fMaps must list at least one channel count, e.g. [8,16,32,64]');
  }
  c.fMaps.forEach((f, i) => positiveInt(`fMaps[${i}]`, f));
  positiveInt('embedDim', c.embedDim);
  positiveInt('heads', c.heads);
  positiveInt('mlpDim', c.mlpDim);
  positiveInt('window', c.window);
  positiveInt('blocks', c.blocks);
  positiveInt('patchT', c.patchT);
  if (c.embedDim % c.heads !== 0) {
    throw new ConfigError(`model setting embedDim (${c.embedDim}) must be divisible by heads (${c.heads})`);
  }
  const factor = 2 ** c.fMaps.length;
  if (c.patchT % factor !== 0) {
    throw new ConfigError(
      `patch length in t (${c.patchT}) must be a multiple of 2^levels = ${factor} for ${c.fMaps.length} encoder levels`,
    );
  }
  if (typeof c.attnDropout !== 'number' || !(c.attnDropout >= 0 && c.attnDropout < 1)) {
    throw new ConfigError(`model setting attnDropout must be in [0, 1) (got ${String(c.attnDropout)})`);
  }
}
