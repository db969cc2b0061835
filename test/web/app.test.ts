/**
 * The browser app end to end, in headless Chromium against the `srdtrans app` server: open a
 * simulated stack, train one short epoch of a tiny network, denoise and download, and hold the
 * downloads to the CLI's output for the same stack and model: byte for byte on wasm, within one
 * count on WebGPU. Also a published-format .pth, bad files, and cancelling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import * as path from 'node:path';
import { assertOk, runCli } from '../cli/cli-helpers.js';
import {
  assertSameTiff, cliDenoise, denoiseAndDownload, download, errorText, fill, haveBrowser, loadModel, openApp, openStack, PTH, stackOf,
  TINY_FIELDS, waitForJob, withApp,
} from './browser.js';

/** The CLI's one error line without its `srdtrans: error: ` prefix. */
function cliMessage(stderr: string): string {
  const lines = stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, stderr);
  return lines[0]!.replace(/^srdtrans: error: /, '');
}

test('browser app', { timeout: 170_000 }, (t) => withApp(t, async ({ browser: b, url, tmp, sim }) => {
  /** The CLI's wasm output for tiny.pth, which the WebGPU test compares with. */
  let cliPthOutput: Buffer | undefined;

  await t.test('a stack opened in the page shows `info`; one trained epoch denoises to the CLI\'s bytes on wasm', async () => {
    const { page, pageErrors } = await openApp(b, url, 'wasm');
    assert.match((await page.getByTestId('engine').textContent()) ?? '', /^backend wasm/);
    // The server's COOP/COEP headers: SharedArrayBuffer, so TF.js's threaded wasm.
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    await fill(page, TINY_FIELDS);
    await openStack(page, tmp.file('stack.tif'));
    const info = await runCli(['info', 'stack.tif', '--patch-xy', '16', '--patch-t', '8', '--overlap', '0.5', '--train-size', '4'], { cwd: tmp.dir });
    assertOk(info);
    assert.equal(await page.getByTestId('info').textContent(), info.stdout);
    // The sampling choice: the info's grids follow it, as `info --sampling` prints them.
    await page.getByTestId('sampling').selectOption('temporal');
    const temporal = await runCli(['info', 'stack.tif', '--patch-xy', '16', '--patch-t', '8', '--overlap', '0.5', '--train-size', '4', '--sampling', 'temporal'], { cwd: tmp.dir });
    assertOk(temporal);
    assert.notEqual(temporal.stdout, info.stdout);
    await page.waitForFunction((text) => document.querySelector('[data-testid="info"]')?.textContent === text, temporal.stdout);
    await page.getByTestId('sampling').selectOption('spatial');
    await page.waitForFunction((text) => document.querySelector('[data-testid="info"]')?.textContent === text, info.stdout);

    await page.getByTestId('train').click();
    assert.equal(await waitForJob(page), 'done', await errorText(page));
    assert.match((await page.getByTestId('model').textContent()) ?? '', /trained here on stack\.tif/);
    // Each epoch previews the shown frame.
    assert.equal(await page.locator('#denoised-caption').textContent(), 'preview: the model after epoch 1 (this frame only)');
    const model = await download(page, 'model-download');
    writeFileSync(tmp.file('model.pth'), model.bytes);

    const ours = await denoiseAndDownload(page);
    assert.equal(ours.name, 'stack_denoised.tif');
    assertSameTiff(ours.bytes, await cliDenoise(tmp.dir, 'stack.tif', 'model.pth', ['--patch-xy', '16', '--overlap', '0.5']));
    // Not a trivially equal output: the network changed the values.
    const raw = Float32Array.from(sim.noisy.data);
    const out = await stackOf(ours.bytes, ours.name);
    assert.ok(out.some((v, i) => v !== raw[i]));

    // A region's trace, raw and denoised: 5×5 pixels around (10, 12) in every frame.
    await fill(page, { 'trace-x': 10, 'trace-y': 12 });
    await page.getByTestId('trace').click();
    const regionMean = (data: ArrayLike<number>) => {
      let sum = 0;
      for (let k = 0; k < 24; k++) for (let y = 10; y <= 14; y++) for (let x = 8; x <= 12; x++) sum += data[(k * 32 + y) * 32 + x]!;
      return (sum / (24 * 25)).toFixed(2);
    };
    await page.getByTestId('trace-summary').filter({ hasText: /denoised/ }).waitFor();
    assert.equal(await page.getByTestId('trace-summary').textContent(),
      `mean of x 8–12, y 10–14 over 24 frames: raw ${regionMean(raw)}, denoised ${regionMean(out)}`);
    // Zoomed in (1.5× about the centre), a click a quarter of the way into the panel is pixel 10, not 8.
    await page.getByTestId('zoom-in').click();
    const box = page.locator('.frame-box').first();
    const size = (await box.boundingBox())!.width;
    await box.click({ position: { x: size / 4 + 1, y: size / 4 + 1 } });
    await page.getByTestId('trace-summary').filter({ hasText: /^mean of x 8–12, y 8–12 / }).waitFor();
    assert.equal(await page.getByTestId('trace-x').inputValue(), '10');
    assert.deepEqual(pageErrors, []);
    await page.close();
  });

  await t.test('a PyTorch .pth loads; a patch that does not fit is the CLI\'s message; denoising equals the CLI\'s', async () => {
    const { page, pageErrors } = await openApp(b, url, 'wasm');
    await openStack(page, tmp.file('stack.tif'));
    await loadModel(page, PTH);
    assert.match((await page.getByTestId('model').textContent()) ?? '', /tiny\.pth .*f-maps 2,4/);
    // A .pth carries no training settings: the published patch size, as the CLI takes it.
    assert.equal(await page.getByTestId('patch-xy').inputValue(), '128');
    assert.equal(await page.getByTestId('patch-t').inputValue(), '8');
    // Saved again as the CLI's export formats.
    await page.getByTestId('model-format').selectOption('onnx');
    const onnx = await download(page, 'model-download');
    assert.equal(onnx.name, 'tiny.onnx');
    const cliOnnx = await runCli(['export', '--model', 'tiny.pth', '--onnx', tmp.file('cli.onnx')], { cwd: path.dirname(PTH) });
    assertOk(cliOnnx);
    assert.ok(readFileSync(tmp.file('cli.onnx')).equals(onnx.bytes), 'the app\'s ONNX differs from srdtrans export --onnx');
    await page.getByTestId('model-format').selectOption('bioimageio');
    const zoo = await download(page, 'model-download');
    assert.equal(zoo.name, 'tiny.bioimageio.zip');
    assert.equal(zoo.bytes.subarray(0, 4).toString('latin1'), 'PK\x03\x04');
    assert.ok(zoo.bytes.includes(Buffer.from('rdf.yaml')));

    await page.getByTestId('denoise').click();
    assert.equal(await waitForJob(page), 'failed');
    const tooLarge = await runCli(['denoise', 'stack.tif', '--model', PTH, '--out', 'x.tif', '--backend', 'wasm'], { cwd: tmp.dir });
    assert.equal(await errorText(page), cliMessage(tooLarge.stderr));

    await fill(page, { 'patch-xy': 16 });
    const ours = await denoiseAndDownload(page);
    assert.equal(await errorText(page), '', 'a job that succeeds clears the last error');
    cliPthOutput = await cliDenoise(tmp.dir, 'stack.tif', PTH, ['--patch-xy', '16']);
    assertSameTiff(ours.bytes, cliPthOutput);
    assert.deepEqual(pageErrors, []);
    await page.close();
  });

  await t.test('bad files and values: one line in the error element, as the CLI says it; the page stays usable', async () => {
    const { page, pageErrors } = await openApp(b, url, 'wasm');
    writeFileSync(tmp.file('broken.tif'), 'II*\0 this is not really a TIFF file');
    // Dropped on the drop zone, as a user would.
    await page.evaluate((text) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([text], 'broken.tif', { type: 'image/tiff' }));
      document.getElementById('drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, readFileSync(tmp.file('broken.tif'), 'latin1'));
    assert.equal(await waitForJob(page), 'failed');
    const cli = await runCli(['info', 'broken.tif'], { cwd: tmp.dir });
    const message = await errorText(page);
    assert.equal(message, cliMessage(cli.stderr));
    assert.ok(!message.includes('\n') && message.includes('broken.tif'), message);

    writeFileSync(tmp.file('bad.pth'), 'PK\x03\x04 not a zip archive');
    await page.getByTestId('model-input').setInputFiles(tmp.file('bad.pth'));
    assert.equal(await waitForJob(page), 'failed');
    assert.match(await errorText(page), /^bad\.pth: [^\n]+$/);

    await page.getByTestId('model-input').setInputFiles({ name: 'model.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from('onnx') });
    assert.equal(await waitForJob(page), 'failed');
    assert.match(await errorText(page), /^model\.onnx: not a model this app reads; choose a PyTorch \.pth/);

    await openStack(page, tmp.file('stack.tif'));
    assert.equal(await errorText(page), '');
    await fill(page, { 'patch-xy': 0 });
    await page.getByTestId('train').click();
    assert.equal(await waitForJob(page), 'failed');
    assert.equal(await errorText(page), "patch-xy: '0' is not a whole number ≥ 2");
    assert.deepEqual(pageErrors, []);
    await page.close();
  });

  await t.test('cancel stops training at once and leaves the app usable', async () => {
    const { page, pageErrors } = await openApp(b, url, 'wasm');
    await fill(page, { ...TINY_FIELDS, epochs: 5000 });
    await openStack(page, tmp.file('stack.tif'));
    await page.getByTestId('train').click();
    await page.getByTestId('progress-text').filter({ hasText: /train epoch 1\/5000/ }).waitFor({ timeout: 30_000 });
    await page.getByTestId('cancel').click();
    assert.equal(await waitForJob(page, 10_000), 'cancelled');
    assert.equal(await errorText(page), '');
    assert.equal(await page.getByTestId('cancel').isDisabled(), true);

    await fill(page, { epochs: 1 });
    await page.getByTestId('train').click();
    assert.equal(await waitForJob(page), 'done', await errorText(page));
    await denoiseAndDownload(page);
    assert.deepEqual(pageErrors, []);
    await page.close();
  });

  await t.test('WebGPU (SwiftShader here) denoises within one count of the CLI on wasm', async () => {
    assert.ok(cliPthOutput, 'needs the .pth test\'s CLI output');
    const { page, pageErrors } = await openApp(b, url, 'webgpu');
    assert.match((await page.getByTestId('engine').textContent()) ?? '', /^backend webgpu on /);
    await openStack(page, tmp.file('stack.tif'));
    await loadModel(page, PTH);
    await fill(page, { 'patch-xy': 16 });
    const ours = await denoiseAndDownload(page);
    const gpu = await stackOf(ours.bytes, 'webgpu');
    const wasm = await stackOf(cliPthOutput, 'wasm');
    assert.equal(gpu.length, wasm.length);
    let worst = 0;
    for (let i = 0; i < gpu.length; i++) worst = Math.max(worst, Math.abs(gpu[i]! - wasm[i]!));
    t.diagnostic(`WebGPU against wasm: largest difference ${worst} counts`);
    assert.ok(worst <= 1, `WebGPU output differs from wasm by up to ${worst} counts`);
    assert.deepEqual(pageErrors, []);
    await page.close();
  });

  await t.test('Demo: simulate, fine-tune the bundled prior, denoise and score against the ground truth, as srdtrans demo', async () => {
    const { page, pageErrors } = await openApp(b, url, 'wasm');
    await fill(page, { 'demo-steps': 2 });
    await page.getByTestId('demo').click();
    assert.equal(await waitForJob(page), 'done', await errorText(page));
    const metrics = (await page.getByTestId('metrics').textContent()) ?? '';
    assert.match(metrics, /^raw \(noisy input\)\nSNR +-?[\d.]+ dB\n[\s\S]*\ndenoised \([^)]*; the bundled prior fine-tuned for \d+ steps\)\nSNR +-?[\d.]+ dB[\s\S]*\ngain: SNR [+-][\d.]+ dB, SSIM /);
    // Two steps from random weights do not denoise (test/cli/demo.test.ts): the prior was loaded.
    const gain = Number(/gain: SNR ([+-][\d.]+) dB/.exec(metrics)![1]);
    assert.ok(gain > 4, `SNR gain ${gain} dB`);
    assert.match((await page.getByTestId('info').textContent()) ?? '', /^demo-noisy\.tif\n  shape      96 frames × 64 × 64/);
    assert.match((await page.getByTestId('model').textContent()) ?? '', /^the demo model, fine-tuned from the prior/);
    const out = await download(page, 'download');
    assert.equal(out.name, 'demo-noisy_denoised.tif');
    assert.equal((await stackOf(out.bytes, out.name)).length, 96 * 64 * 64);
    assert.deepEqual(pageErrors, []);
    await page.close();
  });

  await t.test('on a static host without the isolation headers, the app\'s service worker isolates the page', async () => {
    // A plain file server: no COOP/COEP, as many static hosts serve.
    const root = new URL('../../dist-web/', import.meta.url).pathname;
    const plain = createServer((req, res) => {
      const rel = new URL(req.url ?? '/', 'http://x').pathname;
      const file = path.join(root, rel.endsWith('/') ? `${rel}index.html` : rel);
      if (!file.startsWith(root) || !existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      const type = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' }[path.extname(file)];
      res.writeHead(200, type ? { 'Content-Type': type } : {}).end(readFileSync(file));
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = plain.address() as { port: number };
      const { page, pageErrors } = await openApp(b, `http://localhost:${port}/`, 'wasm');
      assert.equal(await page.evaluate(() => navigator.serviceWorker.controller !== null), true);
      assert.equal(await page.evaluate(() => crossOriginIsolated), true);
      assert.deepEqual(pageErrors, []);
      await page.close();
    } finally {
      plain.close();
    }
  });
}));
