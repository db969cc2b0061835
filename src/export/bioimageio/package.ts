import { ConfigError, CheckpointError } from '../../errors.js';
import { patchGap } from '../../data/patches.js';
import type { Stack } from '../../data/stack.js';
import { denoiseToStack } from '../../infer/denoise.js';
import type { SRDTrans } from '../../model/srdtrans.js';
import { simulateCalcium } from '../../quality/simulate/calcium.js';
import { imageMontage } from '../../report/png.js';
import { WRAPPED_INPUT, WRAPPED_OUTPUT, withPatchNormalisation } from './wrapper.js';
import { bioimageioReadme } from './readme.js';
import type { ModelRecord } from '../../train/record.js';
import { encodeNpy } from '../../io/checkpoint/npy.js';
import { exportOnnx, ONNX_OPSET } from '../onnx/export.js';
import { toYaml, type YamlValue } from '../../util/yaml.js';
import { writeStoredZip } from '../../io/checkpoint/zip.js';

/**
 * A BioImage Model Zoo package (model description format 0.5) of a trained model: rdf.yaml,
 * ONNX weights with the per-patch normalisation inside the graph (bioimageio-graph.ts), a test
 * input simulated at the model's patch size with the test output our own network computes from
 * it, a cover image, the training configuration and a README. deepImageJ, ilastik and
 * bioimage.io's Python tools (napari) run such a package without this program.
 */

/** The model description format written (bioimageio.spec 0.5.7, model format 0.5). */
const FORMAT_VERSION = '0.5.7';

export const FILES = {
  rdf: 'rdf.yaml',
  weights: 'weights.onnx',
  testInput: 'test_input.npy',
  testOutput: 'test_output.npy',
  cover: 'cover.png',
  readme: 'README.md',
  config: 'config.json',
} as const;

/** What bioimage.io's test runner may tolerate between the package's test output and a rerun. */
const TOLERANCE = { relative: 1e-3, absolute: 1e-3, mismatchedPerMillion: 100 } as const;

export interface BioimageioSource {
  /** The network, weights loaded: it computes the test output. */
  model: SRDTrans;
  record: ModelRecord;
  /** The checkpoint the weights came from, for messages and the README. */
  weightsFile: string;
}

export interface Author {
  name: string;
  affiliation?: string;
  orcid?: string;
  github_user?: string;
}

export interface BioimageioOptions {
  /** 5–128 characters: letters, digits, spaces, _ + - ( ). */
  name?: string;
  authors?: Author[];
  /** An SPDX licence identifier for the weights. Default CC-BY-4.0, the model zoo's usual one. */
  license?: string;
  /** Height and width of the tile the ONNX graph takes. Default: the training patch size. */
  patchXY?: number;
  /** Overlap of neighbouring patches that sets the halo consumers crop (as `srdtrans denoise --overlap`). Default 0.5. */
  overlap?: number;
  /** Written as the package's timestamp. Default now. */
  timestamp?: Date;
}

export interface PackageFile {
  name: string;
  data: Uint8Array;
}

const NAME = /^[A-Za-z0-9_+\- ()]{5,128}$/;
const LICENSE = /^[A-Za-z0-9.+-]+$/;

const SRDTRANS_CITATION = {
  text: 'Li, X., Hu, X., Chen, X. et al. Spatial redundancy transformer for self-supervised fluorescence image denoising. Nature Computational Science 3, 1067–1080 (2023).',
  doi: '10.1038/s43588-023-00568-2',
} as const;

/** WebCrypto's SHA-256 (browsers and Node alike), as hex. */
async function sha256(data: Uint8Array): Promise<string> {
  // The typings refuse views that may be of shared memory; the package's files never are.
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The halo a consumer crops from each side of an output tile: the published cut (P − gap)/2, 0 if none. */
function haloOf(size: number, overlap: number, what = 'patch'): number {
  return Math.trunc((size - patchGap(size, overlap, what)) / 2);
}

function checkOptions(o: BioimageioOptions): void {
  if (o.name !== undefined && !NAME.test(o.name)) {
    throw new ConfigError(`model name '${o.name}': use 5 to 128 letters, digits, spaces or _ + - ( ), as bioimage.io requires`);
  }
  if (o.license !== undefined && !LICENSE.test(o.license)) {
    throw new ConfigError(`license '${o.license}': give an SPDX identifier such as CC-BY-4.0 or MIT`);
  }
  for (const a of o.authors ?? []) {
    if (a.name.trim() === '') throw new ConfigError('an author needs a name');
  }
}

/** An output axis as long as the input's axis `id`, with the halo a consumer crops when tiling. */
function outputAxis(id: 'time' | 'y' | 'x', halo: number): YamlValue {
  const size = { tensor_id: WRAPPED_INPUT, axis_id: id };
  const axis = id === 'time' ? { type: 'time', size } : { type: 'space', id, size };
  return halo > 0 ? { ...axis, halo } : axis;
}

function inputAxes(t: number, p: number): YamlValue {
  return [
    { type: 'batch', size: 1 },
    { type: 'channel', channel_names: ['raw'] },
    { type: 'time', size: t },
    { type: 'space', id: 'y', size: p },
    { type: 'space', id: 'x', size: p },
  ];
}

/** Every file of the package, rdf.yaml first. Runs the network once on the test input. */
export async function buildBioimageioPackage(src: BioimageioSource, options: BioimageioOptions = {}): Promise<PackageFile[]> {
  checkOptions(options);
  const { model } = src;
  // File names only: a published package should not reveal the trainer's folders.
  const record: ModelRecord = { ...src.record, training: { ...src.record.training, inputs: src.record.training.inputs.map(basename) } };
  const config = record.model;
  const patchT = config.patchT;
  const patchXY = options.patchXY ?? record.training.patchXY;
  const scale = record.training.scale;
  const overlap = options.overlap ?? 0.5;
  const haloT = haloOf(patchT, overlap, 'temporal patch');
  const haloXY = haloOf(patchXY, overlap);

  const stateDict = await model.stateDict();
  let parameters = 0;
  for (const t of stateDict.values()) if (t.dtype === 'float32') parameters += t.data.length;
  const weights = withPatchNormalisation(exportOnnx(config, stateDict, { patchXY, patchT, source: src.weightsFile }), scale);

  // Denoised as stored (float32), so that rerunning on test_input.npy gives test_output.npy.
  const noisy = simulateCalcium({ shape: [patchT, patchXY, patchXY], seed: 1 }).noisy;
  const input: Stack = { data: Float32Array.from(noisy.data), shape: noisy.shape, dtype: 'float32' };
  const output = await denoiseToStack(model, input, { patchXY, overlap, scale, asFloat: true, name: 'the test input' });
  const shape = [1, 1, patchT, patchXY, patchXY];
  const testInput = encodeNpy(input.data as Float32Array, shape);
  const testOutput = encodeNpy(output.data as Float32Array, shape);
  const cover = coverImage(input, output);
  const configJson = new TextEncoder().encode(JSON.stringify(record, null, 2) + '\n');
  const readme = new TextEncoder().encode(
    bioimageioReadme({ record, weightsFile: basename(src.weightsFile), parameters, patchXY, overlap, haloT, haloXY, tolerance: TOLERANCE }),
  );

  const name = options.name ?? `SRDTrans denoising ${patchT}x${patchXY}x${patchXY}`;
  const rdf: YamlValue = {
    format_version: FORMAT_VERSION,
    type: 'model',
    name,
    description:
      'Self-supervised denoising of fluorescence time-lapse stacks with SRDTrans (spatial redundancy transformer), trained with srdtrans-ts. ' +
      'The ONNX graph includes the per-patch mean subtraction and intensity rescale of SRDTrans inference.',
    authors: (options.authors ?? []).map((a) => ({ ...a })),
    cite: [SRDTRANS_CITATION],
    license: options.license ?? 'CC-BY-4.0',
    tags: ['denoising', 'self-supervised', 'fluorescence-light-microscopy', 'time-lapse', 'calcium-imaging', 'transformer', 'srdtrans', 'onnx'],
    documentation: FILES.readme,
    covers: [FILES.cover],
    attachments: [{ source: FILES.config, sha256: await sha256(configJson) }],
    packaged_by: [{ name: 'srdtrans-ts' }],
    timestamp: (options.timestamp ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z'),
    inputs: [
      {
        id: WRAPPED_INPUT,
        description: 'raw stack (camera counts), one patch: frames × height × width',
        axes: inputAxes(patchT, patchXY),
        test_tensor: { source: FILES.testInput, sha256: await sha256(testInput) },
        data: { type: 'float32' },
        preprocessing: [{ id: 'ensure_dtype', kwargs: { dtype: 'float32' } }],
      },
    ],
    outputs: [
      {
        id: WRAPPED_OUTPUT,
        description: 'denoised stack in the units of the input (srdtrans denoise --float)',
        axes: [
          { type: 'batch', size: 1 },
          { type: 'channel', channel_names: ['denoised'] },
          outputAxis('time', haloT),
          outputAxis('y', haloXY),
          outputAxis('x', haloXY),
        ],
        test_tensor: { source: FILES.testOutput, sha256: await sha256(testOutput) },
        data: { type: 'float32' },
        postprocessing: [{ id: 'ensure_dtype', kwargs: { dtype: 'float32' } }],
      },
    ],
    weights: {
      onnx: {
        source: FILES.weights,
        sha256: await sha256(weights),
        opset_version: ONNX_OPSET,
        comment: `exported by srdtrans-ts from ${basename(src.weightsFile)}; normalisation and rescale inside the graph`,
      },
    },
    config: {
      bioimageio: {
        reproducibility_tolerance: [
          {
            relative_tolerance: TOLERANCE.relative,
            absolute_tolerance: TOLERANCE.absolute,
            mismatched_elements_per_million: TOLERANCE.mismatchedPerMillion,
          },
        ],
        architecture_type: 'CNN-transformer (SRDTrans)',
        architecture_description:
          '3D convolutional encoder/decoder that halves and doubles time only, with a temporal transformer and a Swin transformer at the bottleneck (Li et al. 2023).',
        modality: 'fluorescence microscopy',
        task: 'denoising',
        model_parameter_count: parameters,
        training: {
          training_preprocessing: `each stack divided by ${scale} and its own mean subtracted; ${record.training.sampling} redundancy sampling`,
          training_epochs: record.training.epochs,
          training_batch_size: 1,
          initial_learning_rate: record.training.lr,
          loss_function: '0.5·(L1 + L2) to each of the two sub-sampled targets',
          optimizer: 'Adam',
          optimizer_kwargs: { betas: [record.training.beta1, record.training.beta2] },
        },
        bias_risks_limitations: {
          limitations:
            'Assumes that adjacent pixels see nearly the same signal with independent noise: fails on under-sampled images and on spatially correlated noise. ' +
            'Each tile is normalised by its own mean; srdtrans denoise uses the whole-stack mean.',
        },
      },
      srdtrans: { format: record.format, model: configYaml(config), training: trainingYaml(record), inference: { overlap, haloT, haloXY } },
    },
  };
  const rdfBytes = new TextEncoder().encode(`# BioImage Model Zoo model description, written by srdtrans-ts\n${toYaml(rdf)}`);
  return [
    { name: FILES.rdf, data: rdfBytes },
    { name: FILES.weights, data: weights },
    { name: FILES.testInput, data: testInput },
    { name: FILES.testOutput, data: testOutput },
    { name: FILES.cover, data: cover },
    { name: FILES.readme, data: readme },
    { name: FILES.config, data: configJson },
  ];
}

function configYaml(c: ModelRecord['model']): YamlValue {
  return { ...c, fMaps: [...c.fMaps] };
}

function trainingYaml(r: ModelRecord): YamlValue {
  return { ...r.training, inputs: [...r.training.inputs] };
}

function basename(file: string): string {
  return file.split(/[\\/]/).pop() || file;
}

/** Noisy and denoised middle frame side by side. */
function coverImage(input: Stack, output: Stack): Uint8Array {
  const [t, h, w] = input.shape;
  const frame = (s: Stack): Float32Array => Float32Array.from(s.data.subarray(Math.floor(t / 2) * h * w, (Math.floor(t / 2) + 1) * h * w));
  return imageMontage(
    [
      { title: 'noisy (simulated)', frame: frame(input), h, w },
      { title: 'SRDTrans', frame: frame(output), h, w },
    ],
    { showRange: false },
  );
}

/** The package as one zip file's bytes. */
export function zipPackage(files: PackageFile[]): Uint8Array {
  return writeStoredZip(files);
}
