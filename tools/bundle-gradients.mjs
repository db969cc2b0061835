// Writes dist/tfjs-gradients.js: TF.js's gradient registrations as one ES module for Node (`npm run build`).
//
// tfjs-core's Node build registers no gradients, and its ES module build, which does, cannot be
// loaded by Node (its imports name no file extensions). Bundled, the registrations bring their own
// copy of the ops they use; TF.js keeps its engine and its kernel and gradient registries in
// globals, so that copy works on the tensors and registries of the one Node loads.
import { build } from 'esbuild';

await build({
  entryPoints: ['@tensorflow/tfjs-core/dist/register_all_gradients.js'],
  outfile: 'dist/tfjs-gradients.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  minify: true,
  legalComments: 'eof',
  logLevel: 'warning',
});
