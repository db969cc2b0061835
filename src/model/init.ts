import type { Rng } from '../util/rng.js';
import type { InitSpec } from './params.js';

/**
 * PyTorch's default initialisation of Conv3d / ConvTranspose3d / Linear
 * (kaiming_uniform with a = sqrt(5) for the weight, and the bias rule) is uniform in
 * ±1/sqrt(fan_in) for both. fan_in is weight.size(1) × kernel volume: the input channels of a
 * Conv3d or Linear, but the OUTPUT channels of a ConvTranspose3d (its weight is (in, out, ...)).
 */
export function fanInBound(fanIn: number): InitSpec {
  return { kind: 'uniform', bound: 1 / Math.sqrt(fanIn) };
}

/** timm's trunc_normal_(std): normal(0, std) truncated to the absolute interval [a, b] (default ±2). */
export function truncNormal(std: number, a = -2, b = 2): InitSpec {
  return { kind: 'truncNormal', std, a, b };
}

export const ZEROS: InitSpec = { kind: 'zeros' };
export const ONES: InitSpec = { kind: 'ones' };

/** Draws `size` values for one parameter; every parameter draws from the same generator in order. */
export function initValues(spec: InitSpec, size: number, rng: Rng): Float32Array {
  const out = new Float32Array(size);
  switch (spec.kind) {
    case 'zeros':
      break;
    case 'ones':
      out.fill(1);
      break;
    case 'uniform':
      for (let i = 0; i < size; i++) out[i] = (2 * rng.next() - 1) * spec.bound;
      break;
    case 'truncNormal':
      for (let i = 0; i < size; i++) {
        let v: number;
        do v = rng.normal() * spec.std;
        while (v < spec.a || v > spec.b);
        out[i] = v;
      }
      break;
  }
  return out;
}
