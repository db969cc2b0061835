/**
 * srdtrans-ts, the library: everything that runs in a browser as well as in Node. Stacks come in
 * as bytes or a ByteSource and go out as bytes or to a FrameSink, checkpoints and exports are
 * bytes, training reports events and hands its checkpoints to a sink (memory or a ModelStore).
 * TF.js backends are loaded by initEngine only, the one the caller starts. What needs Node
 * (files and folders, worker and kernel threads, ONNX Runtime, WebGPU through Dawn) is in
 * srdtrans-ts/node (src/node.ts).
 */

export { CheckpointError, ConfigError, InterruptedError, StackError, UserError } from './errors.js';

// Engine
export {
  BACKEND_CHOICES, BROWSER_HOST, describeEngine, hardwareWebGpuAvailable, initEngine, webGpuAvailable,
  type BackendChoice, type BackendName, type EngineHost, type EngineInfo, type GpuResult,
} from './engine/engine.js';

// Stacks: data, byte sources, TIFF on bytes
export { frameOf, makeStackArray, type Stack, type StackArray, type StackDType, type StackFileInfo } from './data/stack.js';
export {
  inferenceGrid, temporalExtent, trainGrid,
  type InferencePatch, type SamplingStrategy, type TrainPatch,
} from './data/patches.js';
export { blobSource, bytesSource, type ByteSource } from './io/source.js';
export { lazyPatchSource, memoryPatchSource, type PatchSource, type RegionReader } from './data/patch-source.js';
export { TiffStackReader, type ReadOptions, type TiffStack, type TiffStackInfo } from './io/tiff/reader.js';
export { encodeTiff, planTiff, TiffEncoder, TiffStreamEncoder, type TiffPlan, type WriteAt, type WriteOptions } from './io/tiff/writer.js';
export type { TiffFormat } from './io/tiff/axes.js';
export { formatStackSummary, summarizeStack, type GridSettings, type StackSummary, type SummaryReader } from './io/stack-summary.js';
// OME-Zarr on any zarrita store (FetchStore for HTTP in a browser and Node)
export { ZarrStackReader, type ZarrReadOptions, type ZarrStackInfo } from './io/zarr/reader.js';
export { defaultChunks, ZarrStackWriter, type ZarrWriteOptions } from './io/zarr/writer.js';
export { omeAttributes, readOmeImage, type OmeAxis, type OmeImage } from './io/zarr/ome.js';

// The network
export { DEFAULT_MODEL_CONFIG, validateModelConfig, type ModelConfig } from './model/config.js';
export { inferModelConfig } from './model/infer-config.js';
export type { StateDict, StateTensor } from './model/params.js';
export { SRDTrans } from './model/srdtrans.js';

// Checkpoints and model stores
export { decodeSafetensors, encodeSafetensors, type SafetensorsFile } from './io/checkpoint/safetensors.js';
export { decodePth, isPthPath, type PthCheckpoint } from './io/checkpoint/pth.js';
export { encodePth } from './io/checkpoint/pth-write.js';
export { pthModel, pthTrainingDefaults, type ResolvedPth } from './io/checkpoint/pth-model.js';
export { memoryStore, type ModelStore } from './io/store.js';
export { directoryStore } from './io/directory-store.js';
export {
  BEST_FILE, chooseStoreWeights, CONFIG_FILE, decodeWeights, encodeModelRecord, epochFileName, LOG_FILE, LOSS_CURVE_FILE, parseModelRecord,
  readTrainingLog, RESUME_FILE, storeSink,
} from './io/checkpoint/model-store.js';

// Training
export { train, type TrainEvent, type TrainOptions, type TrainResult } from './train/loop.js';
export { memorySink, type CheckpointSink, type ResumeState, type RunPosition } from './train/sink.js';
export { flatEpochs, FLAT_TOLERANCE, PUBLISHED_RECIPE, type EpochRecord, type ModelRecord, type TrainingLog, type TrainingRecord } from './train/record.js';
export { TRAIN_DEFAULTS } from './train/defaults.js';
export { learningRate, SCHEDULE_KINDS, type Schedule, type ScheduleKind } from './train/schedule.js';

// Denoising
export {
  denoiseStack, denoiseToStack, sourceMean, stackSource, type DenoiseOptions, type FrameSink, type FrameSource,
} from './infer/denoise.js';
export { tfjsNetwork, type PatchNetwork } from './infer/network.js';
export { outputDType } from './infer/stitch.js';

// Exports: ONNX and the BioImage Model Zoo
export {
  exportOnnx, ONNX_DEFAULT_PATCH_XY, ONNX_INPUT, ONNX_OPSET, ONNX_OUTPUT, type OnnxExportOptions,
} from './export/onnx/export.js';
export {
  buildBioimageioPackage, FILES as BIOIMAGEIO_FILES, zipPackage,
  type Author, type BioimageioOptions, type BioimageioSource, type PackageFile,
} from './export/bioimageio/package.js';

// Ground truth: simulators, metrics, baselines; figures as PNG bytes
export { simulateCalcium, type CalciumOptions, type CalciumResult } from './quality/simulate/calcium.js';
export { simulateSmlm, type SmlmOptions, type SmlmResult } from './quality/simulate/smlm.js';
export {
  errorSplit, evaluate, neuronTraces, pearson, psnrDb, snrDb, ssim, standardizedSnrDb, type ErrorSplit, type Evaluation, type MetricOptions,
} from './quality/metrics.js';
export { formatErrorSplit, formatEvaluation, formatGains } from './quality/format.js';
export { DEMO_MODEL, DEMO_RECIPE, DEMO_STACK, demoDenoisePatchXY, demoTraining, isDemoModel } from './quality/demo.js';
export { gaussianSpatial, gaussianSpatioTemporal, meanImage, movingAverage } from './quality/baselines.js';
export { linearOracle, linearOracleAffordable } from './quality/oracle.js';
export { imageMontage, linePlot, type LinePlotOptions, type MontageOptions, type MontagePanel, type PlotSeries } from './report/png.js';
export { comparisonFigure, type ComparisonInput } from './report/comparison.js';
