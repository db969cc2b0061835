import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** The browser app: built from web/ into dist-web/, which `srdtrans app` serves. */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  build: {
    outDir: fileURLToPath(new URL('../dist-web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // Not minified: TF.js's threaded wasm starts its threads from the source text of one of its
    // functions (Function.prototype.toString), which must keep the names it shares with the
    // code around it. Minified, that text refers to renamed variables and every thread fails.
    minify: false,
    // The engine's chunks (TF.js and its backends) are large by nature; they load in the worker.
    chunkSizeWarningLimit: 4096,
  },
  worker: { format: 'es' },
  server: {
    headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
  },
});
