/**
 * `srdtrans app`, the server alone (no browser): the isolation headers on every response, the
 * types browsers insist on (wasm, module scripts), nothing served from outside the app's folder,
 * and bad options as one line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { assertUserError, runCli } from '../cli/cli-helpers.js';
import { browserMissing, startApp } from './browser.js';

test('srdtrans app serves the built app with COOP/COEP, and only the app', async (t) => {
  if (browserMissing()?.startsWith('the app is not built')) {
    if (process.env['SRDTRANS_REQUIRE_BROWSER'] === '1') assert.fail('the app is not built (npm run build:web)');
    t.skip('the app is not built (npm run build:web)');
    return;
  }
  const server = await startApp();
  try {
    const page = await fetch(server.url);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(page.headers.get('cross-origin-embedder-policy'), 'require-corp');
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const html = await page.text();
    const script = /src="\.\/(assets\/index-[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, 'the page names its script');
    const js = await fetch(new URL(script, server.url));
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.equal(js.headers.get('cross-origin-resource-policy'), 'same-origin');

    const missing = await fetch(new URL('nothing-here.js', server.url));
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('cross-origin-embedder-policy'), 'require-corp');
    // fetch() normalises `..` away; a raw path must not climb out either.
    for (const raw of ['/../package.json', '/%2e%2e/package.json', '/assets/..%2f..%2fpackage.json']) {
      const res = await fetch(server.url.replace(/\/$/, '') + raw);
      assert.equal(res.status, 404, raw);
    }
  } finally {
    await server.stop();
  }
});

test('srdtrans app: a bad or busy port is one line', async () => {
  assertUserError(await runCli(['app', '--port', 'x']), '--port x');
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  try {
    const port = (busy.address() as { port: number }).port;
    assertUserError(await runCli(['app', '--port', String(port)]), `port ${port}`, 'in use', '--port');
  } finally {
    busy.close();
  }
});
