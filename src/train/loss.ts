import * as tf from '@tensorflow/tfjs-core';

/** Half L1 plus half L2, the published per-target loss. */
export function l1l2(output: tf.Tensor, target: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const diff = tf.sub(output, target);
    return tf.add(tf.mul(0.5, tf.mean(tf.abs(diff))), tf.mul(0.5, tf.mean(tf.square(diff)))) as tf.Scalar;
  });
}

/**
 * The training loss over all targets, averaged: spatial sampling has two targets (the input
 * pixel's horizontal and vertical neighbours), temporal sampling one (the interleaved frames).
 */
export function trainingLoss(output: tf.Tensor, targets: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.mul(1 / targets.length, tf.addN(targets.map((t) => l1l2(output, t)))) as tf.Scalar);
}
