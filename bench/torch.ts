/**
 * The PyTorch reference (tools/torch-reference) as the benches run it: where it is, whether it
 * can run, the process environments it is timed in, and a script run that returns its JSON line.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REFERENCE = fileURLToPath(new URL('../tools/torch-reference', import.meta.url));

const LIBS = '/usr/lib/x86_64-linux-gnu';
const JEMALLOC = `${LIBS}/libjemalloc.so.2`;
const TCMALLOC = `${LIBS}/libtcmalloc_minimal.so.4`;
/** jemalloc as PyTorch's CPU performance guides set it: large blocks and freed pages kept. */
const JEMALLOC_CONF = 'oversize_threshold:0,background_thread:true,metadata_thp:auto,dirty_decay_ms:-1,muzzy_decay_ms:-1';
/** GNU OpenMP (Debian's torch): threads pinned, and spinning instead of sleeping between kernels. */
const OPENMP = { OMP_PROC_BIND: 'close', GOMP_SPINCOUNT: 'infinite' };

/** A process environment for the reference: allocator and OpenMP settings. */
export interface TorchEnvironment {
  name: string;
  env: Record<string, string>;
}

/**
 * The environments `npm run bench -- torch-env` measures, those whose libraries this machine has
 * (Debian: libjemalloc2, libtcmalloc-minimal4). glibc's own tunables stop it returning freed
 * memory to the kernel after each large tensor, whose fresh pages this VM faults in slowly.
 */
export function torchEnvironments(): TorchEnvironment[] {
  const all: (TorchEnvironment & { needs?: string })[] = [
    { name: 'plain', env: {} },
    { name: 'glibc top pad', env: { MALLOC_TOP_PAD_: '1073741824' } },
    { name: 'glibc no trim', env: { MALLOC_TOP_PAD_: '1073741824', MALLOC_TRIM_THRESHOLD_: '68719476736', MALLOC_MMAP_THRESHOLD_: '4294967296' } },
    { name: 'openmp', env: { ...OPENMP } },
    { name: 'jemalloc', env: { LD_PRELOAD: JEMALLOC, MALLOC_CONF: JEMALLOC_CONF }, needs: JEMALLOC },
    { name: 'jemalloc + openmp', env: { LD_PRELOAD: JEMALLOC, MALLOC_CONF: JEMALLOC_CONF, ...OPENMP }, needs: JEMALLOC },
    { name: 'tcmalloc', env: { LD_PRELOAD: TCMALLOC }, needs: TCMALLOC },
    { name: 'tcmalloc + openmp', env: { LD_PRELOAD: TCMALLOC, ...OPENMP }, needs: TCMALLOC },
  ];
  return all.filter((e) => e.needs === undefined || existsSync(e.needs)).map(({ name, env }) => ({ name, env }));
}

/**
 * The environment `bench compare` times the reference in: the fastest `bench torch-env`
 * measured on the 2-core AMD EPYC, else the next best this machine has. There, eval forward
 * (1,1,32,128,128) / training step (1,1,32,64,64), medians of 5: plain 1967 / 2956 ms,
 * glibc top pad 907 / 2147, jemalloc + openmp 964 / 1533, tcmalloc + openmp 920 / 1511.
 */
export function tunedTorchEnvironment(): TorchEnvironment {
  const have = torchEnvironments();
  for (const name of ['tcmalloc + openmp', 'jemalloc + openmp', 'glibc top pad']) {
    const e = have.find((x) => x.name === name);
    if (e) return e;
  }
  return have[0]!;
}

export function describeEnvironment(e: TorchEnvironment): string {
  const vars = Object.entries(e.env).map(([k, v]) => `${k}=${v}`).join(' ');
  return `${e.name}${vars ? ` (${vars})` : ''}`;
}

/** Whether the reference can run: torch imports and runtime.py accepts the NumPy (1.x). */
export function probeTorch(python: string): { ok: boolean; detail: string } {
  const code = 'import sys, torch, numpy; sys.path.insert(0, sys.argv[1]); import runtime; runtime.setup(1); ' +
    'print(f"torch {torch.__version__}, NumPy {numpy.__version__}, BLAS {runtime.blas_library()}")';
  const r = spawnSync(python, ['-c', code, REFERENCE], { encoding: 'utf8' });
  if (r.error) return { ok: false, detail: `${python}: ${r.error.message}` };
  if (r.status !== 0) return { ok: false, detail: `${python}: ${r.stderr.trim().split('\n').at(-1) ?? `exit status ${r.status}`}` };
  return { ok: true, detail: `${r.stdout.trim()} (${python})` };
}

/** Runs a reference script in `environment` and parses the JSON line it prints last; its stderr tail goes into a failure's message. */
export function runPython(
  python: string, script: string, args: string[], environment: TorchEnvironment = { name: 'plain', env: {} },
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [path.join(REFERENCE, script), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...environment.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${script} exited with ${code}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>);
    });
  });
}
