/**
 * The browser app's longer workflows, in headless Chromium against `srdtrans app`: models kept
 * in the origin-private file system across reloads (use, rename, delete), a cancelled run
 * resumed after a reload, manual contrast, polygon and lasso regions, several stacks at once,
 * and a large output streamed to the browser's storage.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { encodeTiff, simulateCalcium, trainGrid } from '../../src/index.js';
import { assertOk, runCli } from '../cli/cli-helpers.js';
import {
  assertSameTiff, cliDenoise, denoiseAndDownload, download, errorText, fill, firstDifference, haveBrowser, loadModel, openApp, openStack, PTH,
  stackOf, TINY_FIELDS, waitForJob, withApp,
} from './browser.js';

/** The fixture's stack.tif (withApp). */
const SHAPE = [24, 32, 32] as const;

/** Reloads the page, as a user would, and starts the engine on wasm again. */
async function reload(page: Page): Promise<void> {
  await page.reload();
  await waitForJob(page);
  await page.getByTestId('backend').selectOption('wasm');
  assert.equal(await waitForJob(page), 'done', await errorText(page));
}

async function waitForEntries(page: Page, count: number): Promise<string[]> {
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=model-entry]').length === n, count);
  return page.getByTestId('model-name').allTextContents();
}

function entry(page: Page, name: string) {
  return page.getByTestId('model-entry').filter({ has: page.getByTestId('model-name').getByText(name, { exact: true }) });
}

/** The grey levels of the raw panel's pixels, as drawn. */
function rawPixels(page: Page): Promise<number[]> {
  return page.evaluate(() => {
    const canvas = document.getElementById('raw') as HTMLCanvasElement;
    const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    return Array.from(data.filter((_, i) => i % 4 === 0));
  });
}

/** Even-odd point in polygon, for pixel centres (an implementation of the test's own). */
function inside(polygon: ReadonlyArray<readonly [number, number]>, px: number, py: number): boolean {
  let odd = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i]!;
    const [xj, yj] = polygon[j]!;
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) odd = !odd;
  }
  return odd;
}

/** What the page's trace summary says of a polygon over a stack: pixel count and the mean over frames of each frame's mean. */
function polygonSummary(data: ArrayLike<number>, text: string): string {
  const polygon = text.trim().split(/\s+/).map((p) => p.split(',').map(Number) as [number, number]);
  const [t, h, w] = SHAPE;
  const pixels: number[] = [];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (inside(polygon, x + 0.5, y + 0.5)) pixels.push(y * w + x);
  let total = 0;
  for (let k = 0; k < t; k++) {
    let sum = 0;
    for (const i of pixels) sum += data[k * h * w + i]!;
    // The page's traces are float32.
    total += Math.fround(sum / pixels.length);
  }
  return `mean of the ${pixels.length} pixels inside the polygon over ${t} frames: raw ${(total / t).toFixed(2)}`;
}

test('browser app workflows', { timeout: 300_000 }, (t) => withApp(t, async ({ browser: b, url, tmp, sim }) => {

  await t.test('trained and loaded models are kept in the browser: listed after a reload, used, renamed, deleted', async () => {
    const { page, pageErrors } = await openApp(b, url, 'wasm');
    await fill(page, TINY_FIELDS);
    await openStack(page, tmp.file('stack.tif'));
    await page.getByTestId('train').click();
    assert.equal(await waitForJob(page), 'done', await errorText(page));
    const trained = await download(page, 'model-download');
    await loadModel(page, PTH);
    assert.deepEqual(await waitForEntries(page, 2), ['tiny.pth', 'stack-model']);
    assert.match(await entry(page, 'stack-model').getByTestId('model-details').textContent() ?? '', /^f-maps 2,4, embed 8, 2 heads, .*; 1 of 1 epochs; /);
    assert.match(await entry(page, 'tiny.pth').getByTestId('model-details').textContent() ?? '', /^f-maps 2,4, .*; loaded from a file; /);

    await reload(page);
    assert.deepEqual(await waitForEntries(page, 2), ['tiny.pth', 'stack-model']);
    assert.equal(await page.getByTestId('model').textContent(), 'none');
    await entry(page, 'stack-model').getByTestId('model-use').click();
    assert.equal(await waitForJob(page), 'done', await errorText(page));
    assert.match(await page.getByTestId('model').textContent() ?? '', /^stack-model: trained here on stack\.tif \(newest: epoch-001\.safetensors/);
    // The weights read back from the browser's storage are those trained.
    const reloaded = await download(page, 'model-download');
    assert.ok(reloaded.bytes.equals(trained.bytes), `the saved model differs from the trained one: ${firstDifference(reloaded.bytes, trained.bytes)}`);
    assert.equal(reloaded.name, 'stack-model.pth');

    // Renamed from the keyboard: Enter keeps the new name, also after a reload.
    await entry(page, 'tiny.pth').getByTestId('model-rename').click();
    await page.getByTestId('model-rename-input').fill('published tiny');
    await page.getByTestId('model-rename-input').press('Enter');
    assert.equal(await waitForJob(page), 'done', await errorText(page));
    assert.deepEqual(await waitForEntries(page, 2), ['published tiny', 'stack-model']);
    await reload(page);
    assert.deepEqual(await waitForEntries(page, 2), ['published tiny', 'stack-model']);

    page.once('dialog', (dialog) => void dialog.accept());
    await entry(page, 'published tiny').getByTestId('model-delete').click();
    assert.equal(await waitForJob(page), 'done', await errorText(page));
    assert.deepEqual(await waitForEntries(page, 1), ['stack-model']);
    await reload(page);
    assert.deepEqual(await waitForEntries(page, 1), ['stack-model']);
    assert.deepEqual(pageErrors, []);
    await page.close();
  });

  await t.test('a cancelled run, resumed after a reload, ends with the weights of a run never interrupted', async () => {
    const fields = { ...TINY_FIELDS, epochs: 3 };
    const { page, pageErrors } = await openApp(b, url, 'wasm');
    await fill(page, fields);
    await openStack(page, tmp.file('stack.tif'));
    await page.getByTestId('train').click();
    assert.equal(await waitForJob(page), 'done', await errorText(page));
    const straight = await download(page, 'model-download');
    // A finished run goes on only to more epochs.
    await page.getByTestId('resume').click();
    assert.equal(await waitForJob(page), 'failed');
    assert.equal(await errorText(page), 'epochs 3: stack-model has trained 3 epochs already; set epochs above 3 to go on');

    await page.getByTestId('train').click();
    await page.getByTestId('progress-text').filter({ hasText: /step [2-9]\/27/ }).waitFor({ timeout: 30_000 });
    await page.getByTestId('cancel').click();
    assert.equal(await waitForJob(page), 'cancelled');
    await waitForEntries(page, 2);
    assert.equal(await page.getByTestId('resume').isDisabled(), false);

    await reload(page);
    await waitForEntries(page, 2);
    assert.equal(await page.getByTestId('resume').isDisabled(), true, 'nothing is in use after a reload');
    await openStack(page, tmp.file('stack.tif'));
    const interrupted = page.getByTestId('model-entry').first();
    assert.match(await interrupted.getByTestId('model-details').textContent() ?? '', /[0-2] of 3 epochs, can be resumed/);
    await interrupted.getByTestId('model-use').click();
    assert.equal(await waitForJob(page), 'done', await errorText(page));
    assert.equal(await page.getByTestId('epochs').inputValue(), '3');
    await page.getByTestId('resume').click();
    assert.equal(await waitForJob(page), 'done', await errorText(page));
    const steps = Number(/^trained (\d+) steps/.exec(await page.getByTestId('progress-text').textContent() ?? '')?.[1]);
    assert.ok(steps > 0 && steps < 27, `the resumed run trained ${steps} of 27 steps`);
    const resumed = await download(page, 'model-download');
    assert.ok(resumed.bytes.equals(straight.bytes), `resumed weights differ from an uninterrupted run's: ${firstDifference(resumed.bytes, straight.bytes)}`);
    assert.match(await interrupted.getByTestId('model-details').textContent() ?? '', /3 of 3 epochs; /);
    assert.deepEqual(pageErrors, []);
    await page.close();
  });

  await t.test('manual contrast draws the typed grey levels; Auto goes back to the percentiles', async () => {
    const { page, pageErrors } = await openApp(b, url, 'wasm');
    await openStack(page, tmp.file('stack.tif'));
    const auto = await rawPixels(page);
    assert.equal(await page.getByTestId('contrast-mode').textContent(), 'auto (percentiles)');
    // The fields show the automatic range, from which typing starts.
    assert.ok(Number(await page.getByTestId('contrast-min').inputValue()) < Number(await page.getByTestId('contrast-max').inputValue()));

    const frame = sim.noisy.data.subarray(0, SHAPE[1] * SHAPE[2]);
    const [lo, hi] = [Math.min(...frame), Math.max(...frame)].map((v, i) => Math.round(v + (i === 0 ? 0.3 : -0.3) * (Math.max(...frame) - Math.min(...frame))));
    await fill(page, { 'contrast-min': lo!, 'contrast-max': hi! });
    assert.equal(await page.getByTestId('contrast-mode').textContent(), 'manual');
    const expected = Uint8ClampedArray.from(frame, (v) => Math.max(0, Math.min(255, (v - lo!) * (255 / (hi! - lo!)))));
    assert.deepEqual(await rawPixels(page), Array.from(expected));

    await page.getByTestId('contrast-auto').click();
    assert.equal(await page.getByTestId('contrast-mode').textContent(), 'auto (percentiles)');
    assert.deepEqual(await rawPixels(page), auto);
    assert.deepEqual(pageErrors, []);
    await page.close();
  });

  await t.test('a polygon region, typed or drawn, traces the mean over the pixels inside it', async () => {
    const { page, pageErrors } = await openApp(b, url, 'wasm');
    await openStack(page, tmp.file('stack.tif'));
    const typed = '3.3,4.2 25.7,6.1 18.4,27.6 5.2,19.9';
    await fill(page, { 'trace-polygon': typed });
    await page.getByTestId('trace-polygon-plot').click();
    await page.getByTestId('trace-summary').filter({ hasText: /polygon/ }).waitFor();
    assert.equal(await page.getByTestId('trace-summary').textContent(), polygonSummary(sim.noisy.data, typed));

    // A lasso dragged on the raw panel: its path is the polygon, written into the field.
    await page.getByTestId('lasso').click();
    const box = (await page.locator('#raw').boundingBox())!;
    const at = (x: number, y: number) => [box.x + (x / SHAPE[2]) * box.width, box.y + (y / SHAPE[1]) * box.height] as const;
    await page.mouse.move(...at(6, 6));
    await page.mouse.down();
    for (const [x, y] of [[20, 5], [27, 14], [22, 26], [9, 24], [4, 15]] as const) await page.mouse.move(...at(x, y), { steps: 3 });
    await page.mouse.up();
    await page.waitForFunction((before) => (document.getElementById('trace-polygon') as HTMLInputElement).value !== before, typed);
    const drawn = await page.getByTestId('trace-polygon').inputValue();
    assert.ok(drawn.split(' ').length >= 6, drawn);
    await page.getByTestId('trace-summary').filter({ hasText: polygonSummary(sim.noisy.data, drawn) }).waitFor();
    assert.equal(await page.getByTestId('lasso').getAttribute('aria-pressed'), 'false');
    assert.deepEqual(pageErrors, []);
    await page.close();
  });

  await t.test('several stacks: training uses every one, denoising the shown one, as the CLI does', async () => {
    const other = simulateCalcium({ shape: [24, 32, 48], seed: 4, photons: 5 });
    writeFileSync(tmp.file('second.tif'), encodeTiff(other.noisy));
    const { page, pageErrors } = await openApp(b, url, 'wasm');
    await fill(page, TINY_FIELDS);
    await openStack(page, [tmp.file('stack.tif'), tmp.file('second.tif')]);
    assert.deepEqual(await page.getByTestId('stack-select').locator('option').allTextContents(), ['stack.tif', 'second.tif']);
    assert.match(await page.getByTestId('info').textContent() ?? '', /^stack\.tif\n/);

    await page.getByTestId('train').click();
    assert.equal(await waitForJob(page), 'done', await errorText(page));
    assert.match(await page.getByTestId('model').textContent() ?? '', /trained here on stack\.tif, second\.tif/);
    const grid = { patchXY: 16, patchT: 8, overlap: 0.5, trainSize: 4 };
    const both = trainGrid([SHAPE, [24, 32, 48]], grid).length;
    assert.notEqual(both, trainGrid([SHAPE], grid).length);
    assert.match(await page.getByTestId('progress-text').textContent() ?? '', new RegExp(`^trained ${both} steps`));
    const model = await download(page, 'model-download');
    writeFileSync(tmp.file('both.pth'), model.bytes);

    await page.getByTestId('stack-select').selectOption('1');
    assert.equal(await waitForJob(page), 'done', await errorText(page));
    const info = await runCli(['info', 'second.tif', '--patch-xy', '16', '--patch-t', '8', '--overlap', '0.5', '--train-size', '4'], { cwd: tmp.dir });
    assertOk(info);
    assert.equal(await page.getByTestId('info').textContent(), info.stdout);
    const ours = await denoiseAndDownload(page);
    assert.equal(ours.name, 'second_denoised.tif');
    assertSameTiff(ours.bytes, await cliDenoise(tmp.dir, 'second.tif', 'both.pth', ['--patch-xy', '16', '--overlap', '0.5']));
    assert.deepEqual(pageErrors, []);
    await page.close();
  });

  await t.test('an output over the threshold streams to the browser\'s storage; its download equals the in-memory one byte for byte', async () => {
    const { page, pageErrors } = await openApp(b, url, 'wasm');
    await openStack(page, tmp.file('stack.tif'));
    await loadModel(page, PTH);
    await fill(page, { 'patch-xy': 16 });
    const inMemory = await denoiseAndDownload(page);
    assert.doesNotMatch(await page.getByTestId('progress-text').textContent() ?? '', /streamed/);

    await fill(page, { 'stream-above': 0 });
    const streamed = await denoiseAndDownload(page);
    assert.match(await page.getByTestId('progress-text').textContent() ?? '', /streamed to the browser's storage$/);
    assert.ok(streamed.bytes.equals(inMemory.bytes), `the streamed TIFF differs from the in-memory one: ${firstDifference(streamed.bytes, inMemory.bytes)}`);
    const stored = await page.evaluate(async () => {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('srdtrans-denoised');
      return (await (await dir.getFileHandle('stack_denoised.tif')).getFile()).size;
    });
    assert.equal(stored, streamed.bytes.length);
    // The viewer reads the denoised frames back from that file.
    await fill(page, { 'trace-polygon': '2,2 30,2 30,30 2,30' });
    await page.getByTestId('trace-polygon-plot').click();
    await page.getByTestId('trace-summary').filter({ hasText: /denoised/ }).waitFor();
    const out = await stackOf(streamed.bytes, streamed.name);
    const text = polygonSummary(out, '2,2 30,2 30,30 2,30').replace(/^.*: raw /, '');
    assert.match(await page.getByTestId('trace-summary').textContent() ?? '', new RegExp(`, denoised ${text.replace('.', '\\.')}$`));
    assert.deepEqual(pageErrors, []);
    await page.close();
  });
}));
