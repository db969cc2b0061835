/**
 * Cross-origin isolation (SharedArrayBuffer, so wasm threads) needs two response headers. The
 * `srdtrans app` server sends them; a static host that cannot is covered by a service worker
 * (public/isolation-sw.js) that adds them to every response of this origin. It takes effect on
 * the next load, so the page reloads once after installing it.
 */
const RELOADED = 'srdtrans-isolation-reload';

export async function keepIsolated(): Promise<void> {
  if (globalThis.crossOriginIsolated || !('serviceWorker' in navigator) || !window.isSecureContext) return;
  try {
    const registration = await navigator.serviceWorker.register(new URL('isolation-sw.js', document.baseURI));
    await navigator.serviceWorker.ready;
    // Installed but the page still lacks the headers: it was loaded before the worker ran.
    // One reload at most, so a host that strips them anyway does not loop.
    if (registration.active && !sessionStorage.getItem(RELOADED)) {
      sessionStorage.setItem(RELOADED, '1');
      location.reload();
      await new Promise(() => undefined);
    }
  } catch {
    // No isolation: the wasm backend runs single-threaded, which is slower but correct.
  }
}
