/**
 * `srdtrans cluster`: one denoising job as a Slurm job array whose tasks are `srdtrans denoise
 * --shard i/N` (each writes only its own chunks of the OME-Zarr output), and the state of such a
 * job from its output store and the scheduler.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ConfigError, StackError } from '../errors.js';
import { expandInputs } from '../io/inputs.js';
import { resolveModel } from '../io/checkpoint/model-dir.js';
import { isZarrPath } from '../io/zarr/files.js';
import { shardDone } from '../io/zarr/shards.js';
import { numberOption, parseCommand, stringOption, type OptionSpec } from './args.js';

const exec = promisify(execFile);

const SLURM_SPEC: OptionSpec = {
  model: { type: 'string', help: 'the model, as for denoise' },
  out: { type: 'string', help: 'the OME-Zarr output (a name ending in .zarr)' },
  shards: { type: 'string', help: 'array tasks, each denoising a run of whole chunk rows' },
  'max-parallel': { type: 'string', help: 'at most this many tasks at once (the array\'s %K)' },
  partition: { type: 'string', help: 'Slurm partition' },
  'gpus-per-task': { type: 'string', help: 'GPUs per task (WebGPU through Dawn takes one)' },
  'cpus-per-task': { type: 'string', help: 'CPU cores per task' },
  time: { type: 'string', help: 'time limit per task, e.g. 02:00:00' },
  backend: { type: 'string', help: 'denoise --backend for the tasks', default: 'auto' },
  'dry-run': { type: 'boolean', help: 'print the sbatch script instead of submitting it' },
};

/** What a submitted job left beside its output, for `cluster status`. */
interface JobRecord {
  scheduler: 'slurm';
  jobId: string;
  shards: number;
  logs: string;
}

export async function run(args: string[]): Promise<number> {
  const [what, ...rest] = args;
  if (what === 'slurm') return slurm(rest);
  if (what === 'status') return status(rest);
  if (what === '--help' || what === '-h' || what === undefined) {
    process.stdout.write('usage: srdtrans cluster slurm denoise <stack> --model <model> --out <out.zarr> --shards N [options]\n       srdtrans cluster status <out.zarr>\n');
    return what === undefined ? 2 : 0;
  }
  throw new ConfigError(`cluster: unknown scheduler or action '${what}'; use 'cluster slurm denoise …' or 'cluster status <out.zarr>'`);
}

/** The folder beside the output that holds the job's script, record and task logs. */
function jobFolder(out: string): string {
  return `${out.replace(/\/+$/, '')}.slurm`;
}

async function slurm(args: string[]): Promise<number> {
  const parsed = parseCommand('cluster slurm', 'denoise <stack> --model <model> --out <out.zarr> --shards N [options]', SLURM_SPEC, args);
  if (parsed === 'help') return 0;
  const { values, positionals } = parsed;
  if (positionals[0] !== 'denoise') throw new ConfigError("cluster slurm: the job to run is 'denoise', e.g. srdtrans cluster slurm denoise stack.zarr --model model/ --out out.zarr --shards 8");
  const inputs = await expandInputs(positionals.slice(1));
  if (inputs.length !== 1) throw new ConfigError(`cluster slurm: a job denoises one stack (got ${inputs.length}); submit one job per stack`);
  const modelPath = stringOption(values, 'model');
  const out = stringOption(values, 'out');
  if (!modelPath || !out) throw new ConfigError('cluster slurm: --model and --out are required');
  if (!isZarrPath(out) || /^https?:/i.test(out)) throw new ConfigError(`--out ${out}: a cluster job writes an OME-Zarr folder (a name ending in .zarr)`);
  await resolveModel(modelPath);
  if (values['shards'] === undefined) throw new ConfigError('cluster slurm: --shards N is required');
  const shards = numberOption(values, 'shards', 1, { min: 1, max: 1000, integer: true });
  const maxParallel = values['max-parallel'] === undefined ? null : numberOption(values, 'max-parallel', 1, { min: 1, integer: true });
  const abs = (p: string) => (/^https?:/i.test(p) ? p : path.resolve(p));
  const folder = abs(jobFolder(out));
  const bin = fileURLToPath(new URL('../../bin/srdtrans.js', import.meta.url));
  const q = (w: string) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);
  const directive = (name: string, value: string | undefined) => (value === undefined ? [] : [`#SBATCH --${name}=${value}`]);
  const script = [
    '#!/bin/bash',
    `#SBATCH --job-name=srdtrans-${path.basename(out).replace(/\.zarr\/?$/i, '')}`,
    `#SBATCH --array=0-${shards - 1}${maxParallel ? `%${maxParallel}` : ''}`,
    `#SBATCH --output=${folder}/%A_%a.log`,
    ...directive('partition', stringOption(values, 'partition')),
    ...directive('gpus-per-task', stringOption(values, 'gpus-per-task')),
    ...directive('cpus-per-task', stringOption(values, 'cpus-per-task')),
    ...directive('time', stringOption(values, 'time')),
    '# Each task writes only its own chunks; --resume skips a shard an earlier submission finished.',
    `exec ${q(process.execPath)} ${q(bin)} denoise ${q(abs(inputs[0]!))} --model ${q(abs(modelPath))} --out ${q(abs(out))} \\`,
    `  --shard "$SLURM_ARRAY_TASK_ID/${shards}" --resume --backend ${q(stringOption(values, 'backend') ?? 'auto')}`,
    '',
  ].join('\n');
  if (values['dry-run'] === true) {
    process.stdout.write(script);
    return 0;
  }
  await fs.mkdir(folder, { recursive: true });
  const scriptFile = path.join(folder, 'denoise.sbatch');
  await fs.writeFile(scriptFile, script);
  let jobId: string;
  try {
    jobId = (await exec('sbatch', ['--parsable', scriptFile])).stdout.trim().split(';')[0]!;
  } catch (err) {
    const e = err as { code?: string; stderr?: string };
    throw new ConfigError(e.code === 'ENOENT'
      ? 'cluster slurm: sbatch is not on this machine\'s PATH; run this on a Slurm login node (or use --dry-run and submit the script yourself)'
      : `cluster slurm: sbatch refused the job (${(e.stderr ?? '').trim().split('\n').at(-1)}); script kept in ${scriptFile}`);
  }
  const record: JobRecord = { scheduler: 'slurm', jobId, shards, logs: folder };
  await fs.writeFile(path.join(folder, 'job.json'), JSON.stringify(record, null, 2) + '\n');
  process.stderr.write(`srdtrans cluster: submitted Slurm job ${jobId}: ${shards} shards${maxParallel ? `, at most ${maxParallel} at once` : ''}; follow it with: srdtrans cluster status ${out}\n`);
  process.stdout.write(`${jobId}\n`);
  return 0;
}

type ShardState = 'done' | 'running' | 'pending' | 'failed';

async function status(args: string[]): Promise<number> {
  const parsed = parseCommand('cluster status', '<out.zarr> [--json]', { json: { type: 'boolean', help: 'one JSON object' } }, args);
  if (parsed === 'help') return 0;
  const out = parsed.positionals[0];
  if (!out) throw new ConfigError('cluster status: name the output of a cluster job, e.g. srdtrans cluster status out.zarr');
  let record: JobRecord;
  try {
    record = JSON.parse(await fs.readFile(path.join(jobFolder(out), 'job.json'), 'utf8')) as JobRecord;
  } catch {
    throw new StackError(`cluster status: ${out} has no submitted job (no ${jobFolder(out)}/job.json); submit one with srdtrans cluster slurm denoise …`);
  }
  const queued = await queuedTasks(record.jobId);
  const shards: { shard: number; state: ShardState; error?: string }[] = [];
  for (let i = 0; i < record.shards; i++) {
    const queue = queued.get(i);
    if (await shardDone(out, { index: i, count: record.shards })) shards.push({ shard: i, state: 'done' });
    else if (queue === 'RUNNING' || queue === 'COMPLETING') shards.push({ shard: i, state: 'running' });
    else if (queue) shards.push({ shard: i, state: 'pending' });
    else {
      // Neither finished nor queued: it ended without finishing, or was cancelled before it ran.
      const log = await fs.readFile(path.join(record.logs, `${record.jobId}_${i}.log`), 'utf8').catch(() => null);
      const error = log === null ? 'did not run (cancelled before it started?)' : log.trim().split('\n').filter((l) => l.trim()).at(-1) ?? '(empty log)';
      shards.push({ shard: i, state: 'failed', error });
    }
  }
  const count = (s: ShardState) => shards.filter((x) => x.state === s).length;
  if (parsed.values['json'] === true) {
    process.stdout.write(JSON.stringify({ jobId: record.jobId, shards }) + '\n');
  } else {
    process.stdout.write(`Slurm job ${record.jobId}: ${count('done')} of ${record.shards} shards done, ${count('running')} running, ${count('pending')} pending, ${count('failed')} failed\n`);
    for (const s of shards.filter((x) => x.state === 'failed')) process.stdout.write(`  shard ${s.shard} failed: ${s.error}\n`);
  }
  return 0;
}

/** Array task index → Slurm state, for the tasks of `jobId` still in the queue (empty without squeue). */
async function queuedTasks(jobId: string): Promise<Map<number, string>> {
  const tasks = new Map<number, string>();
  let text = '';
  try {
    text = (await exec('squeue', ['-h', '-r', '-j', jobId, '-o', '%i %T'])).stdout;
  } catch {
    return tasks;
  }
  for (const line of text.split('\n')) {
    const m = /^\d+_(\d+)\s+(\S+)/.exec(line.trim());
    if (m) tasks.set(Number(m[1]), m[2]!);
  }
  return tasks;
}
