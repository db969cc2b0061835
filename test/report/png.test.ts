import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { imageMontage, linePlot } from '../../src/node.js';
import { legendRaster, montageLayout, PALETTE, percentile } from '../../src/report/png.js';
import { ADVANCE, glyphRows, GLYPH_HEIGHT, textWidth } from '../../src/report/font.js';

function decode(bytes: Uint8Array): PNG {
  return PNG.sync.read(Buffer.from(bytes));
}

function pixel(png: PNG, x: number, y: number): [number, number, number] {
  const i = (y * png.width + x) * 4;
  return [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
}

function darkPixels(png: PNG, x0: number, y0: number, w: number, h: number): number {
  let n = 0;
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) if (pixel(png, x, y)[0] < 128) n++;
  return n;
}

test('font: every printable ASCII character has a glyph; others fall back to ?', () => {
  for (let c = 33; c <= 126; c++) {
    const rows = Array.from(glyphRows(String.fromCharCode(c)));
    assert.equal(rows.length, GLYPH_HEIGHT);
    assert.ok(rows.some((r) => r !== 0), `glyph ${String.fromCharCode(c)} is empty`);
  }
  assert.ok(Array.from(glyphRows(' ')).every((r) => r === 0));
  assert.deepEqual(Array.from(glyphRows('é')), Array.from(glyphRows('?')));
  // Distinct glyphs for easily confused characters.
  const key = (ch: string): string => Array.from(glyphRows(ch)).join(',');
  for (const [a, b] of [['0', 'O'], ['1', 'l'], ['5', 'S'], ['8', 'B'], ['.', ',']]) assert.notEqual(key(a!), key(b!));
  assert.equal(textWidth('abc', 2), (3 * ADVANCE - 1) * 2);
  assert.equal(textWidth(''), 0);
});

test('imageMontage: size, titles drawn, bright square shows as bright', () => {
  const h = 16;
  const w = 16;
  const square = new Float32Array(h * w);
  for (let y = 6; y < 10; y++) for (let x = 6; x < 10; x++) square[y * w + x] = 1000;
  const ramp = Float32Array.from({ length: h * w }, (_, i) => i % w);
  const panels = [
    { title: 'Square', frame: square, h, w },
    { title: 'Ramp', frame: ramp, h, w },
  ];
  const bytes = imageMontage(panels, { upscale: 8 });
  assert.deepEqual(Array.from(bytes.subarray(0, 8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const png = decode(bytes);
  const layout = montageLayout(panels, { upscale: 8 });
  assert.equal(png.width, layout.width);
  assert.equal(png.height, layout.height);
  const [p0, p1] = layout.panels;
  assert.equal(p0!.w, 128);
  // Title bands hold dark text; the band between panels stays white.
  assert.ok(darkPixels(png, p0!.cellX, p0!.titleY, p0!.cellW, p0!.titleH) > 20, 'title of panel 1 missing');
  assert.ok(darkPixels(png, p1!.cellX, p1!.titleY, p1!.cellW, p1!.titleH) > 20, 'title of panel 2 missing');
  // Square: centre white, corner black.
  assert.deepEqual(pixel(png, p0!.x + 8 * 8 + 3, p0!.y + 8 * 8 + 3), [255, 255, 255]);
  assert.deepEqual(pixel(png, p0!.x + 3, p0!.y + 3), [0, 0, 0]);
  // Ramp: increases left to right.
  const left = pixel(png, p1!.x + 4, p1!.y + 60)[0];
  const mid = pixel(png, p1!.x + 64, p1!.y + 60)[0];
  const right = pixel(png, p1!.x + 124, p1!.y + 60)[0];
  assert.ok(left < mid && mid < right, `${left} ${mid} ${right}`);
});

test('imageMontage: shared range compares panels in the same units', () => {
  const h = 8;
  const w = 8;
  const a = Float32Array.from({ length: h * w }, (_, i) => i);
  const b = a.map((v) => v / 2);
  const panels = [
    { title: 'a', frame: a, h, w },
    { title: 'half', frame: b, h, w },
  ];
  const opts = { upscale: 4, percentiles: [0, 100] as const };
  const L = montageLayout(panels, opts).panels;
  const own = decode(imageMontage(panels, { ...opts, range: 'panel' }));
  const shared = decode(imageMontage(panels, { ...opts, range: 'shared' }));
  const brightest = (png: PNG, k: number): number => pixel(png, L[k]!.x + L[k]!.w - 1, L[k]!.y + L[k]!.h - 1)[0];
  assert.equal(brightest(own, 1), 255);
  assert.equal(brightest(shared, 0), 255);
  assert.ok(Math.abs(brightest(shared, 1) - 128) <= 2, `shared: ${brightest(shared, 1)}`);
  const fixed = decode(imageMontage(panels, { ...opts, range: [0, 63] }));
  assert.equal(brightest(fixed, 0), 255);
  assert.ok(Math.abs(brightest(fixed, 1) - 128) <= 1);
  // Auto upscale makes small frames at least 256 px.
  assert.equal(montageLayout(panels).upscale, 8);
  assert.equal(montageLayout([{ h: 512, w: 300 }]).upscale, 1);
  assert.equal(percentile([1, 2, 3, 4, 5], 50), 3);
  assert.equal(percentile([0, 10], 25), 2.5);
});

test('linePlot: size, title, coloured rising line, log axis tolerates non-positive values', () => {
  const x = Array.from({ length: 50 }, (_, i) => i);
  const bytes = linePlot([{ name: 'rising', x, y: x.map((v) => v * v) }], { title: 'Rising', xLabel: 'x', yLabel: 'y' });
  const png = decode(bytes);
  assert.equal(png.width, 800);
  assert.equal(png.height, 500);
  assert.ok(darkPixels(png, 200, 0, 400, 30) > 30, 'title missing');
  // Pixels of the series colour: the line rises left to right (smaller y on the right).
  const blue = PALETTE[0]!;
  const hits: [number, number][] = [];
  for (let yy = 0; yy < png.height; yy++) {
    for (let xx = 0; xx < png.width; xx++) {
      const [r, g, b] = pixel(png, xx, yy);
      if (r === blue[0] && g === blue[1] && b === blue[2]) hits.push([xx, yy]);
    }
  }
  assert.ok(hits.length > 200, `only ${hits.length} line pixels`);
  const leftmost = hits.reduce((m, p) => (p[0] < m[0] ? p : m));
  const rightmost = hits.filter((p) => p[0] < 700).reduce((m, p) => (p[0] > m[0] ? p : m));
  assert.ok(rightmost[1] < leftmost[1] - 100, `left ${leftmost} right ${rightmost}`);

  const small = decode(linePlot(
    [{ name: 'a', x: [0, 1, 2, 3], y: [1, 0, -1, 10] }, { name: 'b', x: [1, 2], y: [NaN, 5] }, { name: '', x: [], y: [] }],
    { logY: true, width: 300, height: 200, title: 'small' },
  ));
  assert.equal(small.width, 300);
  assert.equal(small.height, 200);
  const empty = decode(linePlot([], { title: 'nothing' }));
  assert.equal(empty.width, 800);
});

test('legendRaster: every entry in its colour, side by side while they fit, in more rows when not', () => {
  const entries = PALETTE.slice(0, 4).map((color, i) => ({ name: `series ${i}`, color }));
  const count = (r: { width: number; height: number; data: Uint8Array }, c: readonly number[]) => {
    let n = 0;
    for (let p = 0; p < r.width * r.height; p++) if (r.data[3 * p] === c[0] && r.data[3 * p + 1] === c[1] && r.data[3 * p + 2] === c[2]) n++;
    return n;
  };
  const wide = legendRaster(entries, 800);
  const narrow = legendRaster(entries, 200);
  for (const e of entries) {
    assert.ok(count(wide, e.color) > 0 && count(narrow, e.color) > 0, `${e.name}'s line sample is missing`);
  }
  assert.equal(wide.height, GLYPH_HEIGHT + 16, 'four short names fit one row of 800 px');
  assert.ok(narrow.height >= 3 * (GLYPH_HEIGHT + 8), `200 px holds one or two per row: ${narrow.height} px high`);
});
