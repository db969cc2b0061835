import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitValidation } from '../../src/data/validation.js';

const grid = Array.from({ length: 100 }, (_, i) => i);

test('validation split: the asked share held out, disjoint from training, together the whole grid, fixed by the seed', () => {
  const a = splitValidation(grid, 0.05, 7);
  assert.equal(a.validation.length, 5);
  assert.equal(a.train.length, 95);
  assert.deepEqual([...a.train, ...a.validation].sort((x, y) => x - y), grid);
  assert.deepEqual(splitValidation(grid, 0.05, 7), a, 'same seed, same split');
  assert.notDeepEqual(splitValidation(grid, 0.05, 8).validation, a.validation, 'another seed, another split');
});

test('validation split: none for fraction 0 or a one-patch grid, at least one otherwise, never the whole grid', () => {
  assert.deepEqual(splitValidation(grid, 0, 1), { train: grid, validation: [] });
  assert.deepEqual(splitValidation([42], 0.5, 1), { train: [42], validation: [] });
  assert.equal(splitValidation(grid.slice(0, 3), 0.01, 1).validation.length, 1);
  assert.equal(splitValidation(grid.slice(0, 2), 0.9, 1).train.length, 1);
  assert.throws(() => splitValidation(grid, 1, 1), /\[0, 1\)/);
});
