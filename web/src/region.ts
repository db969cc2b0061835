/**
 * A trace's region: a polygon in pixel coordinates (a pixel's square spans [x, x+1) × [y, y+1)),
 * covering the pixels whose centres lie inside it (even-odd rule). A rectangle of whole pixels
 * is the polygon of its corners; a lasso is the polygon of the pointer's path.
 */

export type Point = readonly [x: number, y: number];

/** The polygon around the pixels [x0, x1) × [y0, y1). */
export function rectangle(x0: number, y0: number, x1: number, y1: number): Point[] {
  return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];
}

/** The pixels inside `polygon` in a h × w frame, as indices y·w + x in raster order. */
export function polygonPixels(polygon: readonly Point[], h: number, w: number): Uint32Array {
  const out: number[] = [];
  if (polygon.length < 3) return Uint32Array.from(out);
  const ys = polygon.map((p) => p[1]);
  const yFrom = Math.max(0, Math.floor(Math.min(...ys)));
  const yTo = Math.min(h, Math.ceil(Math.max(...ys)));
  for (let y = yFrom; y < yTo; y++) {
    const cy = y + 0.5;
    // Where the row of centres crosses the edges; a centre is inside between odd and even crossings.
    const crossings: number[] = [];
    for (let i = 0; i < polygon.length; i++) {
      const [ax, ay] = polygon[i]!;
      const [bx, by] = polygon[(i + 1) % polygon.length]!;
      if ((ay <= cy) !== (by <= cy)) crossings.push(ax + ((cy - ay) / (by - ay)) * (bx - ax));
    }
    crossings.sort((a, b) => a - b);
    for (let k = 0; k + 1 < crossings.length; k += 2) {
      // Centres x + 0.5 in [left, right).
      const from = Math.max(0, Math.ceil(crossings[k]! - 0.5));
      const to = Math.min(w, Math.ceil(crossings[k + 1]! - 0.5));
      for (let x = from; x < to; x++) out.push(y * w + x);
    }
  }
  return Uint32Array.from(out);
}

/** "x,y x,y …" as the page's polygon field writes it, one decimal. */
export function formatPolygon(polygon: readonly Point[]): string {
  return polygon.map(([x, y]) => `${round1(x)},${round1(y)}`).join(' ');
}

/** The polygon field's text; null where it is not at least three "x,y" pairs of numbers. */
export function parsePolygon(text: string): Point[] | null {
  const points = text.trim().split(/\s+/).map((pair) => pair.split(',').map(Number));
  if (points.length < 3 || points.some((p) => p.length !== 2 || !p.every(Number.isFinite))) return null;
  return points.map(([x, y]) => [x!, y!] as const);
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}
