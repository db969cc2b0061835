import * as tf from '@tensorflow/tfjs-core';
import type { StateDict } from '../model/params.js';

export interface AdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps?: number;
}

/**
 * Adam with PyTorch's update rule (eps added after the bias-corrected square root), written
 * here rather than taking tf.train.adam because TF.js folds eps differently, and because its
 * moments must be saved and restored by parameter name for `--resume`.
 */
export class Adam {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private readonly eps: number;
  step = 0;

  constructor(
    private readonly params: ReadonlyMap<string, tf.Variable>,
    private readonly options: AdamOptions,
  ) {
    this.eps = options.eps ?? 1e-8;
    for (const [name, p] of params) {
      this.m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
      this.v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    }
  }

  /** One update from gradients keyed like the parameters, at rate `lr` (default: the options'). */
  apply(grads: ReadonlyMap<string, tf.Tensor>, lr = this.options.lr): void {
    this.step += 1;
    const { beta1, beta2 } = this.options;
    const stepSize = lr / (1 - beta1 ** this.step);
    const correction2 = Math.sqrt(1 - beta2 ** this.step);
    tf.tidy(() => {
      for (const [name, p] of this.params) {
        const g = grads.get(name);
        if (!g) continue;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        m.assign(tf.add(tf.mul(beta1, m), tf.mul(1 - beta1, g)));
        v.assign(tf.add(tf.mul(beta2, v), tf.mul(1 - beta2, tf.square(g))));
        const denom = tf.add(tf.div(tf.sqrt(v), correction2), this.eps);
        p.assign(tf.sub(p, tf.mul(stepSize, tf.div(m, denom))));
      }
    });
  }

  /** Moments by parameter name, in the variables' own (internal) layout. */
  async state(): Promise<StateDict> {
    const out: StateDict = new Map();
    for (const [prefix, moments] of [['adam.m.', this.m], ['adam.v.', this.v]] as const) {
      for (const [name, t] of moments) {
        out.set(prefix + name, { shape: t.shape, dtype: 'float32', data: (await t.data()) as Float32Array });
      }
    }
    return out;
  }

  loadState(state: StateDict, step: number): void {
    for (const [prefix, moments] of [['adam.m.', this.m], ['adam.v.', this.v]] as const) {
      for (const [name, t] of moments) {
        const saved = state.get(prefix + name);
        if (!saved || saved.data.length !== t.size) throw new Error(`optimiser state lacks '${prefix + name}'`);
        t.assign(tf.tensor(saved.data as Float32Array, t.shape));
      }
    }
    this.step = step;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}
