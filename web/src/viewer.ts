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

  clear(): void {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }
}
