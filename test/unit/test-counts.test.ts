// scripts/test.sh's counts come from the runners' machine-readable reports (scripts/test-counts.mjs):
// node:test's TAP summary, Playwright's JSON test by test. What did not pass or did not run is a
// failure; a report without results is an error, never zero failures.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NoCountsError, countsFromPlaywrightJson, countsFromTap } from '../../scripts/test-counts.mjs';

const tap = (summary: string) => `TAP version 13\n# Subtest: a\nok 1 - a\n  ---\n  duration_ms: 1\n  ...\n1..1\n${summary}`;

describe('node:test TAP', () => {
  test('counts the final summary; cancelled tests (a crashed or timed-out file) are failures, todo are skipped', () => {
    const text = tap('# tests 9\n# suites 2\n# pass 5\n# fail 1\n# cancelled 2\n# skipped 0\n# todo 1\n# duration_ms 12.5\n');
    assert.deepEqual(countsFromTap(text), { passed: 5, failed: 3, skipped: 1 });
  });

  test('a subtest named like a summary line is not the summary (it is indented), and a report cut short has none', () => {
    assert.throws(() => countsFromTap('TAP version 13\n    # pass 3\nok 1 - x\n'), NoCountsError);
    assert.throws(() => countsFromTap(''), /no "# pass N" \/ "# fail N" summary/);
  });
});

describe('Playwright JSON', () => {
  const spec = (title: string, status: string, expectedStatus = 'passed') => ({ title, tests: [{ status, expectedStatus, results: [] }] });
  const report = (suites: unknown[], errors: unknown[] = []) => JSON.stringify({ config: {}, suites, errors, stats: {} });

  test('counts test by test through nested suites: expected and flaky pass; unexpected, did-not-run and interrupted fail; test.skip skips', () => {
    const text = report([
      {
        title: 'a.spec.ts',
        specs: [spec('ok', 'expected'), spec('retried', 'flaky'), spec('broken', 'unexpected')],
        suites: [
          {
            title: 'serial',
            specs: [spec('after a failure', 'skipped'), spec('on purpose', 'skipped', 'skipped')],
            suites: [{ title: 'deep', specs: [spec('ok too', 'expected')] }],
          },
        ],
      },
    ]);
    assert.deepEqual(countsFromPlaywrightJson(text), { passed: 3, failed: 2, skipped: 1 });
  });

  test('an error outside any test (globalSetup, a spec that does not load) is a failure; a report with nothing in it is an error', () => {
    assert.deepEqual(countsFromPlaywrightJson(report([], [{ message: 'Error: No tests found' }])), { passed: 0, failed: 1, skipped: 0 });
    assert.throws(() => countsFromPlaywrightJson(report([])), /lists no test and no error/);
    assert.throws(() => countsFromPlaywrightJson('{"suites": ['), SyntaxError);
  });
});
