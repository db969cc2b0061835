import { frameOf, type Stack } from '../data/stack.js';
import { neuronTraces, pearson } from '../quality/metrics.js';
import { figure, legendRaster, montageRaster, PALETTE, percentile, plotRaster, type LegendEntry, type PlotSeries } from './png.js';

export interface ComparisonInput {
  noisy: Stack;
  /** One or more denoised versions of `noisy`, each with its name. */
  outputs: readonly { title: string; stack: Stack }[];
  /** Ground truth. */
  clean: Stack;
  /** Neuron labels (h×w, 0 = background), for the traces. */
  labels: ArrayLike<number>;
  /** Frame to show. */
  frame: number;
  /** Frames per second, for the traces' time axis. */
  frameRate: number;
  title: string;
  /** Traces of this many neurons (the most active in the ground truth). Default 3. */
  neurons?: number;
}

const RAW = [175, 175, 175] as const;
const TRUTH = [20, 20, 20] as const;

/**
 * The demo's figure (and the quality benchmark's): noisy, denoised and ground-truth frames in one
 * display range (the ground truth's 0.5–99.5 percentiles, so that "cleaner" and "closer to the
 * truth" are what the eye compares), above the traces of the most active neurons (mean over each
 * neuron's pixels): raw, each output and true, in camera counts.
 */
export function comparisonFigure(c: ComparisonInput): Uint8Array {
  const [frames, h, w] = c.clean.shape;
  const truthFrame = frameOf(c.clean, c.frame);
  const range: [number, number] = [percentile(truthFrame, 0.5), percentile(truthFrame, 99.5)];
  const panels = montageRaster(
    [
      { title: 'noisy input', frame: frameOf(c.noisy, c.frame), h, w },
      ...c.outputs.map((o) => ({ title: o.title, frame: frameOf(o.stack, c.frame), h, w })),
      { title: 'ground truth', frame: truthFrame, h, w },
    ],
    { upscale: 'auto', range, title: c.title },
  );
  const truth = neuronTraces(c.clean.data, c.labels);
  const raw = neuronTraces(c.noisy.data, c.labels);
  const outputs = c.outputs.map((o) => ({ title: o.title, traces: neuronTraces(o.stack.data, c.labels) }));
  const size = countPixels(c.labels, truth.length);
  const chosen = truth
    .map((t, k) => ({ k, spread: t ? standardDeviation(t) : -1 }))
    .filter((e) => e.spread > 0)
    .sort((a, b) => b.spread - a.spread)
    .slice(0, c.neurons ?? 3)
    .sort((a, b) => a.k - b.k);
  const time = Array.from({ length: frames }, (_, t) => t / c.frameRate);
  const plotWidth = Math.max(200, Math.floor((panels.width - 24) / Math.max(1, chosen.length)));
  const lines: LegendEntry[] = [
    { name: 'raw', color: RAW },
    ...outputs.map((o, i) => ({ name: o.title, color: PALETTE[i % PALETTE.length]! })),
    { name: 'truth', color: TRUTH },
  ];
  const plots = chosen.map(({ k }) => {
    const traces = [raw[k]!, ...outputs.map((o) => o.traces[k]!), truth[k]!];
    // Unnamed: the traces fill their plots, so the row shares one legend below them.
    const series: PlotSeries[] = lines.map((l, i) => ({ name: '', x: time, y: traces[i]!.map((v) => v / size[k]!), color: l.color, markers: false }));
    const r = (x: Float64Array): string => pearson(x, truth[k]!)?.toFixed(2) ?? '-';
    const rs = outputs.map((o) => `${outputs.length > 1 ? o.title.split(' ')[0] : o.title} ${r(o.traces[k]!)}`).join(', ');
    return plotRaster(series, {
      width: plotWidth, height: 240, title: `neuron ${k + 1}: r raw ${r(raw[k]!)}, ${rs}`,
      xLabel: 'time (s)', yLabel: 'mean counts',
    });
  });
  return figure(plots.length > 0 ? [[panels], plots, [legendRaster(lines, panels.width)]] : [[panels]]);
}

function countPixels(labels: ArrayLike<number>, neurons: number): Float64Array {
  const n = new Float64Array(neurons);
  for (let p = 0; p < labels.length; p++) if (labels[p]! > 0) n[labels[p]! - 1]!++;
  return n;
}

function standardDeviation(x: Float64Array): number {
  const m = x.reduce((a, b) => a + b, 0) / x.length;
  return Math.sqrt(x.reduce((a, b) => a + (b - m) * (b - m), 0) / x.length);
}
