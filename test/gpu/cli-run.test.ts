// `wgprof run` as a user runs it (`node scripts/run-ts.mjs src/cli/main.ts run ...`, null backend):
// Ctrl-C / SIGTERM in the middle of a profiled run keep the capture, and limits the adapter cannot
// meet are usage errors naming the flag and its maximum.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseTraceFile } from '../../src/report/parse.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'wgprof-cli-run-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Starts a long profiled run, waits for the profiler to start and `afterMs` more (steps are being
 * captured), then sends `signals` (a few ms apart) and resolves when the process exits.
 */
function interruptedRun(dir: string, signals: NodeJS.Signals[], afterMs = 1500): Promise<Finished> {
  const config = JSON.stringify({ profiler: 'torch', torch_profiler_dir: dir, ignore_frontend: true });
  const child = spawn(
    process.execPath,
    ['scripts/run-ts.mjs', 'src/cli/main.ts', 'run', '--backend', 'null', '--requests', '2000', '--max-tokens', '64', '--quiet', '--profiler-config', config],
    { cwd: root },
  );
  let stdout = '';
  let stderr = '';
  let sent = false;
  child.stdout.on('data', (chunk) => (stdout += String(chunk)));
  child.stderr.on('data', (chunk) => {
    stderr += String(chunk);
    if (!sent && stderr.includes('profiler started')) {
      sent = true;
      setTimeout(() => signals.forEach((signal, i) => setTimeout(() => child.kill(signal), i * 50)), afterMs);
    }
  });
  // A safety net against a hang (itself a failure), not a speed assertion.
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe('wgprof run: signals', () => {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    test(`${signal} mid-run stops the window, writes the capture marked interrupted, exits ${code}`, async () => {
      const dir = join(scratch, signal);
      const run = await interruptedRun(dir, [signal]);
      assert.equal(run.code, code, run.stderr);
      assert.match(run.stderr, new RegExp(`${signal}: stopping after the current step and writing what was captured`));
      assert.match(run.stdout, new RegExp(`requests +\\d+ finished before ${signal}`));
      const files = readdirSync(dir);
      assert.deepEqual(files.filter((f) => f.startsWith('.')), [], 'no temp file left');
      const traceFile = files.find((f) => f.endsWith('.pt.trace.json.gz'));
      assert.ok(traceFile, `a trace in ${files.join(', ')}`);
      assert.match(run.stdout, new RegExp(`trace +${join(dir, traceFile).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      const trace = await parseTraceFile(join(dir, traceFile));
      assert.equal((trace as unknown as { wgprof: { interrupted?: string } }).wgprof.interrupted, signal);
      const steps = trace.traceEvents.filter((e) => String(e.name).startsWith('ProfilerStep#'));
      assert.ok(steps.length >= 1, 'the iterations before the signal are in the trace');
    });
  }

  test('a second signal exits at once, without waiting for the export', async () => {
    const run = await interruptedRun(join(scratch, 'twice'), ['SIGINT', 'SIGINT']);
    assert.equal(run.code, 130, run.stderr);
    assert.doesNotMatch(run.stdout, /summary/, 'the graceful path did not finish');
  });
});

describe('wgprof run: limits of the adapter', () => {
  test('a batch larger than the adapter can hold is a usage error naming the flag and its maximum', () => {
    const run = spawnSync(process.execPath, ['scripts/run-ts.mjs', 'src/cli/main.ts', 'run', '--backend', 'null', '--model', 'small', '--max-batch-tokens', '60000'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /--max-batch-tokens 60000 and --max-slots 4 need a GPU buffer of \d+ MiB for model small, but this adapter allows at most \d+ MiB per buffer .*: use --max-batch-tokens \d+ or less\./);
    assert.doesNotMatch(run.stderr, /While validating|\n\s+at /, 'no Dawn error, no stack');
  });
});
