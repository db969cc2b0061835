/** One stack frame drawn on a canvas, grey levels from a contrast range. */
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
  outline(r: { x0: number; y0: number; x1: number; y1: number }): void {
    this.ctx.strokeStyle = '#f0a000';
    this.ctx.lineWidth = Math.max(0.5, this.canvas.width / 256);
    this.ctx.strokeRect(r.x0 - 0.5, r.y0 - 0.5, r.x1 - r.x0 + 1, r.y1 - r.y0 + 1);
  }

  /** The pixel under a pointer event. */
  pixelAt(e: MouseEvent): { x: number; y: number } {
    const rect = this.canvas.getBoundingClientRect();
    return {
      x: Math.floor(((e.clientX - rect.left) / rect.width) * this.canvas.width),
      y: Math.floor(((e.clientY - rect.top) / rect.height) * this.canvas.height),
    };
  }

  clear(): void {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }
}
