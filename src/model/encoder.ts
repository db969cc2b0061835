import type * as tf from '@tensorflow/tfjs-core';
import { conv3dDown, conv3dSpecs, singleConv } from './conv.js';
import type { ParamGetter } from './layers.js';
import type { ParamSpec } from './params.js';

/** Channels of an encoder level's first convolution: max(cout / 2, cin) (integer division). */
export function encoderMidChannels(cin: number, cout: number): number {
  return Math.max(Math.floor(cout / 2), cin);
}

/** encoders.{i}: conv_net.SingleConv1, conv_net.SingleConv2, down_sample. */
export function encoderSpecs(prefix: string, cin: number, cout: number): ParamSpec[] {
  const mid = encoderMidChannels(cin, cout);
  return [
    ...conv3dSpecs(`${prefix}.conv_net.SingleConv1.Conv3d`, cin, mid),
    ...conv3dSpecs(`${prefix}.conv_net.SingleConv2.Conv3d`, mid, cout),
    ...conv3dSpecs(`${prefix}.down_sample`, cout, cout),
  ];
}

/** Returns the feature before down-sampling (the skip) and the down-sampled feature (T halved). */
export function encoderLevel(x: tf.Tensor5D, p: ParamGetter, prefix: string): { skip: tf.Tensor5D; down: tf.Tensor5D } {
  const h = singleConv(x, p, `${prefix}.conv_net.SingleConv1.Conv3d`);
  const skip = singleConv(h, p, `${prefix}.conv_net.SingleConv2.Conv3d`);
  return { skip, down: conv3dDown(skip, p, `${prefix}.down_sample`) };
}
