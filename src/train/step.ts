import * as tf from '@tensorflow/tfjs-core';
import type { SRDTrans } from '../model/srdtrans.js';
import type { Adam } from './adam.js';
import { trainingLoss } from './loss.js';

/** One training example: the network input and its one or two targets, each [T, h, w]. */
export interface TrainingPair {
  input: Float32Array;
  targets: Float32Array[];
  t: number;
  h: number;
  w: number;
}

/**
 * Forward, loss, backward and one Adam update. Leaves no tensor behind; returns the loss.
 * `dropoutSeed` makes the attention dropout of this step reproducible; `lr` is this step's rate
 * (default: Adam's own).
 */
export async function trainStep(model: SRDTrans, adam: Adam, pair: TrainingPair, dropoutSeed: number, lr?: number): Promise<number> {
  const names = [...model.variables.keys()];
  const vars = names.map((n) => model.variables.get(n)!);
  const byVariable = new Map(vars.map((v, i) => [v.name, names[i]!]));
  const lossTensor = tf.tidy(() => {
    const shape: [number, number, number, number] = [1, pair.t, pair.h, pair.w];
    const input = tf.tensor4d(pair.input, shape);
    const targets = pair.targets.map((t) => tf.tensor4d(t, shape));
    const { value, grads } = tf.variableGrads(
      () => trainingLoss(model.apply(input, { training: true, seed: dropoutSeed }), targets),
      vars,
    );
    const named = new Map<string, tf.Tensor>();
    for (const [varName, g] of Object.entries(grads)) named.set(byVariable.get(varName)!, g);
    adam.apply(named, lr);
    return value;
  });
  const loss = (await lossTensor.data())[0]!;
  lossTensor.dispose();
  return loss;
}

/** The loss of the model in eval mode (no dropout, no update) on each pair. */
export async function evaluationLoss(model: SRDTrans, pairs: readonly TrainingPair[]): Promise<number[]> {
  const losses: number[] = [];
  for (const pair of pairs) {
    const lossTensor = tf.tidy(() => {
      const shape: [number, number, number, number] = [1, pair.t, pair.h, pair.w];
      const targets = pair.targets.map((t) => tf.tensor4d(t, shape));
      return trainingLoss(model.apply(tf.tensor4d(pair.input, shape), { training: false }), targets);
    });
    losses.push((await lossTensor.data())[0]!);
    lossTensor.dispose();
  }
  return losses;
}
