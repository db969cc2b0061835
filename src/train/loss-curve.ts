import { linePlot } from '../report/png.js';
import { writeFileAtomic } from '../io/atomic.js';

/** The training loss per step (faint) and its running mean over one epoch's worth of steps. */
export async function writeLossCurve(file: string, losses: readonly number[], stepsPerEpoch: number): Promise<void> {
  if (losses.length === 0) return;
  const steps = losses.map((_, i) => i + 1);
  const window = Math.max(1, Math.min(stepsPerEpoch, Math.ceil(losses.length / 10)));
  const smooth: number[] = [];
  let sum = 0;
  for (let i = 0; i < losses.length; i++) {
    sum += losses[i]!;
    if (i >= window) sum -= losses[i - window]!;
    smooth.push(sum / Math.min(i + 1, window));
  }
  const png = linePlot(
    [
      { name: 'loss per step', x: steps, y: losses, color: [170, 190, 220] },
      { name: `running mean (${window} steps)`, x: steps, y: smooth },
    ],
    { title: 'Training loss', xLabel: `step (${stepsPerEpoch} per epoch)`, yLabel: 'loss', logY: true, markers: false },
  );
  await writeFileAtomic(file, png);
}
