/**
 * `srdtrans cluster k8s denoise` prints a Kubernetes Indexed Job whose index i runs shard i/N.
 * The manifest is read back as YAML and validated against the batch/v1 Job schema (the
 * kubernetes-models package's validators, generated from Kubernetes' OpenAPI specification).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parse } from 'yaml';
import { Job } from 'kubernetes-models/batch/v1';
import { runCli } from '../cli/cli-helpers.js';

async function manifest(extra: string[]): Promise<Record<string, any>> {
  const r = await runCli(['cluster', 'k8s', 'denoise', 'stacks/rec 1.zarr', '--model', 'models/m', '--out', 'out/Rec_1.zarr', '--shards', '8', '--image', 'ghcr.io/lab/srdtrans:0.1', ...extra]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /kubectl apply/);
  return parse(r.stdout) as Record<string, any>;
}

it('cluster k8s writes an Indexed Job that passes the Job schema, shard i from the completion index', async () => {
  const job = await manifest(['--volume-claim', 'microscopy', '--max-parallel', '3', '--gpus-per-task', '1', '--cpus-per-task', '4', '--memory', '8Gi', '--namespace', 'imaging']);
  new Job(job).validate();
  assert.equal(job['metadata'].name, 'srdtrans-rec-1');
  assert.equal(job['metadata'].namespace, 'imaging');
  const spec = job['spec'];
  assert.deepEqual([spec.completionMode, spec.completions, spec.parallelism, spec.backoffLimitPerIndex], ['Indexed', 8, 3, 2]);
  const pod = spec.template.spec;
  assert.equal(pod.restartPolicy, 'Never', 'backoffLimitPerIndex needs it');
  const [container] = pod.containers;
  assert.equal(container.image, 'ghcr.io/lab/srdtrans:0.1');
  assert.deepEqual(container.command.slice(0, 2), ['sh', '-c']);
  assert.equal(container.command[2], "exec srdtrans denoise '/data/stacks/rec 1.zarr' --model /data/models/m --out /data/out/Rec_1.zarr --shard \"$JOB_COMPLETION_INDEX/8\" --resume --backend auto");
  assert.deepEqual(container.resources, { requests: { cpu: '4', memory: '8Gi' }, limits: { 'nvidia.com/gpu': '1', memory: '8Gi' } });
  assert.deepEqual(container.volumeMounts, [{ name: 'data', mountPath: '/data' }]);
  assert.deepEqual(pod.volumes, [{ name: 'data', persistentVolumeClaim: { claimName: 'microscopy' } }]);
});

it('the schema check can fail: a manifest with a wrong field type is rejected', async () => {
  const job = await manifest(['--volume-claim', 'microscopy']);
  new Job(job).validate();
  assert.throws(() => new Job({ ...job, spec: { ...job['spec'], completions: 'eight' } }).validate());
});

it('cluster k8s: relative paths without a volume claim, or no image, are one line and exit 2', async () => {
  const noClaim = await runCli(['cluster', 'k8s', 'denoise', 'in.zarr', '--model', '/m', '--out', '/o.zarr', '--shards', '2', '--image', 'x']);
  assert.equal(noClaim.status, 2);
  assert.match(noClaim.stderr, /^srdtrans: error: in\.zarr: a relative path needs --volume-claim.*\n$/);
  const noImage = await runCli(['cluster', 'k8s', 'denoise', '/in.zarr', '--model', '/m', '--out', '/o.zarr', '--shards', '2']);
  assert.equal(noImage.status, 2);
  assert.match(noImage.stderr, /--image is required/);
  assert.equal(noImage.stdout, '');
});
