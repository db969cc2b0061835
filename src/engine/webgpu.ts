/** TF.js's WebGPU backend on a given adapter, with our convolution and fused attention kernels. */
import * as tf from '@tensorflow/tfjs-core';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { registerWebGpuAttentionKernels } from './kernels/attention.webgpu.js';
import { registerWebGpuConvKernels } from './kernels/conv3d.webgpu.js';
import type { WebGpuTuning } from './kernels/webgpu-tuning.js';

let registered = false;

/** Registers the 'webgpu' backend on `adapter` (once) and our kernels, launched as `tuning` says (default: untuned). */
export function registerWebGpu(adapter: GPUAdapter, tuning?: WebGpuTuning): void {
  if (!registered) {
    registered = true;
    // The package registers a factory of its own on import where navigator.gpu exists, one that
    // asks for the default limits; ours asks for the adapter's.
    if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
    tf.registerBackend('webgpu', async () => {
      const limits = adapter.limits;
      const device = await adapter.requestDevice({
        // Lets tf.profile time each kernel on the GPU (kernelTimeMs); unused otherwise.
        requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
        requiredLimits: {
          maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
          maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
          maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
          maxBufferSize: limits.maxBufferSize,
          maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
          maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
        },
      });
      return new WebGPUBackend(device, adapter.info);
    });
  }
  registerWebGpuConvKernels(tuning);
  registerWebGpuAttentionKernels();
}
