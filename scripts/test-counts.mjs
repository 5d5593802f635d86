#!/usr/bin/env node
// Pass/fail counts from the test runners' machine-readable reports, for scripts/test.sh:
//   node scripts/test-counts.mjs tap FILE               node:test's TAP reporter (its final # summary)
//   node scripts/test-counts.mjs playwright-json FILE   Playwright's JSON reporter
// prints `PASSED FAILED SKIPPED`; exits 1 with the reason when the report is missing or holds no result
// (a suite that crashed before reporting is a failure, never a silent zero).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

export class NoCountsError extends Error {}

/** node:test's TAP: the summary it writes last (`# pass N`, `# fail N`, ...). Cancelled tests (a file that crashed or timed out) did not pass: failed. */
export function countsFromTap(text) {
  const summary = {};
  for (const match of text.matchAll(/^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$/gm)) summary[match[1]] = Number(match[2]);
  if (summary.pass === undefined || summary.fail === undefined)
    throw new NoCountsError('the TAP report has no "# pass N" / "# fail N" summary: the run did not finish');
  return { passed: summary.pass, failed: summary.fail + (summary.cancelled ?? 0), skipped: (summary.skipped ?? 0) + (summary.todo ?? 0) };
}

/**
 * Playwright's JSON report, test by test: 'expected' and 'flaky' (passed on a retry) passed; a test
 * skipped on purpose (expectedStatus 'skipped') is skipped; one that did not run although it was meant
 * to (a serial group after a failure, an interrupted run) failed, as did 'unexpected'. Errors outside
 * any test (globalSetup, a spec that does not load) count as one failure each.
 */
export function countsFromPlaywrightJson(text) {
  const report = JSON.parse(text);
  const counts = { passed: 0, failed: (report.errors ?? []).length, skipped: 0 };
  const visit = (suite) => {
    for (const spec of suite.specs ?? []) {
      for (const t of spec.tests ?? []) {
        if (t.status === 'expected' || t.status === 'flaky') counts.passed++;
        else if (t.status === 'skipped' && t.expectedStatus === 'skipped') counts.skipped++;
        else counts.failed++;
      }
    }
    for (const child of suite.suites ?? []) visit(child);
  };
  for (const suite of report.suites ?? []) visit(suite);
  if (counts.passed + counts.failed + counts.skipped === 0) throw new NoCountsError('the Playwright report lists no test and no error: nothing ran');
  return counts;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [format, file] = process.argv.slice(2);
  const parse = { tap: countsFromTap, 'playwright-json': countsFromPlaywrightJson }[format ?? ''];
  if (!parse || !file) {
    process.stderr.write('usage: node scripts/test-counts.mjs tap|playwright-json FILE\n');
    process.exit(2);
  }
  try {
    const { passed, failed, skipped } = parse(readFileSync(file, 'utf8'));
    process.stdout.write(`${passed} ${failed} ${skipped}\n`);
  } catch (error) {
    process.stderr.write(`test-counts: ${file}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
