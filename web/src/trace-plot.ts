/**
 * A region's mean intensity over time, raw against denoised, with the shown frame marked: how
 * a user judges whether denoising kept the transients.
 */
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
    const { ctx, canvas } = this;
    const w = canvas.width;
    const h = canvas.height;
    const pad = { left: 56, right: 12, top: 24, bottom: 24 };
    ctx.clearRect(0, 0, w, h);
    ctx.font = '12px system-ui, sans-serif';
    ctx.fillStyle = '#555';
    const trace = this.trace;
    if (!trace) {
      ctx.fillText('click a frame (or give x, y) to plot a region over time', pad.left, h / 2);
      return;
    }
    const series = [trace.raw, ...(trace.denoised ? [trace.denoised] : [])];
    let lo = Infinity;
    let hi = -Infinity;
    for (const s of series) for (const v of s) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    if (!(hi > lo)) hi = lo + 1;
    const n = trace.raw.length;
    const x = (i: number) => pad.left + (n > 1 ? i / (n - 1) : 0) * (w - pad.left - pad.right);
    const y = (v: number) => pad.top + (1 - (v - lo) / (hi - lo)) * (h - pad.top - pad.bottom);
    ctx.strokeStyle = '#bbb';
    ctx.beginPath();
    ctx.moveTo(pad.left, pad.top);
    ctx.lineTo(pad.left, h - pad.bottom);
    ctx.lineTo(w - pad.right, h - pad.bottom);
    ctx.stroke();
    ctx.fillText(hi.toPrecision(4), 4, pad.top + 4);
    ctx.fillText(lo.toPrecision(4), 4, h - pad.bottom);
    ctx.fillText('frame', w - pad.right - 36, h - 6);
    ctx.fillText(trace.label, pad.left, 14);
    ctx.strokeStyle = '#f0a000';
    ctx.beginPath();
    ctx.moveTo(x(this.frame), pad.top);
    ctx.lineTo(x(this.frame), h - pad.bottom);
    ctx.stroke();
    const colours = ['#888', '#1f77b4'];
    series.forEach((s, k) => {
      ctx.strokeStyle = colours[k]!;
      ctx.lineWidth = k === 0 ? 1 : 2;
      ctx.beginPath();
      s.forEach((v, i) => (i === 0 ? ctx.moveTo(x(i), y(v)) : ctx.lineTo(x(i), y(v))));
      ctx.stroke();
    });
    ctx.lineWidth = 1;
    ctx.fillStyle = '#888';
    ctx.fillText('raw', w - pad.right - 110, 14);
    if (trace.denoised) {
      ctx.fillStyle = '#1f77b4';
      ctx.fillText('denoised', w - pad.right - 70, 14);
    }
  }
}
