/** The published training settings: what `srdtrans train` and the browser app start from. */
export const TRAIN_DEFAULTS = {
  epochs: 30, patchXY: 128, patchT: 128, overlap: 0.5, trainSize: 6000, lr: 1e-4, beta1: 0.5, beta2: 0.999, scale: 1,
  // Constant, as published: at a fixed budget it measured as well as cosine (README, "How long to train").
  valFraction: 0.05, schedule: 'constant',
} as const;
