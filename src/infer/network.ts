import * as tf from '@tensorflow/tfjs-core';
import type { Size3 } from '../data/normalize.js';
import type { SRDTrans } from '../model/srdtrans.js';

/**
 * What the patch loop needs of the network: one normalised patch [t, h, w] (row-major) in, the
 * network's output of the same shape out. The TF.js model is one implementation, an ONNX
 * Runtime session (onnx-network.ts) another; stitching and rescaling do not depend on which.
 */
export interface PatchNetwork {
  /** Frames per patch (fixed by the model's positional embedding). */
  readonly patchT: number;
  run(input: Float32Array, size: Size3): Promise<Float32Array>;
  /** Frees what the network holds (the model's variables, the session). */
  dispose(): Promise<void> | void;
}

/** The TF.js network on the active backend. */
export function tfjsNetwork(model: SRDTrans): PatchNetwork {
  return {
    patchT: model.config.patchT,
    async run(input, size) {
      const out = tf.tidy(() => model.apply(tf.tensor4d(input, [1, size.t, size.h, size.w])));
      try {
        return (await out.data()) as Float32Array;
      } finally {
        out.dispose();
      }
    },
    dispose: () => model.dispose(),
  };
}
