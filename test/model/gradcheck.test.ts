import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initEngine, SRDTrans } from '../../src/node.js';
import { TINY, randomArray, randomInput } from './helpers.js';

before(async () => {
  await initEngine('cpu');
});

/**
 * Finite-difference check of the whole network's gradient (cpu, float32), loss = mean(out²).
 * Tiny network with S = 2 (so temporal attention is not trivial), an image that needs padding
 * and the shifted-window mask (5×4, window 3), and randomised LayerNorm / bias-table /
 * positional-embedding values so that their gradients are exercised.
 */
const CONFIG = { ...TINY, patchT: 8 };
const SHAPE: [number, number, number, number] = [1, 8, 5, 4];

/**
 * Re-draws every parameter so that signals keep unit scale through the whole network (He-like
 * weights, non-trivial LayerNorm, positional embedding and bias tables): with PyTorch's default
 * init the deep parameters' gradients are ~1e-9 and float32 differences cannot resolve them.
 */
async function setup(): Promise<{ model: SRDTrans; x: tf.Tensor4D }> {
  const model = new SRDTrans(CONFIG, 21);
  const sd = await model.stateDict();
  let k = 500;
  for (const [name, t] of sd) {
    if (t.dtype !== 'float32') continue;
    let std = 0.3;
    let mean = 0;
    if (/\.weight$/.test(name) && t.shape.length >= 2) {
      const fanIn = /up_sample/.test(name) ? t.shape[0]! * 18 : t.shape.slice(1).reduce((a, b) => a * b, 1);
      std = Math.sqrt(2 / fanIn);
    } else if (/(norm\d?|pre_head_ln)\.weight$/.test(name)) mean = 1;
    else if (/(Conv3d|down_sample|up_sample)\.bias$/.test(name)) {
      // Positive conv biases keep most LeakyReLU inputs away from the kink at 0.
      mean = 2;
      std = 0.1;
    } else if (/\.bias$/.test(name)) std = 0.1;
    const r = randomArray(t.data.length, k++, std);
    for (let i = 0; i < r.length; i++) r[i]! += mean;
    (t.data as Float32Array).set(r);
  }
  model.loadStateDict(sd);
  return { model, x: randomInput(SHAPE, 3) };
}

interface Difference {
  slope: number;
  eps: number;
  /** Forward and backward slopes agreed within 1 % (no LeakyReLU kink inside the step). */
  smooth: boolean;
  forward: number;
  backward: number;
}

/**
 * Central difference with a kink guard: LeakyReLU makes the loss piecewise smooth, and a step
 * that crosses a kink gives one-sided slopes that disagree. The first step (largest first) whose
 * forward and backward slopes agree within 1 % is used; if none does, the smallest step is
 * returned with smooth = false.
 */
async function centralDifference(f: (delta: number) => Promise<number>, f0: number, steps: number[]): Promise<Difference> {
  let last: Difference | undefined;
  for (const eps of steps) {
    const plus = await f(eps);
    const minus = await f(-eps);
    const forward = (plus - f0) / eps;
    const backward = (f0 - minus) / eps;
    const slope = (plus - minus) / (2 * eps);
    last = { slope, eps, forward, backward, smooth: Math.abs(forward - backward) <= 1e-2 * Math.abs(slope) };
    if (last.smooth) return last;
  }
  return last!;
}

/** Relative error of an analytic derivative against a difference; at a kink, distance to the one-sided bracket. */
function relativeError(analytic: number, d: Difference): number {
  if (d.smooth) return Math.abs(d.slope - analytic) / Math.abs(analytic);
  const lo = Math.min(d.forward, d.backward);
  const hi = Math.max(d.forward, d.backward);
  const outside = analytic < lo ? lo - analytic : analytic > hi ? analytic - hi : 0;
  return outside / Math.abs(analytic);
}

async function lossOf(model: SRDTrans, x: tf.Tensor4D, training: boolean): Promise<number> {
  const l = tf.tidy(() => tf.mean(tf.square(model.apply(x, { training, seed: 77 }))));
  const v = (await l.data())[0]!;
  l.dispose();
  return v;
}

for (const training of [false, true]) {
  test(`directional derivative of mean(out²) matches central differences (${training ? 'training mode, fixed dropout seed' : 'eval mode'})`, async (t) => {
    const { model, x } = await setup();
    const names = [...model.variables.keys()];
    const vars = names.map((n) => model.variables.get(n)!);
    const { value, grads } = tf.variableGrads(
      () => tf.mean(tf.square(model.apply(x, { training, seed: 77 }))) as tf.Scalar,
      vars,
    );
    value.dispose();
    const g = new Map<string, Float32Array>();
    for (let i = 0; i < names.length; i++) g.set(names[i]!, (await grads[vars[i]!.name]!.data()) as Float32Array);
    tf.dispose(Object.values(grads));
    const originals = new Map<string, Float32Array>();
    for (const n of names) originals.set(n, (await model.variables.get(n)!.data()) as Float32Array);

    // Random direction, scaled per variable by its rms (so every tensor moves by a similar relative amount).
    const dir = new Map<string, Float32Array>();
    let analytic = 0;
    names.forEach((n, i) => {
      const o = originals.get(n)!;
      const rms = Math.sqrt(o.reduce((s, v) => s + v * v, 0) / o.length) || 0.1;
      const d = randomArray(o.length, 1000 + i, rms);
      dir.set(n, d);
      const gn = g.get(n)!;
      for (let j = 0; j < d.length; j++) analytic += gn[j]! * d[j]!;
    });
    const shift = (eps: number): void => {
      for (const n of names) {
        const o = originals.get(n)!;
        const d = dir.get(n)!;
        const moved = new Float32Array(o.length);
        for (let j = 0; j < o.length; j++) moved[j] = o[j]! + eps * d[j]!;
        const v = model.variables.get(n)!;
        tf.tidy(() => v.assign(tf.tensor(moved, v.shape)));
      }
    };
    const base = await lossOf(model, x, training);
    const directional = await centralDifference(async (e) => {
      shift(e);
      return lossOf(model, x, training);
    }, base, [1e-3, 3e-4, 1e-4, 3e-5, 1e-5]);
    shift(0);
    const rel = relativeError(analytic, directional);
    t.diagnostic(
      `directional: analytic ${analytic.toExponential(4)}, central difference ${directional.slope.toExponential(4)} (eps ${directional.eps}${directional.smooth ? '' : ', kink: one-sided bracket'}), relative error ${rel.toExponential(2)} (tolerance 2e-2)`,
    );
    assert.ok(rel < 2e-2, `directional derivative relative error ${rel}`);

    // A few single parameters (the entry with the largest gradient in each tensor).
    const picks = [
      'encoders.0.conv_net.SingleConv1.Conv3d.weight',
      'encoders.1.down_sample.bias',
      'conv_before_trans.Conv3d.weight',
      'layers.0.timeTrans.position_encoding.position_embeddings',
      'layers.0.timeTrans.transformer.net.0.fn.fn.qkv.weight',
      'layers.0.timeTrans.transformer.net.2.fn.norm.weight',
      'layers.0.spaceTrans.transformer.blocks.1.attn.relative_position_bias_table',
      'layers.0.spaceTrans.transformer.blocks.0.attn.qkv.weight',
      'layers.0.spaceTrans.transformer.blocks.1.mlp.fc1.bias',
      'decoders.0.up_sample.weight',
      'decoders.1.conv_net.SingleConv2.Conv3d.bias',
    ];
    let worst = 0;
    let kinks = 0;
    for (const n of picks) {
      const gn = g.get(n)!;
      let j = 0;
      for (let i = 1; i < gn.length; i++) if (Math.abs(gn[i]!) > Math.abs(gn[j]!)) j = i;
      const v = model.variables.get(n)!;
      const o = originals.get(n)!;
      const scale = Math.max(1e-1, Math.abs(o[j]!));
      const at = async (delta: number): Promise<number> => {
        const moved = o.slice();
        moved[j] = o[j]! + delta;
        tf.tidy(() => v.assign(tf.tensor(moved, v.shape)));
        return lossOf(model, x, training);
      };
      const diff = await centralDifference(at, base, [1e-2 * scale, 3e-3 * scale, 1e-3 * scale, 3e-4 * scale, 1e-4 * scale]);
      const num = diff.slope;
      await at(0);
      const err = relativeError(gn[j]!, diff);
      if (!diff.smooth) kinks++;
      worst = Math.max(worst, err);
      assert.ok(gn[j] !== 0, `${n}: zero gradient`);
      assert.ok(err < 5e-2, `${n}[${j}]: analytic ${gn[j]}, numeric ${num}, relative error ${err}`);
    }
    t.diagnostic(`single parameters: worst relative error ${worst.toExponential(2)} over ${picks.length} tensors (tolerance 5e-2; ${kinks} at a kink)`);
    x.dispose();
    model.dispose();
  });
}
