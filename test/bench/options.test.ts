import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BenchOptionError, isOptionError, listOf, oneOf, positiveInt, positiveInts, positiveNumber } from '../../bench/options.js';

/** Bench options: checked values, and a bad command line ends a bench with one line and status 2. */

test('option values are checked', () => {
  assert.equal(positiveInt('repeat', '3'), 3);
  assert.deepEqual(positiveInts('frames', '200,2000'), [200, 2000]);
  assert.equal(positiveNumber('rate', '0.3'), 0.3);
  assert.deepEqual(listOf('rows', 'forward,denoise', ['forward', 'step-32', 'denoise']), ['forward', 'denoise']);
  assert.equal(oneOf('sampling', 'temporal', ['spatial', 'temporal']), 'temporal');
  for (const bad of ['0', '-1', '1.5', 'x', '', undefined]) assert.throws(() => positiveInt('repeat', bad), BenchOptionError);
  assert.throws(() => positiveInts('frames', '200,abc'), /--frames: expected a positive integer, got 'abc'/);
  assert.throws(() => positiveNumber('rate', '0'), BenchOptionError);
  assert.throws(() => listOf('rows', 'forward,nope', ['forward']), /--rows/);
  assert.throws(() => oneOf('sampling', 'sideways', ['spatial', 'temporal']), /got 'sideways'/);
});

test('parseArgs errors count as option errors; others do not', () => {
  let parseError: unknown;
  try {
    parseArgs({ args: ['--bogus'], options: {} });
  } catch (err) {
    parseError = err;
  }
  assert.ok(isOptionError(parseError));
  assert.ok(isOptionError(new BenchOptionError('x')));
  assert.equal(isOptionError(new Error('x')), false);
});

test('a bad bench option: one line on stderr, status 2, no stack trace', () => {
  const index = fileURLToPath(new URL('../../bench/index.ts', import.meta.url));
  for (const args of [['train', '--repeat', 'x'], ['budget', '--bogus']]) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', index, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`^bench ${args[0]}: `));
  }
});
