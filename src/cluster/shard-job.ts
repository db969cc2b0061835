/**
 * One denoising job split into shards for a cluster scheduler: every task runs the same
 * `srdtrans denoise … --shard i/N --resume`, with i from the scheduler (Slurm's array task id,
 * Kubernetes' completion index), so a task that is rerun skips or repairs its own chunks.
 */
export interface ShardedDenoise {
  /** The stack as the tasks see it (a path or an http(s) URL). */
  input: string;
  model: string;
  /** The OME-Zarr output, as the tasks see it. */
  out: string;
  shards: number;
  /** At most this many tasks at once; null: the scheduler's choice. */
  maxParallel: number | null;
  backend: string;
}

/** The task's command line after the program, with `index` (shell text) giving the shard number. */
export function shardCommand(job: ShardedDenoise, index: string): string {
  return `denoise ${shellWord(job.input)} --model ${shellWord(job.model)} --out ${shellWord(job.out)} `
    + `--shard "${index}/${job.shards}" --resume --backend ${shellWord(job.backend)}`;
}

/** A name for the job from its output's file name: `srdtrans-<name>`, lower case, DNS-safe (Kubernetes). */
export function jobName(out: string): string {
  const base = out.replace(/\/+$/, '').split('/').at(-1)!.replace(/\.zarr$/i, '');
  const safe = base.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return `srdtrans-${safe || 'denoise'}`.slice(0, 63).replace(/-+$/, '');
}

/** `word` as one POSIX shell word: bare where that is safe, else single-quoted. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
