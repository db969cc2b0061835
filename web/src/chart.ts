/** What the loss plot and the trace plot draw alike: a cleared canvas, axes, lines. */

export interface Padding {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** Clears the canvas for a new drawing; with no data, says what will appear there. */
export function beginChart(ctx: CanvasRenderingContext2D, pad: Padding, empty: string | null): boolean {
  const { width, height } = ctx.canvas;
  ctx.clearRect(0, 0, width, height);
  ctx.font = '12px system-ui, sans-serif';
  ctx.fillStyle = '#555';
  if (empty !== null) ctx.fillText(empty, pad.left, height / 2);
  return empty === null;
}

/** The y axis labelled with its range, the x axis with its name. */
export function drawAxes(ctx: CanvasRenderingContext2D, pad: Padding, lo: number, hi: number, xName: string): void {
  const { width, height } = ctx.canvas;
  ctx.strokeStyle = '#bbb';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(pad.left, pad.top);
  ctx.lineTo(pad.left, height - pad.bottom);
  ctx.lineTo(width - pad.right, height - pad.bottom);
  ctx.stroke();
  ctx.fillStyle = '#555';
  ctx.fillText(hi.toPrecision(4), 4, pad.top + 8);
  ctx.fillText(lo.toPrecision(4), 4, height - pad.bottom);
  ctx.fillText(xName, width - pad.right - 36, height - 6);
}

export function polyline(ctx: CanvasRenderingContext2D, points: ReadonlyArray<readonly [number, number]>, colour: string, width: number): void {
  if (points.length === 0) return;
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.beginPath();
  points.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(x, y) : ctx.lineTo(x, y)));
  ctx.stroke();
  ctx.lineWidth = 1;
}
