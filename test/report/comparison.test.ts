import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import { comparisonFigure, type Stack } from '../../src/node.js';
import { montageLayout, PALETTE } from '../../src/report/png.js';

const [T, H, W] = [20, 32, 32];

/** A stack whose frames are a bright disc (label 1) and a dimmer one (label 2), pulsing over time. */
function scene(): { clean: Stack; labels: Int32Array } {
  const labels = new Int32Array(H * W);
  const data = new Float32Array(T * H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if ((y - 10) ** 2 + (x - 10) ** 2 < 25) labels[y * W + x] = 1;
      if ((y - 22) ** 2 + (x - 22) ** 2 < 25) labels[y * W + x] = 2;
    }
  }
  for (let t = 0; t < T; t++) {
    for (let p = 0; p < H * W; p++) {
      const k = labels[p]!;
      data[t * H * W + p] = 100 + (k === 1 ? 20 + 10 * Math.sin(t) : k === 2 ? 10 + 5 * Math.cos(t) : (p % 7) * 0.3);
    }
  }
  return { clean: { data, shape: [T, H, W], dtype: 'float32' }, labels };
}

function panelPixels(png: PNG, panel: number): number[] {
  const layout = montageLayout([{ h: H, w: W }, { h: H, w: W }, { h: H, w: W }], { upscale: 'auto', title: 't' });
  const p = layout.panels[panel]!;
  const out: number[] = [];
  for (let y = 0; y < p.h; y += layout.upscale) for (let x = 0; x < p.w; x += layout.upscale) out.push(png.data[((p.y + y) * png.width + p.x + x) * 4]!);
  return out;
}

test('comparison figure: the three frames share the ground truth\'s display range, and traces are drawn below', () => {
  const { clean, labels } = scene();
  // Denoised at half the contrast: with one display range it must look flatter than the truth.
  const flat = new Float32Array(clean.data.length);
  for (let i = 0; i < flat.length; i++) flat[i] = 0.5 * clean.data[i]! + 0.5 * 105;
  const png = PNG.sync.read(Buffer.from(comparisonFigure({
    noisy: clean, outputs: [{ title: 'denoised', stack: { ...clean, data: flat } }], clean, labels, frame: 3, frameRate: 1, title: 't',
  })));
  const [noisy, denoised, truth] = [0, 1, 2].map((i) => panelPixels(png, i));
  assert.deepEqual(noisy, truth, 'the same values are drawn with the same grey in every panel');
  const span = (v: number[]) => Math.max(...v) - Math.min(...v);
  assert.ok(span(denoised!) < 0.75 * span(truth!), `a flatter frame must look flatter: span ${span(denoised!)} vs ${span(truth!)}`);
  const montageHeight = montageLayout([{ h: H, w: W }, { h: H, w: W }, { h: H, w: W }], { upscale: 'auto', title: 't' }).height;
  assert.ok(png.height > montageHeight + 200, `no room for the trace plots: ${png.height} px high`);
  // The traces fill their plots: the row's one legend lies below them, where the output's colour shows.
  const [r, g, b] = PALETTE[0]!;
  let legendInk = 0;
  for (let y = png.height - 20; y < png.height; y++) {
    for (let x = 0; x < png.width; x++) {
      const i = (y * png.width + x) * 4;
      if (png.data[i] === r && png.data[i + 1] === g && png.data[i + 2] === b) legendInk++;
    }
  }
  assert.ok(legendInk > 10, 'no shared legend below the trace plots');
});
