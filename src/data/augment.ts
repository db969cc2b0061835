/**
 * The 8 dihedral transforms of the (y, x) plane of a (t, h, w) patch, numbered as the published
 * training augmentation draws them:
 *   k = 0 identity, 1/2/3 rotation by 90°/180°/270° (np.rot90 over axes (1, 2): counter-clockwise
 *   as displayed with row 0 at the top),
 *   4 horizontal flip (x reversed), 5/6/7 horizontal flip followed by rotation by 90°/180°/270°.
 * Rotations by 90° and 270° swap h and w.
 */

export interface Transformed {
  readonly data: Float32Array;
  readonly h: number;
  readonly w: number;
}

/** Output (h, w) of transform k applied to an h × w plane. */
export function dihedralShape(h: number, w: number, k: number): { h: number; w: number } {
  return k % 2 === 1 ? { h: w, w: h } : { h, w };
}

/** The transform that undoes k: rotations invert to the opposite rotation, reflections to themselves. */
export function inverseDihedral(k: number): number {
  checkK(k);
  return k < 4 ? (4 - k) % 4 : k;
}

function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 0 || k > 7) throw new RangeError(`dihedral transform index must be 0..7, got ${k}`);
}

/**
 * Applies transform k to each frame. out[i][j] (output is oh × ow) reads in[y][x] with:
 *   0: (i, j)            1: (j, w−1−i)          2: (h−1−i, w−1−j)   3: (h−1−j, i)
 *   4: (i, w−1−j)        5: (j, i)              6: (h−1−i, j)       7: (h−1−j, w−1−i)
 */
export function dihedral(patch: Float32Array, t: number, h: number, w: number, k: number): Transformed {
  checkK(k);
  if (patch.length !== t * h * w) throw new RangeError(`patch holds ${patch.length} values, expected ${t}×${h}×${w}`);
  const { h: oh, w: ow } = dihedralShape(h, w, k);
  if (k === 0) return { data: patch.slice(), h, w };
  const out = new Float32Array(patch.length);
  const frame = h * w;
  // Source index = base + i·di + j·dj for output (i, j).
  let base: number, di: number, dj: number;
  switch (k) {
    case 1: base = w - 1; di = -1; dj = w; break;
    case 2: base = (h - 1) * w + w - 1; di = -w; dj = -1; break;
    case 3: base = (h - 1) * w; di = 1; dj = -w; break;
    case 4: base = w - 1; di = w; dj = -1; break;
    case 5: base = 0; di = 1; dj = w; break;
    case 6: base = (h - 1) * w; di = -w; dj = 1; break;
    default: base = (h - 1) * w + w - 1; di = -1; dj = -w; break; // 7
  }
  let o = 0;
  for (let f = 0; f < t; f++) {
    const fb = f * frame + base;
    for (let i = 0; i < oh; i++) {
      let s = fb + i * di;
      for (let j = 0; j < ow; j++) {
        out[o++] = patch[s]!;
        s += dj;
      }
    }
  }
  return { data: out, h: oh, w: ow };
}
