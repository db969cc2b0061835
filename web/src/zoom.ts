/**
 * Zoom and pan shared by the raw and denoised panels, so both always show the same pixels:
 * the wheel zooms about the pointer, a drag pans, and buttons do both from the keyboard.
 */
export class SharedZoom {
  private scale = 1;
  private tx = 0;
  private ty = 0;
  /** Set by a drag, so that the click that ends it does not also pick a pixel. */
  private dragged = false;

  constructor(private readonly boxes: readonly HTMLElement[], private readonly targets: readonly HTMLElement[]) {
    for (const box of boxes) {
      box.addEventListener('wheel', (e) => {
        e.preventDefault();
        const rect = box.getBoundingClientRect();
        this.zoomAbout(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - rect.left, e.clientY - rect.top);
      }, { passive: false });
      box.addEventListener('pointerdown', (e) => this.drag(box, e));
      // Capture phase: runs before the canvas's own click handler.
      box.addEventListener('click', (e) => {
        if (this.dragged) e.stopPropagation();
        this.dragged = false;
      }, true);
    }
  }

  zoomIn(): void {
    this.zoomAbout(1.5, this.width() / 2, this.width() / 2);
  }

  zoomOut(): void {
    this.zoomAbout(1 / 1.5, this.width() / 2, this.width() / 2);
  }

  reset(): void {
    [this.scale, this.tx, this.ty] = [1, 0, 0];
    this.apply();
  }

  private width(): number {
    return this.boxes[0]?.clientWidth ?? 0;
  }

  /** Zooms by `factor` keeping the point (px, py) of the panel where it is. */
  private zoomAbout(factor: number, px: number, py: number): void {
    const scale = Math.max(1, Math.min(32, this.scale * factor));
    const k = scale / this.scale;
    this.tx = px - (px - this.tx) * k;
    this.ty = py - (py - this.ty) * k;
    this.scale = scale;
    this.apply();
  }

  private drag(box: HTMLElement, start: PointerEvent): void {
    if (start.button !== 0) return;
    const [x0, y0, tx0, ty0] = [start.clientX, start.clientY, this.tx, this.ty];
    const move = (e: PointerEvent) => {
      if (Math.abs(e.clientX - x0) + Math.abs(e.clientY - y0) > 3) this.dragged = true;
      if (!this.dragged) return;
      this.tx = tx0 + e.clientX - x0;
      this.ty = ty0 + e.clientY - y0;
      this.apply();
    };
    const end = () => {
      box.removeEventListener('pointermove', move);
      box.removeEventListener('pointerup', end);
      box.removeEventListener('pointercancel', end);
    };
    box.addEventListener('pointermove', move);
    box.addEventListener('pointerup', end);
    box.addEventListener('pointercancel', end);
  }

  private apply(): void {
    // Never so far that the image leaves the panel.
    const w = this.boxes[0]?.clientWidth ?? 0;
    const h = this.boxes[0]?.clientHeight ?? 0;
    this.tx = Math.min(0, Math.max(w - w * this.scale, this.tx));
    this.ty = Math.min(0, Math.max(h - h * this.scale, this.ty));
    for (const t of this.targets) t.style.transform = `translate(${this.tx}px, ${this.ty}px) scale(${this.scale})`;
  }
}
