/** Display contrast: the intensities that map to black and white. */

/** At most this many pixels are sorted for the percentiles: a large frame is sampled evenly. */
const SAMPLE = 1 << 16;

/** The `low` and `high` percentiles (0–100) of a frame's values. */
export function percentileRange(data: Float32Array, low: number, high: number): [number, number] {
  const stride = Math.max(1, Math.floor(data.length / SAMPLE));
  const sample = new Float32Array(Math.ceil(data.length / stride));
  for (let i = 0, j = 0; i < data.length; i += stride, j++) sample[j] = data[i]!;
  sample.sort();
  const at = (p: number) => sample[Math.min(sample.length - 1, Math.max(0, Math.round((p / 100) * (sample.length - 1))))]!;
  const lo = at(low);
  const hi = at(high);
  // A flat frame still shows (grey) rather than dividing by zero.
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

export interface ContrastInputs {
  /** Percentiles of the automatic contrast. */
  low: HTMLInputElement;
  high: HTMLInputElement;
  /** Grey levels of the manual contrast. */
  min: HTMLInputElement;
  max: HTMLInputElement;
  auto: HTMLButtonElement;
  /** Says which contrast is in force. */
  mode: HTMLElement;
}

/**
 * The contrast the panels are drawn with: automatic (each frame's percentiles, the default) or
 * manual (grey levels typed in, the same for raw and denoised). While automatic, the grey-level
 * fields show the raw frame's range, so typing starts from what is shown; typing switches to
 * manual, and the Auto button switches back.
 */
export class Contrast {
  private manual = false;

  constructor(private readonly inputs: ContrastInputs, changed: () => void) {
    for (const input of [inputs.low, inputs.high]) input.addEventListener('change', changed);
    for (const input of [inputs.min, inputs.max]) {
      input.addEventListener('input', () => {
        this.setManual(true);
        changed();
      });
    }
    inputs.auto.addEventListener('click', () => {
      this.setManual(false);
      changed();
    });
    this.setManual(false);
  }

  /** The grey levels that map to black and white for a frame's values. */
  range(data: Float32Array): [number, number] {
    const typed = this.typed();
    if (this.manual && typed) return typed;
    return percentileRange(data, Number(this.inputs.low.value), Number(this.inputs.high.value));
  }

  /** Shows the raw frame's automatic range in the grey-level fields (automatic contrast only). */
  showAutomatic([lo, hi]: readonly [number, number]): void {
    if (this.manual) return;
    this.inputs.min.value = String(lo);
    this.inputs.max.value = String(hi);
  }

  /** The typed range, or null while it is not two numbers, min below max. */
  private typed(): [number, number] | null {
    const lo = Number(this.inputs.min.value);
    const hi = Number(this.inputs.max.value);
    const valid = this.inputs.min.value.trim() !== '' && this.inputs.max.value.trim() !== '' && Number.isFinite(lo) && Number.isFinite(hi) && lo < hi;
    this.inputs.mode.textContent = !this.manual ? 'auto (percentiles)' : valid ? 'manual' : 'manual: min must be a number below max (auto shown meanwhile)';
    return valid ? [lo, hi] : null;
  }

  private setManual(manual: boolean): void {
    this.manual = manual;
    this.inputs.auto.disabled = !manual;
    this.inputs.auto.setAttribute('aria-pressed', String(!manual));
    this.typed();
  }
}
