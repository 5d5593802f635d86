// Test helpers shared by test/unit/config-args.test.ts and test/unit/config-parse.test.ts.

import assert from 'node:assert/strict';
import { after, before, beforeEach } from 'node:test';
import { ProfilerConfigError } from '../../../src/config/index.js';
import { resetWarnOnce, setLogSink } from '../../../src/util/log.js';
import type { LogLevel } from '../../../src/util/log.js';

export interface LoggedLine {
  level: LogLevel;
  message: string;
}

/**
 * Routes `log` output (debug and up) into the returned array for the calling test file: emptied, and
 * warnOnce's memory reset, before each test; the previous sink is restored after the file. Call at
 * the top level of a test file.
 */
export function captureLog(): LoggedLine[] {
  const logged: LoggedLine[] = [];
  let restoreSink: () => void = () => {};
  before(() => {
    restoreSink = setLogSink((level, message) => logged.push({ level, message }), 'debug');
  });
  after(() => restoreSink());
  beforeEach(() => {
    logged.length = 0;
    resetWarnOnce();
  });
  return logged;
}

/** The ProfilerConfigError `fn` throws (fails the test when it throws anything else or nothing). */
export function configError(fn: () => unknown): ProfilerConfigError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ProfilerConfigError, `expected ProfilerConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a ProfilerConfigError, nothing was thrown');
}
