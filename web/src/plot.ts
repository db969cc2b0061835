/**
 * The live loss plot: every training step's loss (faint), its running mean, and each epoch's
 * validation loss, against the step. Redrawn at most once a frame, however fast steps come.
 */
import { beginChart, drawAxes, polyline } from './chart.js';

export class LossPlot {
  private steps: Array<[step: number, loss: number]> = [];
  private validation: Array<[step: number, loss: number]> = [];
  private total = 1;
  private queued = false;
  private readonly ctx: CanvasRenderingContext2D;

  constructor(private readonly canvas: HTMLCanvasElement) {
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('this browser cannot draw on a canvas');
    this.ctx = ctx;
    this.redraw();
  }

  reset(totalSteps: number): void {
    this.steps = [];
    this.validation = [];
    this.total = Math.max(1, totalSteps);
    this.schedule();
  }

  step(step: number, loss: number): void {
    this.steps.push([step, loss]);
    this.schedule();
  }

  epoch(step: number, valLoss: number | null): void {
    if (valLoss !== null) this.validation.push([step, valLoss]);
    this.schedule();
  }

  private schedule(): void {
    if (this.queued) return;
    this.queued = true;
    requestAnimationFrame(() => {
      this.queued = false;
      this.redraw();
    });
  }

  private redraw(): void {
    const { ctx } = this;
    const { width, height } = this.canvas;
    const pad = { left: 56, right: 12, top: 12, bottom: 28 };
    const values = [...this.steps.map((p) => p[1]), ...this.validation.map((p) => p[1])];
    if (!beginChart(ctx, pad, values.length === 0 ? 'the loss appears here while training' : null)) return;
    const smooth = runningMean(this.steps, Math.max(1, Math.round(this.steps.length / 20)));
    // The axis follows the bulk of the losses: a few spikes (the first steps, a step that blew
    // up) would otherwise flatten everything else; they run off the top instead.
    const sorted = [...values].sort((a, b) => a - b);
    const lo = sorted[0]!;
    const hi = Math.max(sorted[Math.floor(0.98 * (sorted.length - 1))]!, ...this.validation.map((p) => p[1])) * 1.02;
    const span = hi > lo ? hi - lo : 1;
    const x = (step: number) => pad.left + (step / this.total) * (width - pad.left - pad.right);
    const y = (v: number) => pad.top + (1 - (Math.min(v, hi) - lo) / span) * (height - pad.top - pad.bottom);
    const at = (points: ReadonlyArray<readonly [number, number]>) => points.map(([s, v]) => [x(s), y(v)] as const);

    drawAxes(ctx, pad, lo, hi, 'step');
    ctx.fillText(String(this.total), width - pad.right - 80, height - 6);
    polyline(ctx, at(this.steps), 'rgba(31, 119, 180, 0.25)', 1);
    polyline(ctx, at(smooth), '#1f77b4', 2);
    polyline(ctx, at(this.validation), '#d62728', 2);
    ctx.fillStyle = '#d62728';
    for (const [s, v] of this.validation) ctx.fillRect(x(s) - 3, y(v) - 3, 6, 6);

    // The legend sits on a white box so that the curves under it do not hide it.
    ctx.fillStyle = 'rgba(255, 255, 255, 0.85)';
    ctx.fillRect(width - pad.right - 190, pad.top, 190, this.validation.length > 0 ? 36 : 20);
    ctx.fillStyle = '#1f77b4';
    ctx.fillText('training loss (running mean)', width - pad.right - 182, pad.top + 14);
    if (this.validation.length > 0) {
      ctx.fillStyle = '#d62728';
      ctx.fillText('validation loss (each epoch)', width - pad.right - 182, pad.top + 30);
    }
  }
}

function runningMean(points: ReadonlyArray<readonly [number, number]>, window: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let sum = 0;
  for (let i = 0; i < points.length; i++) {
    sum += points[i]![1];
    if (i >= window) sum -= points[i - window]![1];
    out.push([points[i]![0], sum / Math.min(i + 1, window)]);
  }
  return out;
}
