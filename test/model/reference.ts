import { relativePositionIndex } from '../../src/model/swin.js';
import { type ModelConfig, type StateDict } from '../../src/node.js';
import { randomArray } from './helpers.js';

/*
 * Plain-TypeScript (no TF.js) references of SRDTrans, written from SRDTRANS.md and the
 * published module structure, in PyTorch layouts (NCDHW activations, published state dict).
 * Float64 accumulation throughout.
 */

/** erf with |error| < 1.2e-7 (Numerical Recipes erfc, Chebyshev fit). */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 +
        t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - r : r - 1;
}

/** (B, C, T, H, W): PyTorch's NCDHW. */
export type Shape5 = readonly [number, number, number, number, number];

export interface BlockWeights {
  e: number; heads: number; m: number; w: number; shift: number;
  norm1w: Float32Array; norm1b: Float32Array; table: Float32Array;
  qkvW: Float32Array; qkvB: Float32Array; projW: Float32Array; projB: Float32Array;
  norm2w: Float32Array; norm2b: Float32Array; fc1W: Float32Array; fc1B: Float32Array; fc2W: Float32Array; fc2B: Float32Array;
}

/** Plain-TS Swin block, written from the description (PyTorch layouts: Linear weight (out, in)). x: [B, H, W, E]. */
export function referenceSwinBlock(
  x: ArrayLike<number>, b: number, h: number, wd: number, p: BlockWeights,
  variant: { noMask?: boolean; lnAfterPad?: boolean } = {},
): Float64Array {
  const { e, heads, m, w, shift: s } = p;
  const d = e / heads;
  const scale = 1 / Math.sqrt(d);
  const ln = (v: ArrayLike<number>, off: number, g: Float32Array, beta: Float32Array): Float64Array => {
    let mean = 0;
    for (let c = 0; c < e; c++) mean += v[off + c]!;
    mean /= e;
    let vr = 0;
    for (let c = 0; c < e; c++) vr += (v[off + c]! - mean) ** 2;
    vr /= e;
    const out = new Float64Array(e);
    for (let c = 0; c < e; c++) out[c] = ((v[off + c]! - mean) / Math.sqrt(vr + 1e-5)) * g[c]! + beta[c]!;
    return out;
  };
  const lin = (v: Float64Array, W: Float32Array, bias: Float32Array, outF: number, inF: number): Float64Array => {
    const out = new Float64Array(outF);
    for (let o = 0; o < outF; o++) {
      let acc = bias[o]!;
      for (let i = 0; i < inF; i++) acc += W[o * inF + i]! * v[i]!;
      out[o] = acc;
    }
    return out;
  };
  const hp = Math.ceil(h / w) * w;
  const wp = Math.ceil(wd / w) * w;
  const rpi = relativePositionIndex(w);
  const n = w * w;
  // Region labels of the padded grid, by the published slices [0, Hp−w), [Hp−w, Hp−s), [Hp−s, Hp).
  const regionH = (y: number): number => (y < hp - w ? 0 : y < hp - s ? 1 : 2);
  const regionW = (x0: number): number => (x0 < wp - w ? 0 : x0 < wp - s ? 1 : 2);
  const out = new Float64Array(b * h * wd * e);
  for (let bi = 0; bi < b; bi++) {
    // LN then zero padding (so padded tokens are zero, not LN(0)).
    const padded: Float64Array[] = [];
    for (let y = 0; y < hp; y++) {
      for (let x0 = 0; x0 < wp; x0++) {
        const inside = y < h && x0 < wd;
        if (inside) padded.push(ln(x, ((bi * h + y) * wd + x0) * e, p.norm1w, p.norm1b));
        else padded.push(variant.lnAfterPad ? ln(new Float64Array(e), 0, p.norm1w, p.norm1b) : new Float64Array(e));
      }
    }
    // Shifted grid: rolled[y][x] = padded[(y + s) % Hp][(x + s) % Wp].
    const rolled = (y: number, x0: number): Float64Array => padded[((y + s) % hp) * wp + ((x0 + s) % wp)]!;
    const attnOut: Float64Array[] = new Array(hp * wp);
    for (let wy = 0; wy < hp / w; wy++) {
      for (let wx = 0; wx < wp / w; wx++) {
        const pos = (t: number): [number, number] => [wy * w + Math.floor(t / w), wx * w + (t % w)];
        const qkv = Array.from({ length: n }, (_, t) => lin(rolled(...pos(t)), p.qkvW, p.qkvB, 3 * e, e));
        const merged = Array.from({ length: n }, () => new Float64Array(e));
        for (let hd = 0; hd < heads; hd++) {
          for (let i = 0; i < n; i++) {
            const scores = new Float64Array(n);
            let mx = -Infinity;
            for (let j = 0; j < n; j++) {
              let dot = 0;
              for (let c = 0; c < d; c++) dot += qkv[i]![hd * d + c]! * scale * qkv[j]![e + hd * d + c]!;
              dot += p.table[rpi[i * n + j]! * heads + hd]!;
              if (s > 0 && !variant.noMask) {
                const [yi, xi] = pos(i);
                const [yj, xj] = pos(j);
                if (regionH(yi) * 3 + regionW(xi) !== regionH(yj) * 3 + regionW(xj)) dot += -100;
              }
              scores[j] = dot;
              mx = Math.max(mx, dot);
            }
            let z = 0;
            for (let j = 0; j < n; j++) z += (scores[j] = Math.exp(scores[j]! - mx));
            for (let c = 0; c < d; c++) {
              let acc = 0;
              for (let j = 0; j < n; j++) acc += (scores[j]! / z) * qkv[j]![2 * e + hd * d + c]!;
              merged[i]![hd * d + c] = acc;
            }
          }
        }
        for (let t = 0; t < n; t++) {
          const [y, x0] = pos(t);
          attnOut[y * wp + x0] = lin(merged[t]!, p.projW, p.projB, e, e);
        }
      }
    }
    for (let y = 0; y < h; y++) {
      for (let x0 = 0; x0 < wd; x0++) {
        // Roll back: un-rolled (y, x) sits at rolled ((y − s) mod Hp, (x − s) mod Wp).
        const a = attnOut[((y - s + hp) % hp) * wp + ((x0 - s + wp) % wp)]!;
        const off = ((bi * h + y) * wd + x0) * e;
        const x1 = new Float64Array(e);
        for (let c = 0; c < e; c++) x1[c] = x[off + c]! + a[c]!;
        const hid = lin(ln(x1, 0, p.norm2w, p.norm2b), p.fc1W, p.fc1B, m, e).map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
        const mlp = lin(hid, p.fc2W, p.fc2B, e, m);
        for (let c = 0; c < e; c++) out[off + c] = x1[c]! + mlp[c]!;
      }
    }
  }
  return out;
}

/** Randomises every float tensor (LayerNorm and bias table included, so that they matter). */
export function randomise(sd: StateDict, seed: number): void {
  let k = seed;
  for (const [name, t] of sd) {
    if (t.dtype !== 'float32') continue;
    const scale = /norm\d?\.weight$/.test(name) ? 0.5 : 0.4;
    const r = randomArray(t.data.length, k++, scale);
    if (/norm\d?\.weight$/.test(name)) for (let i = 0; i < r.length; i++) r[i]! += 1;
    (t.data as Float32Array).set(r);
  }
}

/**
 * PyTorch ConvTranspose3d, kernel (4,3,3), stride (2,1,1), padding (1,1,1), by its definition:
 * every input voxel scatters x·W[i, o, kt, kh, kw] to output (2t − 1 + kt, h − 1 + kh, w − 1 + kw).
 * x: (B, Cin, T, H, W); weight (Cin, Cout, 4, 3, 3); returns (B, Cout, 2T, H, W).
 */
export function referenceConvTranspose(
  x: ArrayLike<number>, [b, cin, t, h, w]: Shape5, weight: Float32Array, bias: Float32Array, cout: number,
): Float64Array {
  const to = 2 * t;
  const out = new Float64Array(b * cout * to * h * w);
  for (let bi = 0; bi < b; bi++)
    for (let o = 0; o < cout; o++)
      for (let i = 0; i < to * h * w; i++) out[(bi * cout + o) * to * h * w + i] = bias[o]!;
  for (let bi = 0; bi < b; bi++)
    for (let i = 0; i < cin; i++)
      for (let ti = 0; ti < t; ti++)
        for (let hi = 0; hi < h; hi++)
          for (let wi = 0; wi < w; wi++) {
            const v = x[(((bi * cin + i) * t + ti) * h + hi) * w + wi]!;
            for (let o = 0; o < cout; o++)
              for (let kt = 0; kt < 4; kt++) {
                const tt = 2 * ti - 1 + kt;
                if (tt < 0 || tt >= to) continue;
                for (let kh = 0; kh < 3; kh++) {
                  const hh = hi - 1 + kh;
                  if (hh < 0 || hh >= h) continue;
                  for (let kw = 0; kw < 3; kw++) {
                    const ww = wi - 1 + kw;
                    if (ww < 0 || ww >= w) continue;
                    const wv = weight[(((i * cout + o) * 4 + kt) * 3 + kh) * 3 + kw]!;
                    out[(((bi * cout + o) * to + tt) * h + hh) * w + ww]! += v * wv;
                  }
                }
              }
          }
  return out;
}


/** PyTorch Conv3d kernel 3, stride (st, 1, 1), padding 1; weight (out, in, 3, 3, 3); x (B, Cin, T, H, W). */
export function referenceConv3d(
  x: ArrayLike<number>, [b, cin, t, h, w]: Shape5, weight: Float32Array, bias: Float32Array, cout: number, st = 1,
): Float64Array {
  const to = Math.floor((t + 2 - 3) / st) + 1;
  const out = new Float64Array(b * cout * to * h * w);
  for (let bi = 0; bi < b; bi++)
    for (let o = 0; o < cout; o++)
      for (let tt = 0; tt < to; tt++)
        for (let hh = 0; hh < h; hh++)
          for (let ww = 0; ww < w; ww++) {
            let acc = bias[o]!;
            for (let i = 0; i < cin; i++)
              for (let kt = 0; kt < 3; kt++) {
                const ti = st * tt - 1 + kt;
                if (ti < 0 || ti >= t) continue;
                for (let kh = 0; kh < 3; kh++) {
                  const hi = hh - 1 + kh;
                  if (hi < 0 || hi >= h) continue;
                  for (let kw = 0; kw < 3; kw++) {
                    const wi = ww - 1 + kw;
                    if (wi < 0 || wi >= w) continue;
                    acc += x[(((bi * cin + i) * t + ti) * h + hi) * w + wi]! * weight[(((o * cin + i) * 3 + kt) * 3 + kh) * 3 + kw]!;
                  }
                }
              }
            out[(((bi * cout + o) * to + tt) * h + hh) * w + ww] = acc;
          }
  return out;
}

function leakyInPlace(a: Float64Array): Float64Array {
  for (let i = 0; i < a.length; i++) if (a[i]! < 0) a[i] = a[i]! * 0.1;
  return a;
}

function layerNormVec(v: ArrayLike<number>, g: Float32Array, beta: Float32Array): Float64Array {
  const e = g.length;
  let mean = 0;
  for (let c = 0; c < e; c++) mean += v[c]!;
  mean /= e;
  let vr = 0;
  for (let c = 0; c < e; c++) vr += (v[c]! - mean) ** 2;
  vr /= e;
  const out = new Float64Array(e);
  for (let c = 0; c < e; c++) out[c] = ((v[c]! - mean) / Math.sqrt(vr + 1e-5)) * g[c]! + beta[c]!;
  return out;
}

function linearVec(v: ArrayLike<number>, W: Float32Array, bias: Float32Array | undefined, outF: number): Float64Array {
  const inF = v.length;
  const out = new Float64Array(outF);
  for (let o = 0; o < outF; o++) {
    let acc = bias ? bias[o]! : 0;
    for (let i = 0; i < inF; i++) acc += W[o * inF + i]! * v[i]!;
    out[o] = acc;
  }
  return out;
}

/**
 * The temporal transformer on x (B, C, S, H, W): one sequence per (b, h, w) — the published
 * 'b c s h w -> (b h w) s c' — plus positional embedding, 2 pre-LN layers, final LN.
 */
export function referenceTemporal(x: Float64Array, [b, c, s, h, w]: Shape5, sd: StateDict, prefix: string, heads: number, mlp: number): Float64Array {
  const g = (n: string): Float32Array => sd.get(`${prefix}.${n}`)!.data as Float32Array;
  const d = c / heads;
  const out = new Float64Array(x.length);
  const pos = g('position_encoding.position_embeddings');
  for (let bi = 0; bi < b; bi++)
    for (let hi = 0; hi < h; hi++)
      for (let wi = 0; wi < w; wi++) {
        const at = (si: number, ci: number): number => (((bi * c + ci) * s + si) * h + hi) * w + wi;
        let seq = Array.from({ length: s }, (_, si) => Float64Array.from({ length: c }, (_, ci) => x[at(si, ci)]! + pos[si * c + ci]!));
        for (let l = 0; l < 2; l++) {
          const att = `transformer.net.${2 * l}.fn`;
          const ff = `transformer.net.${2 * l + 1}.fn`;
          const normed = seq.map((v) => layerNormVec(v, g(`${att}.norm.weight`), g(`${att}.norm.bias`)));
          const qkv = normed.map((v) => linearVec(v, g(`${att}.fn.qkv.weight`), undefined, 3 * c));
          const merged = Array.from({ length: s }, () => new Float64Array(c));
          for (let hd = 0; hd < heads; hd++)
            for (let i = 0; i < s; i++) {
              const sc = new Float64Array(s);
              for (let j = 0; j < s; j++) {
                let dot = 0;
                for (let k = 0; k < d; k++) dot += qkv[i]![hd * d + k]! * qkv[j]![c + hd * d + k]!;
                sc[j] = dot / Math.sqrt(d);
              }
              const mx = Math.max(...sc);
              let z = 0;
              for (let j = 0; j < s; j++) z += (sc[j] = Math.exp(sc[j]! - mx));
              for (let k = 0; k < d; k++) {
                let acc = 0;
                for (let j = 0; j < s; j++) acc += (sc[j]! / z) * qkv[j]![2 * c + hd * d + k]!;
                merged[i]![hd * d + k] = acc;
              }
            }
          seq = seq.map((v, i) => {
            const pr = linearVec(merged[i]!, g(`${att}.fn.proj.weight`), g(`${att}.fn.proj.bias`), c);
            return v.map((a, k) => a + pr[k]!);
          });
          seq = seq.map((v) => {
            const hid = linearVec(layerNormVec(v, g(`${ff}.norm.weight`), g(`${ff}.norm.bias`)), g(`${ff}.fn.net.0.weight`), g(`${ff}.fn.net.0.bias`), mlp)
              .map((a) => 0.5 * a * (1 + erf(a / Math.SQRT2)));
            const o = linearVec(hid, g(`${ff}.fn.net.3.weight`), g(`${ff}.fn.net.3.bias`), c);
            return v.map((a, k) => a + o[k]!);
          });
        }
        seq.forEach((v, si) => {
          const n = layerNormVec(v, g('pre_head_ln.weight'), g('pre_head_ln.bias'));
          for (let ci = 0; ci < c; ci++) out[at(si, ci)] = n[ci]!;
        });
      }
  return out;
}

/** The Swin transformer on x (B, C, S, H, W): images per (b, s) — 'b c s h w -> (b s) (h w) c'. */
export function referenceSpatial(x: Float64Array, [b, c, s, h, w]: Shape5, sd: StateDict, prefix: string, config: ModelConfig): Float64Array {
  // To (B·S, H, W, C).
  let img: Float64Array = new Float64Array(x.length);
  for (let bi = 0; bi < b; bi++)
    for (let ci = 0; ci < c; ci++)
      for (let si = 0; si < s; si++)
        for (let p = 0; p < h * w; p++) img[((bi * s + si) * h * w + p) * c + ci] = x[((bi * c + ci) * s + si) * h * w + p]!;
  for (let blk = 0; blk < 2; blk++) {
    const g = (n: string): Float32Array => sd.get(`${prefix}.blocks.${blk}.${n}`)!.data as Float32Array;
    img = referenceSwinBlock(img, b * s, h, w, {
      e: c, heads: config.heads, m: config.mlpDim, w: config.window, shift: blk === 1 ? Math.floor(config.window / 2) : 0,
      norm1w: g('norm1.weight'), norm1b: g('norm1.bias'), table: g('attn.relative_position_bias_table'),
      qkvW: g('attn.qkv.weight'), qkvB: g('attn.qkv.bias'), projW: g('attn.proj.weight'), projB: g('attn.proj.bias'),
      norm2w: g('norm2.weight'), norm2b: g('norm2.bias'), fc1W: g('mlp.fc1.weight'), fc1B: g('mlp.fc1.bias'),
      fc2W: g('mlp.fc2.weight'), fc2B: g('mlp.fc2.bias'),
    });
  }
  const out = new Float64Array(x.length);
  for (let bi = 0; bi < b; bi++)
    for (let ci = 0; ci < c; ci++)
      for (let si = 0; si < s; si++)
        for (let p = 0; p < h * w; p++) out[((bi * c + ci) * s + si) * h * w + p] = img[((bi * s + si) * h * w + p) * c + ci]!;
  return out;
}

/** The whole network, eval mode: x (B, T, H, W) -> (B, T, H, W). */
export function referenceSRDTrans(sd: StateDict, config: ModelConfig, x: Float32Array, [b, t, h, w]: readonly [number, number, number, number]): Float64Array {
  const W = (n: string): Float32Array => sd.get(n)!.data as Float32Array;
  const conv = (v: ArrayLike<number>, shape: Shape5, name: string, cout: number, st = 1): Float64Array =>
    referenceConv3d(v, shape, W(`${name}.weight`), W(`${name}.bias`), cout, st);
  let cur: Float64Array = Float64Array.from(x);
  let c = 1;
  let tt = t;
  const skips: Array<{ data: Float64Array; c: number; t: number }> = [];
  for (let i = 0; i < config.fMaps.length; i++) {
    const cout = config.fMaps[i]!;
    const mid = Math.max(Math.floor(cout / 2), c);
    const h1 = leakyInPlace(conv(cur, [b, c, tt, h, w], `encoders.${i}.conv_net.SingleConv1.Conv3d`, mid));
    const h2 = leakyInPlace(conv(h1, [b, mid, tt, h, w], `encoders.${i}.conv_net.SingleConv2.Conv3d`, cout));
    skips.unshift({ data: h2, c: cout, t: tt });
    cur = conv(h2, [b, cout, tt, h, w], `encoders.${i}.down_sample`, cout, 2);
    c = cout;
    tt /= 2;
  }
  const e = config.embedDim;
  cur = leakyInPlace(conv(cur, [b, c, tt, h, w], 'conv_before_trans.Conv3d', e));
  for (let l = 0; l < config.blocks; l++) {
    cur = referenceTemporal(cur, [b, e, tt, h, w], sd, `layers.${l}.timeTrans`, config.heads, config.mlpDim);
    cur = referenceSpatial(cur, [b, e, tt, h, w], sd, `layers.${l}.spaceTrans.transformer`, config);
  }
  cur = leakyInPlace(conv(cur, [b, e, tt, h, w], 'conv_after_trans.Conv3d', c));
  const outs = [...[...config.fMaps].reverse().slice(1), 1];
  for (let i = 0; i < config.fMaps.length; i++) {
    const skip = skips[i]!;
    const up = referenceConvTranspose(cur, [b, c, tt, h, w], W(`decoders.${i}.up_sample.weight`), W(`decoders.${i}.up_sample.bias`), c);
    tt *= 2;
    for (let k = 0; k < up.length; k++) up[k] = up[k]! + skip.data[k]!;
    const cout = outs[i]!;
    const h1 = leakyInPlace(conv(up, [b, c, tt, h, w], `decoders.${i}.conv_net.SingleConv1.Conv3d`, cout));
    cur = leakyInPlace(conv(h1, [b, cout, tt, h, w], `decoders.${i}.conv_net.SingleConv2.Conv3d`, cout));
    c = cout;
  }
  return cur;
}
