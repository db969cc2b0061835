import type { ModelRecord } from '../../train/record.js';

/** The README.md (rdf `documentation`) of a BioImage Model Zoo package written by bioimageio.ts. */

export interface ReadmeFacts {
  record: ModelRecord;
  weightsFile: string;
  parameters: number;
  /** Height and width of the tile the ONNX graph takes. */
  patchXY: number;
  overlap: number;
  haloT: number;
  haloXY: number;
  tolerance: { relative: number; absolute: number };
}

export function bioimageioReadme(f: ReadmeFacts): string {
  const { model: m, training: t } = f.record;
  const tile = `${m.patchT} × ${f.patchXY} × ${f.patchXY}`;
  const trainingPatch = `${m.patchT} × ${t.patchXY} × ${t.patchXY}`;
  const sampling = t.sampling === 'spatial'
    ? 'spatial redundancy sampling (each 2×2 cell gives one input pixel and two neighbouring target pixels)'
    : 'temporal sampling (even frames predict odd frames, as DeepCAD)';
  return `# SRDTrans denoising model

Self-supervised denoising of fluorescence microscopy time-lapse stacks with SRDTrans, the spatial
redundancy transformer of Li et al. (2023). Trained and packaged with srdtrans-ts from the checkpoint
\`${f.weightsFile}\`.

## Use

The package holds ONNX weights (opset 17) for any BioImage Model Zoo consumer: deepImageJ (Fiji),
ilastik, or bioimage.io's Python tools (\`bioimageio predict\`, the napari plugin). The network takes
one tile of ${tile} (frames × height × width) voxels of raw camera counts, shaped
batch × channel × time × y × x = 1 × 1 × ${m.patchT} × ${f.patchXY} × ${f.patchXY}, and returns the
denoised tile in the same units (float32). Larger stacks are processed tile by tile; the outer
${f.haloT} frames and ${f.haloXY} pixels on each side of a tile are the halo the consumer discards,
as \`srdtrans denoise --overlap ${f.overlap}\` does.

## What the ONNX graph does

\`srdtrans denoise\` normalises and rescales each patch in ways the model description's
pre/postprocessing steps cannot express, so the graph does it around the network:

1. m = mean of the tile's raw values; input = raw / s − m, with s = ${t.scale} the training scale;
2. output = SRDTrans(input) (eval mode: no dropout);
3. restored = output + m; denoised = restored · sqrt(Σ(raw / s) / Σ restored) · s.

Differences from \`srdtrans denoise --float\` on a whole stack: m is the mean of the tile rather
than of the whole stack, and the two sums run over the whole tile rather than its kept centre.
On a stack exactly one tile large, as the test tensors are, the two agree to rounding.
\`srdtrans denoise\` without \`--float\` also clips to [0, 65535] and truncates to integers; the
package leaves that to the user.

## Network

${m.fMaps.length} encoder levels with ${m.fMaps.join(', ')} channels, transformer width ${m.embedDim},
${m.heads} heads, MLP width ${m.mlpDim}, Swin window ${m.window}, ${m.blocks} transformer block(s);
${f.parameters} parameters. Configuration and training record: \`config.json\`.

## Training

${t.epochs} epoch(s) of ${sampling}, patches of ${trainingPatch}, about ${t.trainSize} patches per epoch,
Adam (learning rate ${t.lr}, betas ${t.beta1}, ${t.beta2}), batch 1, loss 0.5·(L1 + L2) to each of
two targets. Each training stack was divided by ${t.scale} and had its own mean subtracted.
Training data: ${t.inputs.length > 0 ? t.inputs.map((i) => `\`${i}\``).join(', ') : 'not recorded'}.

## Validation

SRDTrans learns from the noisy data alone, so there is no ground truth to score against. The test
input is a simulated calcium-imaging tile (somata in neuropil, Poisson shot noise and read noise;
\`srdtrans simulate\`), and the test output is what srdtrans-ts's own network computes from it.
bioimage.io's tests rerun the ONNX weights on the test input and accept relative differences up to
${f.tolerance.relative} (absolute ${f.tolerance.absolute}). To check the model on your own data,
simulate data with a known ground truth at your photon level and frame rate and compare
(\`srdtrans evaluate\`), or check that the residual (raw − denoised) holds no structure.

## Limitations

SRDTrans assumes that adjacent pixels see nearly the same signal with independent noise. It fails
on under-sampled images (structures about one pixel wide) and on spatially correlated noise
(e.g. after demosaicing or some sCMOS corrections). A model applies to data like its training data:
train on your own recordings rather than reuse a model trained on other samples.

## Citation

Li, X., Hu, X., Chen, X. et al. Spatial redundancy transformer for self-supervised fluorescence image
denoising. Nature Computational Science 3, 1067–1080 (2023). doi:10.1038/s43588-023-00568-2
`;
}
