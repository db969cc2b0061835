/**
 * The settings form: reading the number fields (a bad value is one line naming the field), and
 * the two presets that fill them.
 */
import { DEFAULT_MODEL_CONFIG, DEMO_MODEL, DEMO_RECIPE, TRAIN_DEFAULTS, UserError, type ModelConfig } from '../../src/index.js';
import type { DenoiseFields, GridFields, TrainFields } from './protocol.js';

export type Preset = 'quick' | 'published';

interface PresetValues {
  'patch-xy': number;
  'patch-t': number;
  overlap: number;
  epochs: number;
  'train-size': number;
  lr: number;
  'val-fraction': number;
  'f-maps': string;
  'embed-dim': number;
  heads: number;
  'mlp-dim': number;
  window: number;
  blocks: number;
}

function architecture(c: ModelConfig): Pick<PresetValues, 'f-maps' | 'embed-dim' | 'heads' | 'mlp-dim' | 'window' | 'blocks' | 'patch-t'> {
  return { 'f-maps': c.fMaps.join(','), 'embed-dim': c.embedDim, heads: c.heads, 'mlp-dim': c.mlpDim, window: c.window, blocks: c.blocks, 'patch-t': c.patchT };
}

/**
 * quick: the demo's network and recipe, a few minutes on a laptop's CPU; published: the
 * paper's network and training settings (hours, a GPU).
 */
export const PRESETS: Record<Preset, PresetValues> = {
  quick: {
    ...architecture(DEMO_MODEL), 'patch-xy': DEMO_RECIPE.patchXY, overlap: 0.5, epochs: 4, 'train-size': 200,
    lr: DEMO_RECIPE.lr, 'val-fraction': DEMO_RECIPE.valFraction,
  },
  published: {
    ...architecture(DEFAULT_MODEL_CONFIG), 'patch-xy': TRAIN_DEFAULTS.patchXY, 'patch-t': TRAIN_DEFAULTS.patchT, overlap: TRAIN_DEFAULTS.overlap,
    epochs: TRAIN_DEFAULTS.epochs, 'train-size': TRAIN_DEFAULTS.trainSize, lr: TRAIN_DEFAULTS.lr, 'val-fraction': TRAIN_DEFAULTS.valFraction,
  },
};

export function field(name: string): HTMLInputElement {
  const el = document.querySelector<HTMLInputElement>(`[data-testid="${name}"]`);
  if (!el) throw new Error(`the page lacks the field ${name}`);
  return el;
}

export function applyPreset(preset: Preset): void {
  for (const [name, value] of Object.entries(PRESETS[preset])) field(name).value = String(value);
}

function number(name: string, o: { min: number; max?: number; integer?: boolean }): number {
  const input = field(name);
  const v = Number(input.value.trim());
  const label = input.labels?.[0]?.textContent?.trim() ?? name;
  const range = `${o.integer ? 'a whole number' : 'a number'} ≥ ${o.min}${o.max === undefined ? '' : ` and ≤ ${o.max}`}`;
  if (input.value.trim() === '' || !Number.isFinite(v) || (o.integer && !Number.isInteger(v)) || v < o.min || (o.max !== undefined && v > o.max)) {
    throw new UserError(`${label}: '${input.value}' is not ${range}`);
  }
  return v;
}

export function gridFields(): GridFields {
  const sampling = field('sampling').value;
  if (sampling !== 'spatial' && sampling !== 'temporal') throw new UserError(`sampling: '${sampling}' is neither spatial nor temporal`);
  return {
    sampling,
    patchXY: number('patch-xy', { min: 2, integer: true }),
    patchT: number('patch-t', { min: 1, integer: true }),
    overlap: number('overlap', { min: 0, max: 0.95 }),
    trainSize: number('train-size', { min: 1, integer: true }),
  };
}

export function trainFields(): TrainFields {
  const grid = gridFields();
  const fMaps = field('f-maps').value.split(',').map((s) => Number(s.trim()));
  if (fMaps.length === 0 || fMaps.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new UserError(`encoder channels: '${field('f-maps').value}' is not a list of whole numbers, e.g. 8,16,32,64`);
  }
  return {
    ...grid,
    epochs: number('epochs', { min: 1, integer: true }),
    lr: number('lr', { min: 0 }),
    valFraction: number('val-fraction', { min: 0, max: 0.5 }),
    seed: number('seed', { min: 0, integer: true }),
    model: {
      fMaps,
      embedDim: number('embed-dim', { min: 1, integer: true }),
      heads: number('heads', { min: 1, integer: true }),
      mlpDim: number('mlp-dim', { min: 1, integer: true }),
      window: number('window', { min: 1, integer: true }),
      blocks: number('blocks', { min: 1, integer: true }),
      patchT: grid.patchT,
      attnDropout: DEFAULT_MODEL_CONFIG.attnDropout,
    },
  };
}

/** Denoising takes the patch length from the model; a different one is refused as the CLI does. */
export function denoiseFields(modelPatchT: number): DenoiseFields {
  const patchT = number('patch-t', { min: 1, integer: true });
  if (patchT !== modelPatchT) {
    throw new UserError(`patch-t ${patchT}: this model was built for patches of ${modelPatchT} frames (its positional embedding fixes the length); set patch-t to ${modelPatchT}`);
  }
  return {
    patchXY: number('patch-xy', { min: 1, integer: true }),
    overlap: number('overlap', { min: 0, max: 0.95 }),
    asFloat: field('float').checked,
    streamAbove: number('stream-above', { min: 0 }) * 2 ** 20,
  };
}

export function demoFields(): { steps: number; epochs: number } {
  const steps = number('demo-steps', { min: 1, integer: true });
  return { steps, epochs: Math.min(DEMO_RECIPE.epochs, steps) };
}

/** The epochs to train up to, for Resume. */
export function resumeEpochs(): number {
  return number('epochs', { min: 1, integer: true });
}

/** The tile size of an exported ONNX graph or BioImage package. */
export function exportPatchXY(): number {
  return number('patch-xy', { min: 1, integer: true });
}
