import { linePlot, type PlotSeries } from '../report/png.js';
import type { EpochRecord } from './record.js';

/**
 * The training loss per step (faint), its running mean over one epoch's worth of steps, and the
 * validation loss at the end of each epoch: the curve a user reads to see whether the model is
 * still learning (validation falling) or done (flat).
 */
export function lossCurvePng(losses: readonly number[], stepsPerEpoch: number, epochs: readonly EpochRecord[] = []): Uint8Array | undefined {
  if (losses.length === 0) return undefined;
  const steps = losses.map((_, i) => i + 1);
  const window = Math.max(1, Math.min(stepsPerEpoch, Math.ceil(losses.length / 10)));
  const smooth: number[] = [];
  let sum = 0;
  for (let i = 0; i < losses.length; i++) {
    sum += losses[i]!;
    if (i >= window) sum -= losses[i - window]!;
    smooth.push(sum / Math.min(i + 1, window));
  }
  const series: PlotSeries[] = [
    { name: 'training loss per step', x: steps, y: losses, color: [170, 190, 220], markers: false },
    { name: `running mean (${window} steps)`, x: steps, y: smooth, markers: false },
  ];
  const validated = epochs.filter((e) => e.valLoss !== null);
  if (validated.length > 0) {
    series.push({
      name: 'validation loss (held-out patches)', x: validated.map((e) => e.step), y: validated.map((e) => e.valLoss!),
      color: [44, 160, 44], markers: true,
    });
  }
  return linePlot(series, { title: 'Training and validation loss', xLabel: `step (${stepsPerEpoch} per epoch)`, yLabel: 'loss', logY: true });
}
