import { encoderMidChannels } from '../src/model/encoder.js';
import type { ModelConfig } from '../src/model/config.js';

/**
 * Analytic FLOP count of one SRDTrans forward pass on [1, 1, T, H, W] with T = config.patchT:
 * multiply-adds of every convolution, linear layer and attention product, counted as 2 FLOPs
 * each. Element-wise work (activations, LayerNorm, softmax, bias adds, residuals) is left out.
 * Swin attention and its qkv/projection count the zero-padded tokens (they are computed); the
 * Swin MLP counts only the real tokens. Transposed convolutions count the taps that land inside
 * the output (kernel 4 with stride 2 in T: two temporal taps per output frame).
 */
export function forwardFlops(c: ModelConfig, h: number, w: number): number {
  const plane = h * w;
  const conv = (voxels: number, cin: number, cout: number, taps = 27): number => voxels * taps * cin * cout;
  let macs = 0;
  const chans = [1, ...c.fMaps];
  let t = c.patchT;
  for (let i = 0; i < c.fMaps.length; i++) {
    const cin = chans[i]!;
    const cout = chans[i + 1]!;
    const mid = encoderMidChannels(cin, cout);
    macs += conv(t * plane, cin, mid) + conv(t * plane, mid, cout) + conv((t / 2) * plane, cout, cout);
    t /= 2;
  }
  const deepest = c.fMaps[c.fMaps.length - 1]!;
  const e = c.embedDim;
  const tokens = t * plane;
  macs += conv(tokens, deepest, e) + conv(tokens, e, deepest);
  const padded = t * Math.ceil(h / c.window) * c.window * Math.ceil(w / c.window) * c.window;
  const windowTokens = c.window * c.window;
  for (let b = 0; b < c.blocks; b++) {
    // Temporal transformer: 2 layers of qkv, QKᵀ and PV over S keys, projection, MLP.
    macs += 2 * (tokens * e * 3 * e + 2 * tokens * t * e + tokens * e * e + 2 * tokens * e * c.mlpDim);
    // Swin: 2 blocks of qkv, QKᵀ and PV over w² keys, projection (padded tokens), MLP (real tokens).
    macs += 2 * (padded * e * 3 * e + 2 * padded * windowTokens * e + padded * e * e + 2 * tokens * e * c.mlpDim);
  }
  const rev = [...c.fMaps].reverse().concat([1]);
  for (let i = 0; i < c.fMaps.length; i++) {
    const cin = rev[i]!;
    const cout = rev[i + 1]!;
    t *= 2;
    macs += conv(t * plane, cin, cin, 2 * 9) + conv(t * plane, cin, cout) + conv(t * plane, cout, cout);
  }
  return 2 * macs;
}

/**
 * One training step as 3 × the forward count: the backward pass computes, per layer, one
 * product of the forward's size for the input gradient and one for the weight gradient.
 * Adam's element-wise update is left out.
 */
export function trainStepFlops(c: ModelConfig, h: number, w: number): number {
  return 3 * forwardFlops(c, h, w);
}
