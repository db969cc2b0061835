/**
 * Progress for long work: a redrawn bar on a terminal, a plain line every few seconds when
 * output goes to a file or pipe, or one JSON object per event with --json.
 */
export type ProgressMode = 'tty' | 'plain' | 'json';

export interface ProgressUpdate {
  done: number;
  total: number;
  /** Extra fields shown after the bar (e.g. loss) and included in JSON. */
  fields?: Record<string, number | string>;
}

export class ProgressBar {
  private readonly started = Date.now();
  /**
   * The first update: the rate counts from it, so that work done before this process (a run
   * continued with --resume) does not inflate it, nor the start-up before the first unit.
   */
  private first: { done: number; at: number } | undefined;
  private lastPlain = Date.now();
  private lastDraw = 0;

  constructor(
    private readonly label: string,
    private readonly mode: ProgressMode,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly plainEveryMs = 5000,
  ) {}

  update(u: ProgressUpdate): void {
    const now = Date.now();
    if (this.mode === 'json') return; // JSON consumers get events from the command itself.
    this.first ??= { done: u.done, at: now };
    const finished = u.done >= u.total;
    if (this.mode === 'tty') {
      if (!finished && now - this.lastDraw < 100) return;
      this.lastDraw = now;
      this.out.write(`\r\x1b[2K${this.render(u, now)}`);
      if (finished) this.out.write('\n');
      return;
    }
    // Plain output gets no line for the start: a log that says 0% first says nothing.
    if (u.done > 0 && (finished || now - this.lastPlain >= this.plainEveryMs)) {
      this.lastPlain = now;
      this.out.write(`${this.render(u, now)}\n`);
    }
  }

  private render(u: ProgressUpdate, now: number): string {
    const elapsed = (now - this.started) / 1000;
    const fraction = u.total > 0 ? Math.min(1, u.done / u.total) : 0;
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar = this.mode === 'tty' ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
    const since = this.first ? (now - this.first.at) / 1000 : 0;
    const rate = since > 0 ? (u.done - this.first!.done) / since : 0;
    const eta = rate > 0 ? (u.total - u.done) / rate : NaN;
    const extra = Object.entries(u.fields ?? {})
      .map(([k, v]) => `${k} ${typeof v === 'number' ? formatNumber(v) : v}`)
      .join('  ');
    return `${this.label} ${bar}${u.done}/${u.total} ${(fraction * 100).toFixed(0)}%  ${formatRate(rate)}  elapsed ${formatDuration(elapsed)}  ETA ${formatDuration(eta)}${extra ? '  ' + extra : ''}`;
  }
}

export function progressMode(json: boolean, stream: NodeJS.WriteStream = process.stderr): ProgressMode {
  if (json) return 'json';
  return stream.isTTY ? 'tty' : 'plain';
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function formatRate(perSecond: number): string {
  if (perSecond === 0) return '-- it/s';
  if (perSecond >= 1) return `${perSecond.toFixed(2)} it/s`;
  return `${(1 / perSecond).toFixed(2)} s/it`;
}

function formatNumber(v: number): string {
  return Math.abs(v) >= 1000 || Math.abs(v) < 0.01 ? v.toExponential(3) : v.toFixed(4);
}
