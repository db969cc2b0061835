import type { YamlValue } from '../util/yaml.js';
import { shardCommand, type ShardedDenoise } from './shard-job.js';

/** What a Kubernetes cluster needs beyond the denoising itself. */
export interface KubernetesOptions {
  /** A container image with srdtrans on its PATH. */
  image: string;
  name: string;
  namespace?: string;
  /** A PersistentVolumeClaim holding the stack, model and output, mounted at `mount`. */
  volumeClaim?: string;
  mount: string;
  /** nvidia.com/gpu per task (WebGPU through Dawn takes one). */
  gpusPerTask?: number;
  cpusPerTask?: string;
  memory?: string;
  /** Retries of one shard before it counts as failed (the others go on). */
  retries: number;
}

/**
 * A batch/v1 Indexed Job: completion index i runs shard i. Failures are counted per index
 * (backoffLimitPerIndex, Kubernetes ≥ 1.29), so one bad node does not fail the whole stack.
 */
export function indexedJob(job: ShardedDenoise, o: KubernetesOptions): YamlValue {
  const limits: Record<string, string> = {};
  const requests: Record<string, string> = {};
  if (o.gpusPerTask) limits['nvidia.com/gpu'] = String(o.gpusPerTask);
  if (o.cpusPerTask) requests['cpu'] = o.cpusPerTask;
  if (o.memory) requests['memory'] = limits['memory'] = o.memory;
  const resources = { ...(Object.keys(requests).length ? { requests } : {}), ...(Object.keys(limits).length ? { limits } : {}) };
  const volume = o.volumeClaim ? 'data' : undefined;
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: o.name, ...(o.namespace ? { namespace: o.namespace } : {}), labels: { 'app.kubernetes.io/name': 'srdtrans' } },
    spec: {
      completionMode: 'Indexed',
      completions: job.shards,
      parallelism: job.maxParallel ?? job.shards,
      backoffLimitPerIndex: o.retries,
      template: {
        metadata: { labels: { 'app.kubernetes.io/name': 'srdtrans' } },
        spec: {
          restartPolicy: 'Never',
          containers: [{
            name: 'denoise',
            image: o.image,
            // The Job controller sets JOB_COMPLETION_INDEX in every pod of an Indexed Job.
            command: ['sh', '-c', `exec srdtrans ${shardCommand(job, '$JOB_COMPLETION_INDEX')}`],
            ...(Object.keys(resources).length ? { resources } : {}),
            ...(volume ? { volumeMounts: [{ name: volume, mountPath: o.mount }] } : {}),
          }],
          ...(volume ? { volumes: [{ name: volume, persistentVolumeClaim: { claimName: o.volumeClaim! } }] } : {}),
        },
      },
    },
  };
}
