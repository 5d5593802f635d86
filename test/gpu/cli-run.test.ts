// `wgprof run` as a user runs it (`node scripts/run-ts.mjs src/cli/main.ts run ...`, null backend):
// Ctrl-C / SIGTERM in the middle of a profiled run keep the capture, limits the adapter cannot meet
// are usage errors naming the flag and its maximum, and a profile that could not be written (a
// read-only dir, a full disk, a file in the way, a refused upload) exits 1 naming each file and cause.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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
      assert.deepEqual(
        files.filter((f) => f.startsWith('.')),
        [],
        'no temp file left',
      );
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
    const run = spawnSync(
      process.execPath,
      ['scripts/run-ts.mjs', 'src/cli/main.ts', 'run', '--backend', 'null', '--model', 'small', '--max-batch-tokens', '60000'],
      {
        cwd: root,
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    assert.equal(run.status, 2, run.stderr);
    assert.match(
      run.stderr,
      /--max-batch-tokens 60000 and --max-slots 4 need a GPU buffer of \d+ MiB for model small, but this adapter allows at most \d+ MiB per buffer .*: use --max-batch-tokens \d+ or less\./,
    );
    assert.doesNotMatch(run.stderr, /While validating|\n\s+at /, 'no Dawn error, no stack');
  });
});

describe('wgprof run: a profile that could not be written exits 1, naming each file and the cause', () => {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const mounts: string[] = [];
  after(() => {
    for (const dir of mounts) spawnSync('umount', ['-l', dir]);
  });

  /** Mounts a tmpfs with these options on a new directory; undefined when this process may not mount. */
  function mountTmpfs(name: string, options: string): string | undefined {
    const dir = join(scratch, name);
    mkdirSync(dir);
    const result = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { encoding: 'utf8' });
    if (result.status !== 0) return undefined;
    mounts.push(dir);
    return dir;
  }

  /** `wgprof run --quiet` (or `output`) profiled into `dir` (extra config keys merged), as a user runs it. */
  function profiledRun(dir: string, extra: Record<string, unknown> = {}, env: Record<string, string> = {}, output = '--quiet') {
    const config = JSON.stringify({ profiler: 'torch', torch_profiler_dir: dir, ...extra });
    return spawnSync(
      process.execPath,
      ['scripts/run-ts.mjs', 'src/cli/main.ts', 'run', '--backend', 'null', output, '--requests', '4', '--max-tokens', '8', '--profiler-config', config],
      // The timeout is a safety net against a hang (itself a failure), not a speed assertion.
      { cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, WGPROF_TRACE_FALLBACK_DIR: join(scratch, 'fallback'), ...env } },
    );
  }

  /** Exit 1 after the summary, and a stderr line per lost file naming its kind, the code and `names`. */
  function assertFailedProfile(run: ReturnType<typeof profiledRun>, code: RegExp, names: string): void {
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stdout, /summary\n/, 'the run itself is reported');
    assert.match(run.stderr, /wgprof run: the profile could not be written: PROFILER_EXPORT_FAILED: \d+ profile file\(s\) could not be written/);
    const lines = run.stderr.split('\n').filter((line) => /^ {2}(worker|frontend) trace: /.test(line));
    assert.ok(lines.length >= 1, run.stderr);
    for (const line of lines) {
      assert.match(line, code);
      assert.ok(line.includes(names), `${line} names ${names}`);
    }
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  }

  test(`a read-only directory (${isRoot ? 'a read-only tmpfs' : 'mode 0555'}): TRACE_READ_ONLY / TRACE_PERMISSION_DENIED`, () => {
    const ro = mountTmpfs('ro', 'ro,size=64k');
    if (ro) {
      assertFailedProfile(profiledRun(ro), /TRACE_READ_ONLY: /, ro);
      return;
    }
    assert.ok(!isRoot, 'root could mount a read-only tmpfs');
    const locked = join(scratch, 'locked');
    mkdirSync(locked, { mode: 0o555 });
    assertFailedProfile(profiledRun(locked), /TRACE_PERMISSION_DENIED: /, locked);
  });

  test('a full disk (a filled 64 KiB tmpfs, else ENOSPC injected at the file handle): TRACE_DISK_FULL naming the file; no temp file left', () => {
    const full = mountTmpfs('full', 'size=64k');
    let run;
    let dir: string;
    if (full) {
      // Leave less room than the smallest file needs.
      writeFileSync(join(full, 'filler'), Buffer.alloc(63 * 1024));
      dir = full;
      run = profiledRun(full, { torch_profiler_use_gzip: false });
    } else {
      dir = join(scratch, 'enospc');
      run = profiledRun(dir, {}, { NODE_OPTIONS: `--import ${join(root, 'test/shared/enospc-preload.mjs')}` });
    }
    assertFailedProfile(run, /TRACE_DISK_FULL: could not write .*\.pt\.trace\.json(\.gz)?: ENOSPC/, dir);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f !== 'filler'),
      [],
      'no temp file, no partial trace',
    );
  });

  test('a path under a regular file: TRACE_NOT_A_DIRECTORY; --json lists the failures in the summary', () => {
    const file = join(scratch, 'a-file');
    writeFileSync(file, 'not a directory');
    assertFailedProfile(profiledRun(join(file, 'traces')), /TRACE_NOT_A_DIRECTORY: /, file);
    const json = profiledRun(join(file, 'traces'), { ignore_frontend: true }, {}, '--json');
    assert.equal(json.status, 1, json.stderr);
    const summary = (JSON.parse(json.stdout) as { summary: { traceFiles: string[]; profileFailures: { kind: string; code: string; file: string }[] } }).summary;
    assert.deepEqual(summary.traceFiles, []);
    assert.deepEqual(
      summary.profileFailures.map((f) => [f.kind, f.code]),
      [['worker', 'TRACE_NOT_A_DIRECTORY']],
    );
    assert.ok(summary.profileFailures[0]!.file.startsWith(file), summary.profileFailures[0]!.file);
  });

  test('a refused http:// endpoint: TRACE_UPLOAD_FAILED naming the URL and where the file was kept', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const run = profiledRun(`http://127.0.0.1:${port}/t`);
    assertFailedProfile(run, /TRACE_UPLOAD_FAILED: could not upload .* The file is kept at /, `http://127.0.0.1:${port}/t/`);
    assert.ok(
      readdirSync(join(scratch, 'fallback')).some((f) => f.endsWith('.pt.trace.json.gz')),
      'the fallback copy exists',
    );
  });

  test('the auto-stop (max_iterations) that could not write its trace fails the run too', () => {
    const file = join(scratch, 'another-file');
    writeFileSync(file, '');
    assertFailedProfile(profiledRun(join(file, 'traces'), { max_iterations: 2, ignore_frontend: true }), /TRACE_NOT_A_DIRECTORY: /, file);
  });

  test('a dir longer than a path may be (ENAMETOOLONG) is refused before the run: exit 2 naming the limit', () => {
    const run = profiledRun(join(scratch, 'x'.repeat(300)));
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /torch_profiler_dir.*longer than 255 bytes \(NAME_MAX\)/);
  });

  test('a profile that was written exits 0 (the same run into a writable dir)', () => {
    const run = profiledRun(join(scratch, 'fine'));
    assert.equal(run.status, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /could not be written/);
  });
});
