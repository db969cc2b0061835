import { Rng } from '../util/rng.js';

/**
 * Held-out patches for a validation loss: a seeded random `fraction` of the training grid (at
 * least one where the fraction is positive, never all of it). The patches of a grid overlap, so
 * held-out ones share pixels with trained ones, as in other self-supervised denoisers' random
 * validation splits: the loss measures how well the network predicts one pixel's neighbours
 * from the pixel (which it cannot do by memorising the noise), not performance on unseen
 * tissue.
 */
export function splitValidation<T>(grid: readonly T[], fraction: number, seed: number): { train: T[]; validation: T[] } {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`validation fraction must be in [0, 1), got ${fraction}`);
  const wanted = fraction === 0 || grid.length < 2 ? 0 : Math.min(grid.length - 1, Math.max(1, Math.round(fraction * grid.length)));
  const held = new Set(new Rng(seed ^ 0x7a11da7e).shuffle(grid.map((_, i) => i)).slice(0, wanted));
  return {
    train: grid.filter((_, i) => !held.has(i)),
    validation: grid.filter((_, i) => held.has(i)),
  };
}
