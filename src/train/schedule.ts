/**
 * Learning-rate schedules. The published training keeps Adam's rate constant; a short linear
 * warm-up and a cosine decay (Loshchilov & Hutter's SGDR without restarts) make short runs far
 * less dependent on the seed (README: "How long to train"), so both are offered.
 */

export type ScheduleKind = 'constant' | 'cosine';
export const SCHEDULE_KINDS: readonly ScheduleKind[] = ['constant', 'cosine'];

export interface Schedule {
  kind: ScheduleKind;
  /** Peak rate. */
  lr: number;
  /** Steps of linear warm-up from lr/warmup to lr (0: none). */
  warmup: number;
  /** Steps in the whole run (the cosine reaches its floor at the last one). */
  total: number;
}

/** Floor of the cosine, as a fraction of the peak: the last steps still learn a little. */
const COSINE_FLOOR = 0.02;

/** The rate for 0-based step `step`. */
export function learningRate(s: Schedule, step: number): number {
  if (s.warmup > 0 && step < s.warmup) return (s.lr * (step + 1)) / s.warmup;
  if (s.kind === 'constant') return s.lr;
  const span = Math.max(1, s.total - s.warmup - 1);
  const progress = Math.min(1, Math.max(0, (step - s.warmup) / span));
  return s.lr * (COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
