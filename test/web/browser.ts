/**
 * Helpers for the browser app's end-to-end tests: the `srdtrans app` server in a child process,
 * Debian's Chromium driven by playwright-core (nothing downloaded), and waiting for the page's
 * jobs. Without Chromium the tests skip, or fail when SRDTRANS_REQUIRE_BROWSER=1 (CI).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { bytesSource, encodeTiff, simulateCalcium, TiffStackReader, type CalciumResult } from '../../src/index.js';
import { assertOk, BIN, runCli, tempDir } from '../cli/cli-helpers.js';

export const CHROMIUM = process.env['SRDTRANS_CHROMIUM'] ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or null when they can. */
export function browserMissing(): string | null {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install chromium, or set SRDTRANS_CHROMIUM)`;
  if (!existsSync(new URL('../../dist-web/index.html', import.meta.url))) return 'the app is not built (npm run build:web)';
  return null;
}

/** False (after skipping the test, or failing it where a browser is required) when there is none. */
export function haveBrowser(t: TestContext): boolean {
  const missing = browserMissing();
  if (!missing) return true;
  if (process.env['SRDTRANS_REQUIRE_BROWSER'] === '1') assert.fail(`SRDTRANS_REQUIRE_BROWSER=1 but ${missing}`);
  t.skip(missing);
  return false;
}

export interface AppServer {
  url: string;
  stop(): Promise<void>;
}

/** `srdtrans app --port 0`, as a user starts it; resolves with the URL it prints. */
export function startApp(): Promise<AppServer> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [BIN, 'app', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`srdtrans app printed no URL in 20 s: ${out}`)), 20_000);
    const onData = (chunk: Buffer) => {
      out += String(chunk);
      const url = /http:\/\/\S+\//.exec(out)?.[0];
      if (!url) return;
      clearTimeout(timer);
      resolve({
        url,
        stop: () => new Promise((done) => {
          if (child.exitCode !== null) return done();
          child.once('exit', () => done());
          child.kill('SIGTERM');
        }),
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => (out += String(c)));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`srdtrans app exited (${code}) before serving: ${out}`));
    });
  });
}

/** Headless Chromium with WebGPU (SwiftShader where there is no GPU). */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--enable-unsafe-webgpu'] });
}

/**
 * A fresh page of the app, its engine started on `backend`. Page errors fail the test: the app
 * must report everything in the page itself.
 */
export async function openApp(browser: Browser, url: string, backend: 'auto' | 'webgpu' | 'wasm' = 'wasm'): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await browser.newPage({ acceptDownloads: true });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(url);
  await waitForJob(page);
  if (backend !== 'auto') {
    await page.getByTestId('backend').selectOption(backend);
    assert.equal(await waitForJob(page), 'done', await errorText(page));
  }
  return { page, pageErrors };
}

/** Waits until the last job has ended; returns the status (done, failed or cancelled). */
export async function waitForJob(page: Page, timeout = 90_000): Promise<string> {
  const status = page.getByTestId('status');
  await page.waitForFunction(
    () => ['done', 'failed', 'cancelled'].includes(document.querySelector('[data-testid=status]')?.textContent ?? ''),
    null, { timeout },
  );
  return (await status.textContent()) ?? '';
}

export async function errorText(page: Page): Promise<string> {
  const error = page.getByTestId('error');
  return (await error.isVisible()) ? ((await error.textContent()) ?? '') : '';
}

/** Fills the form's fields by test id. */
export async function fill(page: Page, values: Record<string, string | number>): Promise<void> {
  for (const [id, value] of Object.entries(values)) await page.getByTestId(id).fill(String(value));
}

/** Clicks an element that makes the browser download a file; returns the file's bytes and name. */
export async function download(page: Page, testId: string): Promise<{ bytes: Buffer; name: string }> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testId).click()]);
  const path = await file.path();
  return { bytes: readFileSync(path), name: file.suggestedFilename() };
}

/** A published-format .pth of the CLI tests' tiny network. */
export const PTH = new URL('../fixtures/pth/tiny.pth', import.meta.url).pathname;

/** The CLI tests' tiny network (test/cli/cli-helpers.ts TINY), as the form's fields. */
export const TINY_FIELDS = {
  'f-maps': '2,4', 'embed-dim': 8, heads: 2, 'mlp-dim': 16, window: 3, blocks: 1,
  'patch-t': 8, 'patch-xy': 16, overlap: 0.5, 'train-size': 4, epochs: 1, 'val-fraction': 0, seed: 0,
};

/** Opens one or more stack files through the file input; the job must succeed. */
export async function openStack(page: Page, files: string | string[]): Promise<void> {
  await page.getByTestId('stack-input').setInputFiles(files);
  assert.equal(await waitForJob(page), 'done', await errorText(page));
}

/** Loads a model file through the model input; the job must succeed. */
export async function loadModel(page: Page, file: string): Promise<void> {
  await page.getByTestId('model-input').setInputFiles(file);
  assert.equal(await waitForJob(page), 'done', await errorText(page));
}

/** `srdtrans denoise --backend wasm` of `stack` in `dir` (extra options after); the TIFF it writes. */
export async function cliDenoise(dir: string, stack: string, model: string, options: string[]): Promise<Buffer> {
  const out = `cli-${stack}`;
  const cli = await runCli(['denoise', stack, '--model', model, '--out', out, '--backend', 'wasm', ...options], { cwd: dir });
  assertOk(cli);
  return readFileSync(`${dir}/${out}`);
}

/** Byte-for-byte equality of the app's TIFF with the CLI's, saying where they part. */
export function assertSameTiff(ours: Uint8Array, theirs: Uint8Array): void {
  assert.ok(Buffer.from(theirs).equals(ours), `the app's TIFF differs from the CLI's: ${firstDifference(ours, theirs)}`);
}

export async function denoiseAndDownload(page: Page): Promise<{ bytes: Buffer; name: string }> {
  await page.getByTestId('denoise').click();
  assert.equal(await waitForJob(page), 'done', await errorText(page));
  return download(page, 'download');
}

export async function stackOf(bytes: Uint8Array, name: string): Promise<Float32Array> {
  const reader = await TiffStackReader.open(bytesSource(bytes), name);
  return Float32Array.from(await reader.readFrames(0, reader.shape[0]));
}

export function firstDifference(a: Uint8Array, b: Uint8Array): string {
  if (a.length !== b.length) return `lengths ${a.length} and ${b.length}`;
  const i = a.findIndex((v, k) => v !== b[k]);
  return `first difference at byte ${i} of ${a.length}`;
}

export interface AppFixture {
  browser: Browser;
  url: string;
  tmp: ReturnType<typeof tempDir>;
  /** The simulated stack written to tmp's stack.tif. */
  sim: CalciumResult;
}

/**
 * The app served by `srdtrans app`, Chromium, and a small simulated stack (stack.tif in a
 * temporary folder) for `body`'s subtests; all stopped and removed after. Skips without a browser.
 */
export async function withApp(t: TestContext, body: (app: AppFixture) => Promise<void>): Promise<void> {
  if (!haveBrowser(t)) return;
  const tmp = tempDir('srdtrans-web-');
  const sim = simulateCalcium({ shape: [24, 32, 32], seed: 3, photons: 5 });
  writeFileSync(tmp.file('stack.tif'), encodeTiff(sim.noisy));
  let server: AppServer | undefined;
  let browser: Browser | undefined;
  try {
    server = await startApp();
    browser = await launchBrowser();
    await body({ browser, url: server.url, tmp, sim });
  } finally {
    await browser?.close();
    await server?.stop();
    tmp.cleanup();
  }
}
