/**
 * One denoising split into shards that a cluster runs at once (Slurm array tasks, Kubernetes
 * Indexed Jobs): shard i of N owns a run of whole chunk rows in time, so no two shards write one
 * chunk; the output store is made once, race-free, by whichever shard comes first (a complete
 * skeleton renamed into place), and carries the job it belongs to, so a shard of another job
 * cannot join it. Each finished shard leaves a record, for --resume and `cluster status`.
 */
import { promises as fsp } from 'node:fs';
import * as nodePath from 'node:path';
import { FileSystemStore } from '@zarrita/storage';
import * as zarr from 'zarrita';
import type { StackDType } from '../../data/stack.js';
import { ConfigError, StackError } from '../../errors.js';
import { temporaryPath } from '../atomic.js';
import { ZarrStackWriter, type ZarrWriteOptions } from './writer.js';

export interface ShardSpec {
  /** 0-based. */
  index: number;
  count: number;
}

/** What makes two runs the same job: their outputs may share a store. */
export type ShardJob = Record<string, unknown>;

/** Parses `i/N` (0 ≤ i < N). */
export function parseShard(text: string): ShardSpec {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const [index, count] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!(count >= 1) || !(index >= 0)) throw new ConfigError(`--shard ${text}: expected i/N, e.g. 0/4 for the first of four shards`);
  if (index >= count) throw new ConfigError(`--shard ${text}: shard ${index} does not exist in ${count} shards; i runs from 0 to ${count - 1}`);
  return { index, count };
}

/** The frames [from, to) shard `spec` writes: its share of the chunk rows of `chunkT` frames. */
export function shardFrames(frames: number, chunkT: number, spec: ShardSpec): [number, number] {
  const rows = Math.ceil(frames / chunkT);
  if (spec.count > rows) {
    throw new ConfigError(`--shard ${spec.index}/${spec.count}: the output has only ${rows} chunk rows of ${chunkT} frames; use at most ${rows} shards`);
  }
  const row0 = Math.floor((spec.index * rows) / spec.count);
  const row1 = Math.floor(((spec.index + 1) * rows) / spec.count);
  return [row0 * chunkT, Math.min(frames, row1 * chunkT)];
}

const RECORDS = '.srdtrans-shards';

function recordPath(out: string, spec: ShardSpec): string {
  return nodePath.join(out, RECORDS, `${spec.index}-of-${spec.count}.json`);
}

/**
 * The output store of a sharded job, made if no shard has made it yet. Throws a StackError when
 * `out` holds something else: another job's output, or not an OME-Zarr store at all.
 */
export async function openShardStore(
  out: string, shape: readonly [number, number, number], dtype: StackDType, job: ShardJob, opts: ZarrWriteOptions,
): Promise<{ store: FileSystemStore; chunks: readonly [number, number, number] }> {
  if (!(await exists(out))) {
    const tmp = `${temporaryPath(out.replace(/\/+$/, ''))}-${Math.random().toString(36).slice(2)}`;
    await fsp.mkdir(nodePath.join(tmp, RECORDS), { recursive: true });
    await ZarrStackWriter.create(new FileSystemStore(tmp), shape, dtype, { ...opts, attributes: { srdtrans: job } });
    try {
      await fsp.rename(tmp, out);
    } catch (err) {
      // Another shard made it first (its skeleton is the same): join that one.
      await fsp.rm(tmp, { recursive: true, force: true });
      if (!(await exists(out))) throw err;
    }
  }
  const store = new FileSystemStore(out);
  let theirs: unknown;
  let chunks: number[];
  try {
    const group = await zarr.open(store, { kind: 'group' });
    theirs = group.attrs['srdtrans'];
    chunks = (await zarr.open(group.resolve('0'), { kind: 'array' })).chunks;
  } catch {
    throw new StackError(`--out ${out}: exists and is not the output of a sharded srdtrans denoise; choose another --out, or delete it`);
  }
  if (JSON.stringify(theirs) !== JSON.stringify(job)) {
    throw new StackError(`--out ${out}: holds the output of another job (${describeDifference(theirs, job)}); choose another --out, or delete it to start over`);
  }
  return { store, chunks: chunks as [number, number, number] };
}

function describeDifference(theirs: unknown, ours: ShardJob): string {
  if (typeof theirs !== 'object' || theirs === null) return 'no job record';
  const keys = Object.keys(ours).filter((k) => JSON.stringify((theirs as ShardJob)[k]) !== JSON.stringify(ours[k]));
  return keys.length > 0 ? `another ${keys.join(', ')}` : 'other settings';
}

/** Whether shard `spec` of the job in `out` has finished. */
export async function shardDone(out: string, spec: ShardSpec): Promise<boolean> {
  return exists(recordPath(out, spec));
}

/**
 * The shards of the job in `out` that have finished, from their records alone (a Kubernetes
 * job leaves nothing else to read); null when `out` is not a sharded job's output.
 */
export async function finishedShards(out: string): Promise<ShardSpec[] | null> {
  const names = await fsp.readdir(nodePath.join(out, RECORDS)).catch(() => null);
  if (names === null) return null;
  return names.flatMap((n) => {
    const m = /^(\d+)-of-(\d+)\.json$/.exec(n);
    return m ? [{ index: Number(m[1]), count: Number(m[2]) }] : [];
  }).sort((a, b) => a.index - b.index);
}

/** Records that shard `spec` has written all its chunks (written last, atomically). */
export async function markShardDone(out: string, spec: ShardSpec, record: Record<string, unknown>): Promise<void> {
  const file = recordPath(out, spec);
  const tmp = temporaryPath(file);
  await fsp.writeFile(tmp, JSON.stringify(record, null, 2) + '\n');
  await fsp.rename(tmp, file);
}

async function exists(p: string): Promise<boolean> {
  return fsp.stat(p).then(() => true, () => false);
}
