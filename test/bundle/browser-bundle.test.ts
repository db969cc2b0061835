/**
 * The browser entry (src/index.ts) bundles for the browser: no Node built-in and no Node-only
 * package is reached from it, and TF.js's wasm and WebGPU backends sit in chunks of their own,
 * loaded by initEngine only. Prints the bundle's size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type BuildFailure, type Metafile, type OutputFile } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE_ONLY_PACKAGES = ['onnxruntime-node', 'onnxruntime-common', 'webgpu', 'tsx', 'pngjs', 'esbuild'];
/** Node's globals, in our own code (a bundler does not see them, a browser lacks them). */
const NODE_GLOBALS = /\b(process\.|Buffer\.|setImmediate\(|__dirname|__filename|require\()/;

interface Bundle {
  outputs: OutputFile[];
  metafile: Metafile;
}

async function bundle(): Promise<Bundle> {
  try {
    const result = await build({
      entryPoints: [path.join(ROOT, 'src/index.ts')],
      absWorkingDir: ROOT,
      bundle: true,
      platform: 'browser',
      format: 'esm',
      splitting: true,
      minify: true,
      write: false,
      metafile: true,
      outdir: 'bundle',
      logLevel: 'silent',
    });
    return { outputs: result.outputFiles, metafile: result.metafile };
  } catch (err) {
    // platform 'browser' refuses every Node built-in (packages' browser fields honoured); say where each was imported.
    const errors = (err as BuildFailure).errors ?? [];
    if (errors.length === 0) throw err;
    assert.fail(errors.map((e) => `${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text}`).join('\n'));
  }
}

function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

test('the browser entry bundles without Node built-ins or Node-only packages; backends load on demand', async () => {
  const { outputs, metafile } = await bundle();
  const inputs = Object.keys(metafile.inputs);
  const nodeOnly = inputs.filter((file) => NODE_ONLY_PACKAGES.some((p) => file.includes(`node_modules/${p}/`)));
  assert.deepEqual(nodeOnly, [], 'Node-only packages reached from src/index.ts');
  const globals = inputs
    .filter((file) => file.startsWith('src/'))
    .filter((file) => NODE_GLOBALS.test(withoutComments(readFileSync(path.join(ROOT, file), 'utf8'))));
  assert.deepEqual(globals, [], 'source files reached from src/index.ts that use Node globals');

  // What loading the entry loads: its chunk and the chunks it imports statically.
  const entry = Object.keys(metafile.outputs).find((file) => metafile.outputs[file]!.entryPoint === 'src/index.ts');
  assert.ok(entry, 'no entry chunk');
  const eagerChunks = new Set<string>();
  const visit = (file: string): void => {
    if (eagerChunks.has(file)) return;
    eagerChunks.add(file);
    for (const i of metafile.outputs[file]!.imports) if (i.kind === 'import-statement') visit(i.path);
  };
  visit(entry);
  const eager = [...eagerChunks].flatMap((file) => Object.keys(metafile.outputs[file]!.inputs)).filter((file) => /tfjs-backend-(cpu|wasm|webgpu)\//.test(file));
  assert.deepEqual(eager, [], 'backends loaded with the entry (they should load through initEngine)');

  const size = (files: OutputFile[]): { raw: number; gzip: number } => ({
    raw: files.reduce((a, f) => a + f.contents.length, 0),
    gzip: files.reduce((a, f) => a + gzipSync(f.contents, { level: 9 }).length, 0),
  });
  const js = outputs.filter((f) => f.path.endsWith('.js'));
  const main = size(js.filter((f) => eagerChunks.has(path.relative(ROOT, f.path))));
  const all = size(js);
  const kb = (n: number): string => `${(n / 1024).toFixed(0)} KiB`;
  console.log(`browser bundle of src/index.ts (esbuild, minified): loaded with the entry ${kb(main.raw)} (gzip ${kb(main.gzip)}); ` +
    `with every backend's chunks ${kb(all.raw)} (gzip ${kb(all.gzip)}) in ${js.length} files`);
});
