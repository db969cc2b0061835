import { relativePositionIndex, shiftMask, shiftOf, SWIN_DEPTH } from '../../model/swin.js';
import { TEMPORAL_DEPTH } from '../../model/temporal.js';
import type { OnnxLayers } from './layers.js';

/** The bottleneck feature's fixed size: [1, E, S, H, W] (batch 1). */
export interface BottleneckSize {
  e: number;
  s: number;
  h: number;
  w: number;
}

/**
 * The temporal transformer on [1, E, S, H, W]: one sequence of length S per pixel (the published
 * rearrange 'b c s h w -> (b h w) s c'), positional embedding, 2 pre-LN layers, final LayerNorm.
 */
export function temporalTransformer(L: OnnxLayers, x: string, prefix: string, size: BottleneckSize, heads: number): string {
  const { e, s, h, w } = size;
  const n = h * w;
  let seq = L.reshape(L.transpose(x, [0, 3, 4, 2, 1]), [n, s, e]);
  seq = L.g.op('Add', [seq, L.param(`${prefix}.position_encoding.position_embeddings`)]);
  for (let l = 0; l < TEMPORAL_DEPTH; l++) {
    const att = `${prefix}.transformer.net.${2 * l}.fn`;
    const mlp = `${prefix}.transformer.net.${2 * l + 1}.fn`;
    const qkv = L.linear(L.layerNorm(seq, `${att}.norm`), `${att}.fn.qkv`, false);
    const merged = L.attention(qkv, { m: n, n: s, e, heads }, { scale: (e / heads) ** -0.5, scaleQuery: false });
    seq = L.g.op('Add', [seq, L.linear(merged, `${att}.fn.proj`)]);
    seq = L.mlpResidual(seq, `${mlp}.norm`, `${mlp}.fn.net.0`, `${mlp}.fn.net.3`);
  }
  seq = L.layerNorm(seq, `${prefix}.pre_head_ln`);
  return L.transpose(L.reshape(seq, [1, h, w, s, e]), [0, 4, 3, 1, 2]);
}

/** The relative position bias [heads, n, n] of a Swin block, gathered from its bias table. */
function positionBias(L: OnnxLayers, prefix: string, heads: number, win: number): string {
  const table = L.tensorData(`${prefix}.attn.relative_position_bias_table`);
  const index = relativePositionIndex(win);
  const n = win * win;
  const bias = new Float32Array(heads * n * n);
  for (let hd = 0; hd < heads; hd++) for (let r = 0; r < n * n; r++) bias[hd * n * n + r] = table[index[r]! * heads + hd]!;
  return L.g.initializer(`${prefix}.attn.position_bias`, [heads, n, n], bias);
}

/** One Swin block on images [B, H, W, E]. */
function swinBlock(
  L: OnnxLayers, x: string, prefix: string, dims: { b: number; h: number; w: number; e: number }, heads: number, win: number, shift: number,
): string {
  const { b, h, w, e } = dims;
  const hp = Math.ceil(h / win) * win;
  const wp = Math.ceil(w / win) * win;
  const nh = hp / win;
  const nw = wp / win;
  const n = win * win;
  const g = L.g;
  let y = L.layerNorm(x, `${prefix}.norm1`);
  // Padding after the LayerNorm: the padded tokens are zeros, as in the published code.
  if (hp > h || wp > w) y = g.op('Pad', [y, g.ints([0, 0, 0, 0, 0, hp - h, wp - w, 0])], { mode: 'constant' });
  if (shift > 0) y = L.roll(L.roll(y, -shift, 1, hp), -shift, 2, wp);
  const windows = L.reshape(L.transpose(L.reshape(y, [b * nh, win, nw, win * e]), [0, 2, 1, 3]), [b * nh * nw, n, e]);
  const qkv = L.linear(windows, `${prefix}.attn.qkv`);
  // The shift mask depends on Hp and Wp: this is why the exported H and W are fixed.
  const mask = shift > 0 ? g.initializer(`${prefix}.attn.shift_mask`, [nh * nw, 1, n, n], shiftMask(hp, wp, win, shift)) : undefined;
  const attended = L.attention(
    qkv,
    { m: b * nh * nw, n, e, heads },
    {
      scale: (e / heads) ** -0.5,
      scaleQuery: true,
      bias: positionBias(L, prefix, heads, win),
      mask: mask ? { value: mask, windows: nh * nw } : undefined,
    },
  );
  const out = L.linear(attended, `${prefix}.attn.proj`);
  let z = L.reshape(L.transpose(L.reshape(out, [b * nh, nw, win, win * e]), [0, 2, 1, 3]), [b, hp, wp, e]);
  if (shift > 0) z = L.roll(L.roll(z, shift, 1, hp), shift, 2, wp);
  if (hp > h || wp > w) z = L.slice(z, [1, 2], [0, 0], [h, w]);
  const x1 = g.op('Add', [x, z]);
  return L.mlpResidual(x1, `${prefix}.norm2`, `${prefix}.mlp.fc1`, `${prefix}.mlp.fc2`);
}

/** The spatial transformer on [1, E, S, H, W]: S images of H×W tokens, 2 Swin blocks. */
export function swinTransformer(L: OnnxLayers, x: string, prefix: string, size: BottleneckSize, heads: number, win: number): string {
  const { e, s, h, w } = size;
  let y = L.reshape(L.transpose(x, [0, 2, 3, 4, 1]), [s, h, w, e]);
  for (let j = 0; j < SWIN_DEPTH; j++) {
    y = swinBlock(L, y, `${prefix}.blocks.${j}`, { b: s, h, w, e }, heads, win, shiftOf(j, win));
  }
  return L.transpose(L.reshape(y, [1, s, h, w, e]), [0, 4, 1, 2, 3]);
}
