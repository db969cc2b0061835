import type * as tf from '@tensorflow/tfjs-core';
import { addSame, conv3dSpecs, convTranspose3dSpecs, singleConv, upSample } from './conv.js';
import type { ParamGetter } from './layers.js';
import type { ParamSpec } from './params.js';

/** decoders.{i}: conv_net.SingleConv1 (cin → cout), conv_net.SingleConv2 (cout → cout), up_sample (cin → cin). */
export function decoderSpecs(prefix: string, cin: number, cout: number): ParamSpec[] {
  return [
    ...conv3dSpecs(`${prefix}.conv_net.SingleConv1.Conv3d`, cin, cout),
    ...conv3dSpecs(`${prefix}.conv_net.SingleConv2.Conv3d`, cout, cout),
    ...convTranspose3dSpecs(`${prefix}.up_sample`, cin, cin),
  ];
}

/** up = ConvTranspose3d (T doubled); x = up + skip; then two Conv3d + LeakyReLU. */
export function decoderLevel(x: tf.Tensor5D, skip: tf.Tensor5D, p: ParamGetter, prefix: string): tf.Tensor5D {
  const up = addSame(upSample(x, p, `${prefix}.up_sample`), skip);
  const h = singleConv(up, p, `${prefix}.conv_net.SingleConv1.Conv3d`);
  return singleConv(h, p, `${prefix}.conv_net.SingleConv2.Conv3d`);
}
