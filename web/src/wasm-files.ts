/**
 * TF.js's wasm backend fetches its .wasm binaries at start-up from beside the script that
 * loaded it, which a bundle does not keep. The `?url` imports make Vite emit the three binaries
 * (plain, SIMD, SIMD with threads: the backend picks one by what the browser supports) and hand
 * their served URLs to the backend.
 */
import plain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import simd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import threadedSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';

let done: Promise<void> | undefined;

/** Points the wasm backend at the served binaries; must run before the backend starts. */
export function useServedWasm(): Promise<void> {
  done ??= import('@tensorflow/tfjs-backend-wasm').then(({ setWasmPaths }) => {
    setWasmPaths({
      'tfjs-backend-wasm.wasm': absolute(plain),
      'tfjs-backend-wasm-simd.wasm': absolute(simd),
      'tfjs-backend-wasm-threaded-simd.wasm': absolute(threadedSimd),
    });
  });
  return done;
}

/** The threaded build fetches from its own blob-URL workers, where a relative URL means nothing. */
function absolute(url: string): string {
  return new URL(url, self.location.href).href;
}
