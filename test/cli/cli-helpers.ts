/**
 * Helpers for the end-to-end CLI tests: run the real `bin/srdtrans.js` in a child process, make
 * small synthetic stacks, and check that a failure is one actionable line with nothing left behind.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeStackArray, type Stack, type StackDType, writeStack } from '../../src/node.js';

export const BIN = fileURLToPath(new URL('../../bin/srdtrans.js', import.meta.url));

/** The smallest architecture and training run that still exercises every part of the network. */
export const TINY = [
  '--f-maps', '2,4', '--embed-dim', '8', '--heads', '2', '--mlp-dim', '16', '--window', '3', '--blocks', '1',
  '--patch-t', '8', '--patch-xy', '16', '--train-size', '4', '--epochs', '1', '--backend', 'cpu',
  // Every patch trained on, as published: the tests of validation set their own share.
  '--val-fraction', '0',
];

/** TINY with some options replaced, e.g. withOptions(TINY, { '--epochs': '2' }). */
export function withOptions(base: readonly string[], set: Record<string, string>): string[] {
  const out = [...base];
  for (const [k, v] of Object.entries(set)) {
    const i = out.indexOf(k);
    if (i >= 0) out[i + 1] = v;
    else out.push(k, v);
  }
  return out;
}

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  timeoutMs?: number;
  /** Called with each stdout / stderr chunk as it arrives, and the child (to signal it). */
  onOutput?: (stream: 'stdout' | 'stderr', text: string, child: ChildProcess) => void;
}

/** Runs `node bin/srdtrans.js ...args` and collects its output; never throws on a non-zero exit. */
export function runCli(args: readonly string[], opts: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? tmpdir(),
      env: { ...process.env, NODE_OPTIONS: '', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      stdout += s;
      opts.onOutput?.('stdout', stdout, child);
    });
    child.stderr.on('data', (s: string) => {
      stderr += s;
      opts.onOutput?.('stderr', stderr, child);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`srdtrans ${args.join(' ')} ran over ${opts.timeoutMs ?? 120_000} ms\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 120_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

/** A fresh temporary folder, removed by cleanup(). */
export function tempDir(prefix = 'srdtrans-cli-'): { dir: string; file: (...names: string[]) => string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, file: (...names) => path.join(dir, ...names), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A small deterministic generator (LCG) so the test data never changes between runs. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * A noisy stack: a bright disc and a stripe on a background, moving slowly, plus noise whose
 * spread grows with the signal (roughly shot noise). Values fit every dtype asked for.
 */
export function noisyStack(shape: readonly [number, number, number], dtype: StackDType, opts: { seed?: number; level?: number } = {}): Stack {
  const [t, h, w] = shape;
  const rand = lcg(opts.seed ?? 7);
  const level = opts.level ?? 60;
  const data = makeStackArray(dtype, t * h * w);
  for (let k = 0; k < t; k++) {
    const cx = w / 2 + 3 * Math.sin(k / 5);
    const cy = h / 2;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const disc = (x - cx) ** 2 + (y - cy) ** 2 < (Math.min(h, w) / 4) ** 2 ? 2 : 0;
        const stripe = x % 8 < 2 ? 1 : 0;
        const signal = level * (1 + disc + stripe);
        const noise = (rand() + rand() + rand() + rand() - 2) * Math.sqrt(signal) * 1.7;
        const v = Math.max(0, signal + noise);
        data[(k * h + y) * w + x] = dtype === 'float32' ? v : Math.round(v);
      }
    }
  }
  return { data, shape: [t, h, w], dtype };
}

export async function writeNoisy(file: string, shape: readonly [number, number, number], dtype: StackDType, seed = 7): Promise<Stack> {
  const stack = noisyStack(shape, dtype, { seed });
  await writeStack(file, stack);
  return stack;
}

/** Lines of a text, without the empty last one. */
export function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0);
}

/** Parses every stdout line as JSON (fails the test on any line that is not). */
export function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return lines(stdout).map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      assert.fail(`stdout line is not JSON: ${l}`);
    }
  });
}

function show(r: CliResult): string {
  return `exit ${r.status}${r.signal ? ` (signal ${r.signal})` : ''}\n--- stderr ---\n${r.stderr.slice(0, 3000)}\n--- stdout ---\n${r.stdout.slice(0, 1000)}`;
}

/** Exit 0, with the output shown on failure. */
export function assertOk(r: CliResult): void {
  assert.equal(r.status, 0, show(r));
}

/**
 * A user error: exit code 2 and exactly one stderr line, `srdtrans: error: ...`, containing every
 * part given (the file it is about, what to do), with no stack trace, no minified library source
 * and no raw errno text.
 */
export function assertUserError(r: CliResult, ...parts: string[]): string {
  assert.equal(r.status, 2, show(r));
  const errLines = lines(r.stderr);
  assert.equal(errLines.length, 1, `expected one stderr line:\n${show(r)}`);
  const line = errLines[0]!;
  assert.match(line, /^srdtrans: error: \S/, show(r));
  assert.ok(line.length < 600, `message too long (${line.length} chars): ${line.slice(0, 300)}...`);
  assert.doesNotMatch(line, /\bat [\w.<>]+ \(|node:internal|ENOENT|ENOTDIR|EACCES|errno|undefined|\[object /, `raw internals leaked: ${line}`);
  for (const p of parts) assert.ok(line.includes(p), `message lacks "${p}": ${line}`);
  assert.equal(r.stdout, '', `nothing should go to stdout on an error:\n${show(r)}`);
  return line;
}

/** The folder holds nothing (no output, no `.name.partial-<pid>` temporary). */
export function assertEmptyDir(dir: string): void {
  const left = existsSync(dir) ? readdirSync(dir) : [];
  assert.deepEqual(left, [], `files left behind in ${dir}: ${left.join(', ')}`);
}

/** Every chunk file of an OME-Zarr image "0", by path relative to the store (metadata left out). */
export function zarrChunks(store: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name !== 'zarr.json') out.set(path.relative(store, p), readFileSync(p));
    }
  };
  walk(path.join(store, '0'));
  return out;
}
