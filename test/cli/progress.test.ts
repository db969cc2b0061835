/**
 * The progress line's rate and ETA count only the work this process did: a run continued with
 * --resume starts at step N, and its first N steps took no time here.
 */
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { ProgressBar } from '../../src/cli/progress.js';

/** Lines a plain-mode bar writes (one per update: plainEveryMs 0). */
function plainBar(): { bar: ProgressBar; lines: string[] } {
  const lines: string[] = [];
  const out = { write: (s: string) => lines.push(s.trimEnd()) } as unknown as NodeJS.WriteStream;
  return { bar: new ProgressBar('train', 'plain', out, 0), lines };
}

test('a resumed run: rate and ETA from the steps done since its first update', () => {
  mock.timers.enable({ apis: ['Date'], now: 0 });
  try {
    const { bar, lines } = plainBar();
    mock.timers.tick(60_000); // start-up
    bar.update({ done: 3000, total: 9000 });
    mock.timers.tick(30_000);
    bar.update({ done: 3010, total: 9000 }); // 10 steps in 30 s
    assert.match(lines.at(-1)!, /3\.00 s\/it/);
    assert.match(lines.at(-1)!, /ETA 4:59:30/, '5990 steps at 3 s each');
    assert.match(lines.at(-1)!, /elapsed 01:30/);
  } finally {
    mock.timers.reset();
  }
});

test('a fresh run: the first update sets no rate, the next ones do', () => {
  mock.timers.enable({ apis: ['Date'], now: 0 });
  try {
    const { bar, lines } = plainBar();
    mock.timers.tick(2_000);
    bar.update({ done: 1, total: 5 });
    assert.match(lines.at(-1)!, /-- it\/s .*ETA --:--/);
    mock.timers.tick(1_000);
    bar.update({ done: 3, total: 5 });
    assert.match(lines.at(-1)!, /2\.00 it\/s .*ETA 00:01/);
  } finally {
    mock.timers.reset();
  }
});
