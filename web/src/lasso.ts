/**
 * Drawing a free region on a frame: while drawing is on, dragging on either panel traces the
 * pointer's path, which closes into a polygon when the button is let go. Panning is off
 * meanwhile (the drag is the lasso's), and so is picking a pixel by clicking.
 */
import type { Point } from './region.js';
import type { FrameCanvas } from './viewer.js';

export class Lasso {
  private on = false;

  constructor(private readonly views: readonly FrameCanvas[], private readonly toggle: HTMLButtonElement, done: (polygon: Point[]) => void, drawing: (path: Point[]) => void) {
    toggle.addEventListener('click', () => this.set(!this.on));
    for (const view of views) {
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
          if (path.length >= 3) done(path);
        };
        view.canvas.addEventListener('pointermove', move);
        view.canvas.addEventListener('pointerup', end);
        view.canvas.addEventListener('pointercancel', end);
      });
    }
  }

  /** Whether a drag draws a region now (a click then picks no pixel). */
  get drawing(): boolean {
    return this.on;
  }

  set(on: boolean): void {
    this.on = on;
    this.toggle.setAttribute('aria-pressed', String(on));
    this.toggle.textContent = on ? 'Drawing: drag on a frame' : 'Draw region';
    for (const view of this.views) view.canvas.style.cursor = on ? 'cell' : '';
  }
}
