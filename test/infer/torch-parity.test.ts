/**
 * Issue 5 acceptance: the same checkpoint and stack give the same denoised uint16 stack as the
 * PyTorch reference of the published inference (tools/torch-reference/denoise.py), at most one
 * count apart. The fixture (stack, tiny trained model as .pth, reference output) is made by
 * tools/make-torch-parity-fixture.py; this test needs no torch.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readStack } from '../../src/node.js';
import { assertOk, runCli, tempDir } from '../cli/cli-helpers.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/torch-parity/', import.meta.url));
const manifest = JSON.parse(readFileSync(`${FIXTURE}manifest.json`, 'utf8')) as {
  denoise: { patchXY: number; overlap: number; scale: number };
};
const tmp = tempDir('srdtrans-parity-');
after(tmp.cleanup);

/** Max |a − b| and how many voxels differ at all. */
function countDiffs(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; differing: number } {
  let max = 0;
  let differing = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d > 0) differing++;
    if (d > max) max = d;
  }
  return { max, differing };
}

describe('srdtrans denoise against the PyTorch reference (same .pth, same stack)', () => {
  // wasm only: the cpu backend needs minutes for the 36 patches on two cores.
  for (const backend of ['wasm']) {
    it(`${backend}: uint16 output at most 1 count from the reference`, async (t) => {
      const out = tmp.file(`ours-${backend}.tif`);
      const { patchXY, overlap, scale } = manifest.denoise;
      assertOk(await runCli([
        'denoise', `${FIXTURE}noisy.tif`, '--model', `${FIXTURE}model.pth`, '--out', out,
        '--patch-xy', String(patchXY), '--overlap', String(overlap), '--scale', String(scale), '--backend', backend,
      ], { timeoutMs: 300_000 }));
      const ours = await readStack(out);
      const reference = await readStack(`${FIXTURE}reference.tif`);
      assert.equal(ours.dtype, 'uint16');
      assert.equal(reference.dtype, 'uint16');
      assert.deepEqual(ours.shape, reference.shape);
      const { max, differing } = countDiffs(ours.data, reference.data);
      t.diagnostic(`${backend}: max |diff| ${max} count(s); ${differing} of ${ours.data.length} voxels differ`);
      assert.ok(max <= 1, `max |ours − reference| = ${max} counts (${differing} voxels differ)`);
      // One-count flips come from float rounding near an integer and are rare; a systematic
      // difference (say, rounding instead of truncation) moves half the voxels by one.
      assert.ok(differing <= ours.data.length / 100, `${differing} of ${ours.data.length} voxels differ by one count`);
    });
  }
});
