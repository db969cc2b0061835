/**
 * A region's mean intensity over time, raw against denoised, with the shown frame marked: how
 * a user judges whether denoising kept the transients.
 */
import { beginChart, drawAxes, polyline } from './chart.js';

export interface Trace {
  raw: Float32Array;
  denoised: Float32Array | null;
  label: string;
}

export class TracePlot {
  private readonly ctx: CanvasRenderingContext2D;
  private trace: Trace | null = null;
  private frame = 0;

  constructor(private readonly canvas: HTMLCanvasElement) {
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('this browser cannot draw on a canvas');
    this.ctx = ctx;
    this.draw();
  }

  show(trace: Trace | null): void {
    this.trace = trace;
    this.draw();
  }

  mark(frame: number): void {
    this.frame = frame;
    this.draw();
  }

  private draw(): void {
    const { ctx } = this;
    const { width, height } = this.canvas;
    const pad = { left: 56, right: 12, top: 24, bottom: 24 };
    const trace = this.trace;
    if (!beginChart(ctx, pad, trace ? null : 'click a frame (or give x, y) to plot a region over time') || !trace) return;
    const series = [trace.raw, ...(trace.denoised ? [trace.denoised] : [])];
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of series) for (const v of s) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    if (!(hi > lo)) hi = lo + 1;
    const n = trace.raw.length;
    const x = (i: number) => pad.left + (n > 1 ? i / (n - 1) : 0) * (width - pad.left - pad.right);
    const y = (v: number) => pad.top + (1 - (v - lo) / (hi - lo)) * (height - pad.top - pad.bottom);

    drawAxes(ctx, pad, lo, hi, 'frame');
    ctx.fillText(trace.label, pad.left, 14);
    polyline(ctx, [[x(this.frame), pad.top], [x(this.frame), height - pad.bottom]], '#f0a000', 1);
    const colours = ['#888', '#1f77b4'];
    series.forEach((s, k) => polyline(ctx, Array.from(s, (v, i) => [x(i), y(v)] as const), colours[k]!, k === 0 ? 1 : 2));
    ctx.fillStyle = '#888';
    ctx.fillText('raw', width - pad.right - 110, 14);
    if (trace.denoised) {
      ctx.fillStyle = '#1f77b4';
      ctx.fillText('denoised', width - pad.right - 70, 14);
    }
  }
}
