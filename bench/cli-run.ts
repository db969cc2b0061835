import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TiffStackWriter } from '../src/io/tiff/index.js';
import { Rng } from '../src/util/rng.js';

const BIN = fileURLToPath(new URL('../bin/srdtrans.js', import.meta.url));
/** Loaded into the child before the CLI: writes its peak RSS (the kernel's ru_maxrss, KiB) where asked. */
const MAX_RSS_HOOK =
  'data:text/javascript,import{writeFileSync}from"node:fs";' +
  'process.on("exit",()=>writeFileSync(process.env.SRDTRANS_MAXRSS_FILE,String(process.resourceUsage().maxRSS)))';

export interface CliRun {
  stdout: string;
  /** Peak resident memory of the child, KiB. */
  maxRssKiB: number;
  /** Wall time of the whole child process, seconds. */
  seconds: number;
}

/** Runs `srdtrans ...args` in a child process; throws on a non-zero exit. */
export function runCli(args: string[]): Promise<CliRun> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'srdtrans-rss-'));
  const rssFile = path.join(dir, 'maxrss');
  const t0 = performance.now();
  return new Promise<CliRun>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', MAX_RSS_HOOK, BIN, ...args], {
      env: { ...process.env, SRDTRANS_MAXRSS_FILE: rssFile, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (status) => {
      if (status !== 0) reject(new Error(`srdtrans ${args[0]} exited with ${status}: ${stderr.trim()}`));
      else resolve({ stdout, maxRssKiB: Number(readFileSync(rssFile, 'utf8')), seconds: (performance.now() - t0) / 1000 });
    });
  }).finally(() => rmSync(dir, { recursive: true, force: true }));
}

/** Seeded noise around a slowly varying background, written frame by frame (uint16). */
export async function writeSyntheticStack(file: string, shape: [number, number, number], seed: number): Promise<void> {
  const [t, h, w] = shape;
  const rng = new Rng(seed);
  const writer = await TiffStackWriter.create(file, shape, 'uint16');
  try {
    const frame = new Uint16Array(h * w);
    for (let k = 0; k < t; k++) {
      for (let i = 0; i < frame.length; i++) {
        const level = 300 + 200 * Math.sin((i % w) / 17 + k / 25);
        frame[i] = Math.max(0, Math.round(level + Math.sqrt(level) * rng.normal()));
      }
      await writer.writeFrames(frame);
    }
    await writer.close();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

/** The machine and its load, for the first line of a benchmark's output. */
export function machineLine(): string {
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  return `machine: ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.cpus().length}, load average ${load}, Node ${process.version}`;
}
