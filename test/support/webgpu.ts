import type { TestContext } from 'node:test';
import { webGpuAvailable } from '../../src/node.js';

/**
 * Whether a WebGPU test can run. Without an adapter it is skipped, except in CI
 * (SRDTRANS_REQUIRE_WEBGPU=1), where a missing adapter must fail the run rather than hide it.
 */
export async function webGpuOrSkip(t: TestContext): Promise<boolean> {
  if (await webGpuAvailable()) return true;
  if (process.env['SRDTRANS_REQUIRE_WEBGPU'] === '1') throw new Error('WebGPU required (SRDTRANS_REQUIRE_WEBGPU=1) but no adapter was found');
  t.skip('no WebGPU adapter here');
  return false;
}
