import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError, ConfigError } from '../errors.js';
import { Rng } from '../util/rng.js';
import { type ModelConfig, temporalLength, validateModelConfig } from './config.js';
import { conv3dSpecs, singleConv } from './conv.js';
import { decoderLevel, decoderSpecs } from './decoder.js';
import { encoderLevel, encoderSpecs } from './encoder.js';
import { initValues } from './init.js';
import { type DropoutContext, type ParamGetter, view, withReleasedGradients } from './layers.js';
import {
  type BufferSpec,
  type Entry,
  formatShape,
  internalShape,
  type ParamSpec,
  sizeOf,
  type StateDict,
  toInternalPerm,
  toPublishedPerm,
  transposeData,
} from './params.js';
import { relativePositionOneHot, swinEntries, swinTransformer } from './swin.js';
import { temporalSpecs, temporalTransformer } from './temporal.js';

/** Every state-dict entry of the network, in the published (PyTorch state_dict) order. */
export function modelEntries(c: ModelConfig): Entry[] {
  const entries: Entry[] = [];
  const params = (specs: ParamSpec[]): void => specs.forEach((spec) => entries.push({ kind: 'param', spec }));
  const chans = [1, ...c.fMaps];
  for (let i = 0; i < c.fMaps.length; i++) params(encoderSpecs(`encoders.${i}`, chans[i]!, chans[i + 1]!));
  const rev = [...c.fMaps].reverse().concat([1]);
  for (let i = 0; i < c.fMaps.length; i++) params(decoderSpecs(`decoders.${i}`, rev[i]!, rev[i + 1]!));
  const deepest = c.fMaps[c.fMaps.length - 1]!;
  params(conv3dSpecs('conv_before_trans.Conv3d', deepest, c.embedDim));
  params(conv3dSpecs('conv_after_trans.Conv3d', c.embedDim, deepest));
  for (let i = 0; i < c.blocks; i++) {
    params(
      temporalSpecs(`layers.${i}.timeTrans`, {
        embedDim: c.embedDim,
        heads: c.heads,
        mlpDim: c.mlpDim,
        seqLength: temporalLength(c),
      }),
    );
    entries.push(
      ...swinEntries(`layers.${i}.spaceTrans.transformer`, {
        embedDim: c.embedDim,
        heads: c.heads,
        mlpDim: c.mlpDim,
        window: c.window,
      }),
    );
  }
  return entries;
}

/**
 * SRDTrans (Li et al. 2023): a 3D convolutional encoder/decoder that halves/doubles T only,
 * with a temporal transformer and a Swin transformer at the bottleneck. Internally NDHWC.
 */
export class SRDTrans {
  readonly config: ModelConfig;
  /** Trainable variables keyed by published state-dict name, in the internal (TF.js) layout. */
  readonly variables: ReadonlyMap<string, tf.Variable>;
  private readonly specs: Map<string, ParamSpec>;
  private readonly buffers: Map<string, BufferSpec>;
  private readonly entries: Entry[];
  private readonly oneHot: tf.Tensor2D;
  private readonly dropoutRng: Rng;
  private disposed = false;

  constructor(config: ModelConfig, seed: number) {
    validateModelConfig(config);
    this.config = { ...config, fMaps: [...config.fMaps] };
    const rng = new Rng(seed);
    this.entries = modelEntries(this.config);
    this.specs = new Map();
    this.buffers = new Map();
    const vars = new Map<string, tf.Variable>();
    for (const entry of this.entries) {
      if (entry.kind === 'buffer') {
        this.buffers.set(entry.spec.name, entry.spec);
        continue;
      }
      const spec = entry.spec;
      const shape = internalShape(spec);
      const values = initValues(spec.init, sizeOf(shape), rng);
      this.specs.set(spec.name, spec);
      const initial = tf.tensor(values, shape, 'float32');
      vars.set(spec.name, tf.variable(initial, true));
      initial.dispose();
    }
    this.variables = vars;
    this.oneHot = relativePositionOneHot(this.config.window);
    this.dropoutRng = rng.fork();
  }

  /** x: [B, T, H, W] with T === config.patchT; returns [B, T, H, W]. */
  apply(x: tf.Tensor4D, opts: { training?: boolean; seed?: number } = {}): tf.Tensor4D {
    this.checkAlive();
    if (x.rank !== 4) throw new ConfigError(`the network expects a [B, T, H, W] input, got rank ${x.rank}`);
    const [, t, h, w] = x.shape;
    if (t !== this.config.patchT) {
      throw new ConfigError(`the network was built for ${this.config.patchT} frames per patch, got ${t}`);
    }
    if (h < 1 || w < 1) throw new ConfigError(`the network needs H, W ≥ 1, got ${h}×${w}`);
    const c = this.config;
    const ctx: DropoutContext | undefined =
      opts.training === true && c.attnDropout > 0
        ? { rng: opts.seed !== undefined ? new Rng(opts.seed) : this.dropoutRng.fork() }
        : undefined;
    const vars = this.variables;
    const p: ParamGetter = (name) => {
      const v = vars.get(name);
      if (!v) throw new Error(`internal: no parameter ${name}`);
      return v;
    };
    return tf.tidy(() => {
      // The output's gradient may be a caller's dy (tf.grads): only the ops inside free theirs.
      const y = withReleasedGradients(() => this.network(x, p, ctx));
      return view<tf.Tensor4D>(y, x.shape);
    });
  }

  /** The network on x [B, T, H, W] viewed [B, T, H, W, 1]; returns [B, T, H, W, 1]. */
  private network(x: tf.Tensor4D, p: ParamGetter, ctx: DropoutContext | undefined): tf.Tensor5D {
    const c = this.config;
    // Each stage in its own tidy, and a stage's input disposed once consumed (skips excepted):
    // under a gradient tape only what the layers saved for their gradients outlives a stage.
    const stage = <T extends tf.TensorContainer>(f: () => T, consumed?: tf.Tensor): T => {
      const out = tf.tidy(f);
      consumed?.dispose();
      return out;
    };
    let y = view<tf.Tensor5D>(x, [...x.shape, 1]);
    const skips: tf.Tensor5D[] = [];
    for (let i = 0; i < c.fMaps.length; i++) {
      const { skip, down } = stage(() => encoderLevel(y, p, `encoders.${i}`), i > 0 ? y : undefined);
      skips.unshift(skip);
      y = down;
    }
    y = stage(() => singleConv(y, p, 'conv_before_trans.Conv3d'), y);
    for (let i = 0; i < c.blocks; i++) {
      y = stage(() => temporalTransformer(y, p, `layers.${i}.timeTrans`, c.heads, c.attnDropout, ctx), y);
      y = stage(
        () =>
          swinTransformer(y, p, `layers.${i}.spaceTrans.transformer`, {
            window: c.window,
            heads: c.heads,
            attnDropout: c.attnDropout,
            oneHot: this.oneHot,
            ctx,
          }),
        y,
      );
    }
    y = stage(() => singleConv(y, p, 'conv_after_trans.Conv3d'), y);
    for (let i = 0; i < c.fMaps.length; i++) {
      const skip = skips[i]!;
      y = stage(() => decoderLevel(y, skip, p, `decoders.${i}`), y);
      skip.dispose();
    }
    return y;
  }

  /** Published names and PyTorch layouts, including the int64 relative_position_index buffers. */
  async stateDict(): Promise<StateDict> {
    this.checkAlive();
    const sd: StateDict = new Map();
    for (const entry of this.entries) {
      if (entry.kind === 'buffer') {
        sd.set(entry.spec.name, { shape: [...entry.spec.shape], dtype: 'int64', data: entry.spec.values() });
        continue;
      }
      const spec = entry.spec;
      const v = this.variables.get(spec.name)!;
      const internal = (await v.data()) as Float32Array;
      const data = transposeData(internal, v.shape, toPublishedPerm(spec.layout, spec.shape.length));
      sd.set(spec.name, { shape: [...spec.shape], dtype: 'float32', data });
    }
    return sd;
  }

  /**
   * Loads a published-layout state dict. Every name, dtype and shape is checked first (nothing is
   * changed on error). The int64 relative_position_index buffers may be absent; when present they
   * must equal the ones this network builds.
   */
  loadStateDict(sd: StateDict): void {
    this.checkAlive();
    for (const name of sd.keys()) {
      if (!this.specs.has(name) && !this.buffers.has(name)) {
        throw new CheckpointError(`checkpoint has an unexpected tensor '${name}' (not part of this network's configuration)`);
      }
    }
    const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
      a.length === b.length && a.every((v, i) => v === b[i]);
    for (const entry of this.entries) {
      const name = entry.spec.name;
      const t = sd.get(name);
      if (!t) {
        // The index buffers are derived from the window size, so a checkpoint may leave them out.
        if (entry.kind === 'buffer') continue;
        throw new CheckpointError(`checkpoint lacks the tensor '${name}'`);
      }
      if (!sameShape(t.shape, entry.spec.shape)) {
        throw new CheckpointError(
          `checkpoint tensor '${name}' has shape ${formatShape(t.shape)}, the network expects ${formatShape(entry.spec.shape)} (model settings differ?)`,
        );
      }
      if (t.data.length !== sizeOf(t.shape)) {
        throw new CheckpointError(`checkpoint tensor '${name}' holds ${t.data.length} values for shape ${formatShape(t.shape)}`);
      }
      if (entry.kind === 'buffer') {
        if (t.dtype !== 'int64' || !(t.data instanceof BigInt64Array)) {
          throw new CheckpointError(`checkpoint tensor '${name}' must be int64, got ${t.dtype}`);
        }
        const expected = entry.spec.values();
        for (let i = 0; i < expected.length; i++) {
          if (t.data[i] !== expected[i]) {
            throw new CheckpointError(`checkpoint tensor '${name}' differs from the standard Swin relative position index`);
          }
        }
      } else if (t.dtype !== 'float32' || !(t.data instanceof Float32Array)) {
        throw new CheckpointError(`checkpoint tensor '${name}' must be float32, got ${t.dtype}`);
      }
    }
    for (const [name, spec] of this.specs) {
      const t = sd.get(name)!;
      const data = transposeData(t.data as Float32Array, spec.shape, toInternalPerm(spec.layout, spec.shape.length));
      const v = this.variables.get(name)!;
      tf.tidy(() => v.assign(tf.tensor(data, v.shape, 'float32')));
    }
  }

  parameterCount(): number {
    let n = 0;
    for (const v of this.variables.values()) n += v.size;
    return n;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.variables.values()) v.dispose();
    this.oneHot.dispose();
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('this SRDTrans model has been disposed');
  }
}
