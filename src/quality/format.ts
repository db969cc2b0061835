/** Scores as `srdtrans evaluate` and `srdtrans demo` print them, and the browser app shows them. */
import type { ErrorSplit, Evaluation } from './metrics.js';

export function formatEvaluation(e: Evaluation): string {
  return [
    `SNR      ${e.snr_db.toFixed(2)} dB`,
    `SNR z    ${e.snr_z_db.toFixed(2)} dB (both stacks standardised)`,
    `PSNR     ${e.psnr_db.toFixed(2)} dB`,
    `SSIM     ${e.ssim.toFixed(4)}`,
    `trace r  ${e.trace_r === null ? 'n/a (no masks)' : e.trace_r.toFixed(4)}`,
    ...(e.error_split ? [`error    ${formatErrorSplit(e.error_split)}`] : []),
  ].join('\n');
}

/** The error's parts as shares: where a denoiser falls short. */
export function formatErrorSplit(e: ErrorSplit): string {
  const total = e.static + e.cells + e.background;
  const pc = (v: number) => `${total > 0 ? Math.round((100 * v) / total) : 0} %`;
  return `${pc(e.static)} in the static image, ${pc(e.cells)} in cell activity, ${pc(e.background)} in background activity`;
}

/** One line: what denoising gained over the raw stack. */
export function formatGains(raw: Evaluation, ours: Evaluation): string {
  const sign = (v: number, digits: number) => `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;
  const r = raw.trace_r !== null && ours.trace_r !== null ? `, trace r ${raw.trace_r.toFixed(2)} -> ${ours.trace_r.toFixed(2)}` : '';
  return `gain: SNR ${sign(ours.snr_db - raw.snr_db, 1)} dB, SSIM ${raw.ssim.toFixed(2)} -> ${ours.ssim.toFixed(2)}${r}`;
}
