import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type EpochRecord } from '../../src/node.js';
import { flatEpochs, FLAT_TOLERANCE } from '../../src/train/record.js';

const epochs = (valLosses: (number | null)[]): EpochRecord[] =>
  valLosses.map((valLoss, i) => ({ epoch: i + 1, step: 10 * (i + 1), trainLoss: 1, valLoss, lr: 1e-4 }));

test('flatEpochs counts the epochs since the validation loss last fell by the tolerance', () => {
  assert.equal(flatEpochs([]), 0);
  assert.equal(flatEpochs(epochs([null, null])), 0);
  assert.equal(flatEpochs(epochs([3])), 0);
  assert.equal(flatEpochs(epochs([3, 2, 1])), 0);
  assert.equal(flatEpochs(epochs([3, 2, 2, 2.5])), 2);
  // A fall smaller than the tolerance is no progress...
  const tiny = 2 * (1 - FLAT_TOLERANCE / 2);
  assert.equal(flatEpochs(epochs([3, 2, tiny])), 1);
  // ...but small falls that add up past it are.
  assert.equal(flatEpochs(epochs([3, 2, tiny, tiny * (1 - FLAT_TOLERANCE / 2) ** 2])), 0);
});
