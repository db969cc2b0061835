/**
 * `srdtrans cluster`: one denoising job as a Slurm job array or a Kubernetes Indexed Job whose
 * tasks are `srdtrans denoise --shard i/N` (each writes only its own chunks of the OME-Zarr
 * output), and the state of such a job from its output store and the scheduler.
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
import { finishedShards, shardDone } from '../io/zarr/shards.js';
import { choiceOption, numberOption, parseCommand, stringOption, type OptionSpec, type ParsedArgs } from './args.js';
import { BACKEND_CHOICES, type BackendChoice } from '../engine/engine.js';
import { jobName, shellWord, type ShardedDenoise } from '../cluster/shard-job.js';
import { sbatchScript } from '../cluster/slurm.js';
import { indexedJob } from '../cluster/kubernetes.js';
import { toYaml } from '../util/yaml.js';

const exec = promisify(execFile);

/** Options every scheduler takes. */
const JOB_SPEC: OptionSpec = {
  model: { type: 'string', help: 'the model, as for denoise' },
  out: { type: 'string', help: 'the OME-Zarr output (a name ending in .zarr)' },
  shards: { type: 'string', help: 'tasks, each denoising a run of whole chunk rows' },
  'max-parallel': { type: 'string', help: 'at most this many tasks at once' },
  'gpus-per-task': { type: 'string', help: 'GPUs per task (WebGPU through Dawn takes one)' },
  'cpus-per-task': { type: 'string', help: 'CPU cores per task' },
  backend: { type: 'string', help: 'denoise --backend for the tasks', default: 'auto' },
};

const SLURM_SPEC: OptionSpec = {
  ...JOB_SPEC,
  partition: { type: 'string', help: 'Slurm partition' },
  time: { type: 'string', help: 'time limit per task, e.g. 02:00:00' },
  'dry-run': { type: 'boolean', help: 'print the sbatch script instead of submitting it' },
};

const K8S_SPEC: OptionSpec = {
  ...JOB_SPEC,
  image: { type: 'string', help: 'container image with srdtrans on its PATH' },
  'volume-claim': { type: 'string', help: 'PersistentVolumeClaim with the stack, model and output; relative paths are inside it' },
  mount: { type: 'string', help: 'where the pods mount the volume claim', default: '/data' },
  namespace: { type: 'string', help: 'Kubernetes namespace' },
  memory: { type: 'string', help: 'memory per task, e.g. 8Gi' },
  retries: { type: 'string', help: 'retries of one shard before it counts as failed', default: 2 },
};

/** What a submitted Slurm job left beside its output, for `cluster status`. */
interface JobRecord {
  scheduler: 'slurm';
  jobId: string;
  shards: number;
  logs: string;
}

const USAGE = [
  'usage: srdtrans cluster slurm denoise <stack> --model <model> --out <out.zarr> --shards N [options]',
  '       srdtrans cluster k8s denoise <stack> --model <model> --out <out.zarr> --shards N --image <image> [options] | kubectl apply -f -',
  '       srdtrans cluster status <out.zarr>',
].join('\n') + '\n';

export async function run(args: string[]): Promise<number> {
  const [what, ...rest] = args;
  if (what === 'slurm') return slurm(rest);
  if (what === 'k8s') return kubernetes(rest);
  if (what === 'status') return status(rest);
  if (what === '--help' || what === '-h' || what === undefined) {
    process.stdout.write(USAGE);
    return what === undefined ? 2 : 0;
  }
  throw new ConfigError(`cluster: unknown scheduler or action '${what}'; use 'cluster slurm denoise …', 'cluster k8s denoise …' or 'cluster status <out.zarr>'`);
}

/** The folder beside the output that holds the job's script, record and task logs. */
function jobFolder(out: string): string {
  return `${out.replace(/\/+$/, '')}.slurm`;
}

/** The job's settings from the command line; `place` maps a path to where the tasks see it. */
function parseJob(command: string, values: ParsedArgs['values'], positionals: string[], inputs: string[], place: (p: string) => string): ShardedDenoise {
  if (positionals[0] !== 'denoise') throw new ConfigError(`cluster ${command}: the job to run is 'denoise', e.g. srdtrans cluster ${command} denoise stack.zarr --model model/ --out out.zarr --shards 8`);
  if (inputs.length !== 1) throw new ConfigError(`cluster ${command}: a job denoises one stack (got ${inputs.length}); submit one job per stack`);
  const model = stringOption(values, 'model');
  const out = stringOption(values, 'out');
  if (!model || !out) throw new ConfigError(`cluster ${command}: --model and --out are required`);
  if (!isZarrPath(out) || isUrl(out)) throw new ConfigError(`--out ${out}: a cluster job writes an OME-Zarr folder (a name ending in .zarr)`);
  if (values['shards'] === undefined) throw new ConfigError(`cluster ${command}: --shards N is required`);
  return {
    input: place(inputs[0]!),
    model: place(model),
    out: place(out),
    shards: numberOption(values, 'shards', 1, { min: 1, max: 1000, integer: true }),
    maxParallel: values['max-parallel'] === undefined ? null : numberOption(values, 'max-parallel', 1, { min: 1, integer: true }),
    backend: choiceOption<BackendChoice>(values, 'backend', BACKEND_CHOICES, 'auto'),
  };
}

const isUrl = (p: string) => /^https?:/i.test(p);

async function slurm(args: string[]): Promise<number> {
  const parsed = parseCommand('cluster slurm', 'denoise <stack> --model <model> --out <out.zarr> --shards N [options]', SLURM_SPEC, args);
  if (parsed === 'help') return 0;
  const { values, positionals } = parsed;
  const inputs = positionals[0] === 'denoise' ? await expandInputs(positionals.slice(1)) : [];
  // A Slurm cluster's nodes share the login node's file system: check the model here.
  const job = parseJob('slurm', values, positionals, inputs, (p) => (isUrl(p) ? p : path.resolve(p)));
  await resolveModel(job.model);
  const folder = jobFolder(job.out);
  const bin = fileURLToPath(new URL('../../bin/srdtrans.js', import.meta.url));
  const script = sbatchScript(job, {
    program: `${shellWord(process.execPath)} ${shellWord(bin)}`, logs: folder, name: jobName(job.out),
    partition: stringOption(values, 'partition'), gpusPerTask: stringOption(values, 'gpus-per-task'),
    cpusPerTask: stringOption(values, 'cpus-per-task'), time: stringOption(values, 'time'),
  });
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
  const record: JobRecord = { scheduler: 'slurm', jobId, shards: job.shards, logs: folder };
  await fs.writeFile(path.join(folder, 'job.json'), JSON.stringify(record, null, 2) + '\n');
  process.stderr.write(`srdtrans cluster: submitted Slurm job ${jobId}: ${job.shards} shards${job.maxParallel ? `, at most ${job.maxParallel} at once` : ''}; follow it with: srdtrans cluster status ${job.out}\n`);
  process.stdout.write(`${jobId}\n`);
  return 0;
}

/**
 * A Kubernetes Indexed Job manifest on stdout, for `kubectl apply -f -`. Paths are as the pods
 * see them (nothing is checked here): relative ones are inside --volume-claim, mounted at --mount.
 */
async function kubernetes(args: string[]): Promise<number> {
  const parsed = parseCommand('cluster k8s', 'denoise <stack> --model <model> --out <out.zarr> --shards N --image <image> [options]', K8S_SPEC, args);
  if (parsed === 'help') return 0;
  const { values, positionals } = parsed;
  const image = stringOption(values, 'image');
  const volumeClaim = stringOption(values, 'volume-claim');
  const mount = stringOption(values, 'mount') ?? '/data';
  if (!mount.startsWith('/')) throw new ConfigError(`--mount ${mount}: must be an absolute path in the container, e.g. /data`);
  const place = (p: string) => {
    if (isUrl(p) || p.startsWith('/')) return p;
    if (!volumeClaim) throw new ConfigError(`${p}: a relative path needs --volume-claim (it is taken inside the volume); or give the path the pods see, from /`);
    return path.posix.join(mount, p);
  };
  const job = parseJob('k8s', values, positionals, positionals.slice(1), place);
  if (!image) throw new ConfigError('cluster k8s: --image is required: a container image with srdtrans on its PATH (README, "Kubernetes")');
  const manifest = indexedJob(job, {
    image, name: jobName(job.out), namespace: stringOption(values, 'namespace'), volumeClaim, mount,
    gpusPerTask: values['gpus-per-task'] === undefined ? undefined : numberOption(values, 'gpus-per-task', 1, { min: 1, integer: true }),
    cpusPerTask: stringOption(values, 'cpus-per-task'), memory: stringOption(values, 'memory'),
    retries: numberOption(values, 'retries', 2, { min: 0, integer: true }),
  });
  const yaml = toYaml(manifest);
  process.stdout.write(yaml.endsWith('\n') ? yaml : `${yaml}\n`);
  process.stderr.write(`srdtrans cluster: an Indexed Job of ${job.shards} shards; submit it with: kubectl apply -f <this file>, follow it with: srdtrans cluster status ${job.out} (where the volume is mounted)\n`);
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
    return recordsOnly(out, parsed.values['json'] === true);
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

/** The state of a job submitted elsewhere (Kubernetes), from the shards' completion records alone. */
async function recordsOnly(out: string, json: boolean): Promise<number> {
  const done = await finishedShards(out);
  if (done === null) {
    throw new StackError(`cluster status: ${out} is not the output of a sharded job (no ${jobFolder(out)}/job.json, no shard records); submit one with srdtrans cluster slurm|k8s denoise …`);
  }
  const count = done[0]?.count ?? null;
  if (json) {
    process.stdout.write(JSON.stringify({ jobId: null, shards: count === null ? [] : Array.from({ length: count }, (_, i) => ({ shard: i, state: done.some((d) => d.index === i) ? 'done' : 'unknown' })) }) + '\n');
  } else {
    const tally = count === null ? 'no shard has finished yet' : `${done.length} of ${count} shards done`;
    process.stdout.write(`${out}: ${tally}; no scheduler record here, so ask the scheduler about the rest (kubectl get pods -l job-name=${jobName(out)})\n`);
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
