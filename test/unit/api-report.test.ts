// The public API cannot change unnoticed: each entry's exports (name and kind, as TypeScript resolves
// them) must equal the checked-in report in test/unit/api/. After a deliberate change, run
// `npm run api-report` and commit the reports with the change (the diff is the API review).

import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { API_REPORT_DIR, REPO_ROOT, apiEntries, sourceApiReports } from '../../scripts/api-report.js';

const reports = sourceApiReports();

describe('API report', () => {
  for (const { entry, report } of reports) {
    test(`${entry.specifier} exports what test/unit/api/${entry.reportName} lists`, () => {
      const file = join(API_REPORT_DIR, entry.reportName);
      assert.ok(existsSync(file), `test/unit/api/${entry.reportName} is missing: run npm run api-report and commit it`);
      assert.equal(
        report,
        readFileSync(file, 'utf8'),
        `the public API of ${entry.specifier} changed: if that is deliberate, run npm run api-report and commit the diff`,
      );
    });
  }

  test('every checked-in report belongs to an entry of package.json exports', () => {
    const expected = reports.map((r) => r.entry.reportName).sort();
    assert.deepEqual(
      readdirSync(API_REPORT_DIR)
        .filter((f) => f.endsWith('.api.txt'))
        .sort(),
      expected,
    );
  });

  test('entry sources list their exports (no `export *`, which would pass on whatever a module adds)', () => {
    for (const { entry } of reports) {
      const source = readFileSync(join(REPO_ROOT, entry.source), 'utf8');
      assert.doesNotMatch(source, /^export (type )?\* from/m, `${entry.source} re-exports a whole module`);
    }
  });

  test('internals stay out of wgprof (the names issue 12 found leaking)', () => {
    const core = reports.find((r) => r.entry.specifier === 'wgprof')!.report;
    for (const internal of ['hostPid', 'sumCosts', 'dispatchInStep', 'windowTracePath', 'Instrumentation', 'createEngine', 'connectChromiumTracing']) {
      assert.doesNotMatch(core, new RegExp(` ${internal}$`, 'm'), internal);
    }
  });

  test('the entries are read from package.json exports: specifiers, sources and report names', () => {
    const entries = apiEntries({
      name: 'pkg',
      exports: {
        '.': { types: './dist/types/src/index.d.ts', default: './dist/index.js' },
        './sub/path': { types: './dist/types/src/sub/index.d.ts', browser: './dist/browser/sub.js', default: './dist/sub.js' },
        './package.json': './package.json',
        './untyped': { default: './dist/untyped.js' },
      },
    });
    assert.deepEqual(
      entries.map((e) => [e.specifier, e.source, e.reportName]),
      [
        ['pkg', 'src/index.ts', 'pkg.api.txt'],
        ['pkg/sub/path', 'src/sub/index.ts', 'pkg-sub-path.api.txt'],
      ],
    );
  });
});
