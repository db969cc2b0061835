/** One stack frame drawn on a canvas, grey levels from a contrast range. */
import type { Point } from './region.js';

export class FrameCanvas {
  private readonly ctx: CanvasRenderingContext2D;

  constructor(readonly canvas: HTMLCanvasElement) {
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('this browser cannot draw on a canvas');
    this.ctx = ctx;
  }

  draw(data: Float32Array, h: number, w: number, [lo, hi]: readonly [number, number]): void {
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
      // Shown at the frame's own proportions, so a click maps straight to a pixel.
      this.canvas.style.aspectRatio = `${w} / ${h}`;
    }
    const image = this.ctx.createImageData(w, h);
    const px = image.data;
    const k = 255 / (hi - lo);
    for (let i = 0; i < w * h; i++) {
      const v = Math.max(0, Math.min(255, (data[i]! - lo) * k));
      px[4 * i] = px[4 * i + 1] = px[4 * i + 2] = v;
      px[4 * i + 3] = 255;
    }
    this.ctx.putImageData(image, 0, 0);
  }

  /** Outlines the region whose trace is plotted, on both panels alike (a shared cursor). */
  outline(polygon: readonly Point[]): void {
    if (polygon.length < 2) return;
    this.ctx.strokeStyle = '#f0a000';
    this.ctx.lineWidth = Math.max(0.5, this.canvas.width / 256);
    this.ctx.beginPath();
    for (const [x, y] of polygon) this.ctx.lineTo(x, y);
    this.ctx.closePath();
    this.ctx.stroke();
  }

  /** Where a pointer event is, in pixel coordinates (fractional: a pixel spans [x, x+1)). */
  pointAt(e: MouseEvent): Point {
    const rect = this.canvas.getBoundingClientRect();
    return [((e.clientX - rect.left) / rect.width) * this.canvas.width, ((e.clientY - rect.top) / rect.height) * this.canvas.height];
  }

  /** The pixel under a pointer event. */
  pixelAt(e: MouseEvent): { x: number; y: number } {
    const [x, y] = this.pointAt(e);
    return { x: Math.floor(x), y: Math.floor(y) };
  }

  clear(): void {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }
}
