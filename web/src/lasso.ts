/**
 * Drawing a free region on a frame: while drawing is on, dragging on either panel traces the
 * pointer's path, which closes into a polygon when the button is let go. Panning is off
 * meanwhile (the drag is the lasso's), and so is picking a pixel by clicking.
 */
import type { Point } from './region.js';
import type { FrameCanvas } from './viewer.js';

export class Lasso {
  private on = false;
  /** The click that ends a drawn path is the lasso's, not a pixel picked. */
  private drew = false;

  constructor(private readonly views: readonly FrameCanvas[], private readonly toggle: HTMLButtonElement, done: (polygon: Point[]) => void, drawing: (path: Point[]) => void) {
    toggle.addEventListener('click', () => this.set(!this.on));
    for (const view of views) {
      // Registered before the page's own click handlers, so it can keep a click from them.
      view.canvas.addEventListener('click', (e) => {
        if (this.on || this.drew) e.stopImmediatePropagation();
        this.drew = false;
      });
      view.canvas.addEventListener('pointerdown', (e) => {
        if (!this.on || e.button !== 0) return;
        // Not the panels' pan.
        e.stopPropagation();
        view.canvas.setPointerCapture(e.pointerId);
        const path: Point[] = [view.pointAt(e)];
        const move = (m: PointerEvent) => {
          path.push(view.pointAt(m));
          drawing(path);
        };
        const end = () => {
          view.canvas.removeEventListener('pointermove', move);
          view.canvas.removeEventListener('pointerup', end);
          view.canvas.removeEventListener('pointercancel', end);
          this.drew = true;
          if (path.length >= 3) done(path);
        };
        view.canvas.addEventListener('pointermove', move);
        view.canvas.addEventListener('pointerup', end);
        view.canvas.addEventListener('pointercancel', end);
      });
    }
  }

  set(on: boolean): void {
    this.on = on;
    this.toggle.setAttribute('aria-pressed', String(on));
    this.toggle.textContent = on ? 'Drawing: drag on a frame' : 'Draw region';
    for (const view of this.views) view.canvas.style.cursor = on ? 'cell' : '';
  }
}
