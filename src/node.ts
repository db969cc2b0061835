/**
 * srdtrans-ts/node: the library (index.ts) plus what only Node has: stack files, model folders,
 * checkpoint files, worker threads for patches and kernel threads for wasm, ONNX Runtime, and
 * WebGPU through Dawn. initEngine here is index.ts's with Node's host (Dawn, and TF.js's
 * gradients from its Node build).
 */

export * from './index.js';

export { hardwareWebGpuAvailable, initEngine, webGpuAvailable } from './engine/backend.js';
export { autoKernelThreads, startKernelThreads, type KernelThreadOptions, type KernelThreads } from './engine/kernel-threads.js';

export { fileSource, openStack, readStack, readStackInfo, TiffStackWriter, writeStack } from './io/tiff/files.js';
export { expandInputs } from './io/inputs.js';
export { isZarrPath, openZarr, ZarrFileWriter } from './io/zarr/files.js';
export {
  createStackFile, openStackFile, readStackFile, writeStackFile,
  type StackFileOptions, type StackFileReader, type StackFileWriter,
} from './io/stack-file.js';
export { readPth, writePth } from './io/checkpoint/files.js';
export { writeBioimageioPackage, writeOnnx } from './export/files.js';
export {
  chooseWeights, latestEpochFile, readModelRecord, readWeights, resolveModel, writeModelRecord, writeWeights,
  type ResolvedModel,
} from './io/checkpoint/model-dir.js';
export { folderStore, modelFolder } from './io/checkpoint/model-folder.js';

export { WorkerPool } from './infer/worker-pool.js';
export { autoParallel, type AutoParallelOptions } from './infer/auto-parallel.js';
export { loadOnnxRuntime, onnxNetwork, type OnnxNetworkOptions, type OnnxRuntime } from './infer/onnx-network.js';
