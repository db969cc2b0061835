import { shardCommand, shellWord, type ShardedDenoise } from './shard-job.js';

/** What a Slurm site asks of an array job beyond the denoising itself. */
export interface SlurmOptions {
  /** The command that starts srdtrans on the nodes (node and bin/srdtrans.js, quoted). */
  program: string;
  /** Folder for the tasks' logs (%A_%a.log). */
  logs: string;
  name: string;
  partition?: string;
  gpusPerTask?: string;
  cpusPerTask?: string;
  time?: string;
}

/** An sbatch script: a job array 0..N−1 (%K at once) whose task i denoises shard i. */
export function sbatchScript(job: ShardedDenoise, o: SlurmOptions): string {
  const directive = (name: string, value: string | undefined) => (value === undefined ? [] : [`#SBATCH --${name}=${value}`]);
  return [
    '#!/bin/bash',
    `#SBATCH --job-name=${o.name}`,
    `#SBATCH --array=0-${job.shards - 1}${job.maxParallel ? `%${job.maxParallel}` : ''}`,
    `#SBATCH --output=${o.logs}/%A_%a.log`,
    ...directive('partition', o.partition),
    ...directive('gpus-per-task', o.gpusPerTask),
    ...directive('cpus-per-task', o.cpusPerTask),
    ...directive('time', o.time),
    '# Each task writes only its own chunks; --resume skips a shard an earlier submission finished.',
    `exec ${o.program} ${shardCommand(job, '$SLURM_ARRAY_TASK_ID')}`,
    '',
  ].join('\n');
}
