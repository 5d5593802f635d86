// Property tests (fast-check, fixed seeds): generated configs and command lines, hostile values
// included, only ever give a valid config or a typed error, and on the command line exit 0 or 2 with a
// one-line-per-problem message: never a crash, a hang or a stack trace.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { UsageError } from '../../src/cli/command.js';
import { main } from '../../src/cli/main.js';
import { parseRunArgs } from '../../src/cli/run/options.js';
import { PROFILER_CONFIG_KEYS, ProfilerConfigError, parseProfilerConfig } from '../../src/config/index.js';
import { setLogSink } from '../../src/util/log.js';

const RUNS = 1000;
const root = fileURLToPath(new URL('../../', import.meta.url));

let restoreLog: () => void = () => {};
before(() => {
  restoreLog = setLogSink(() => undefined, 'error');
});
after(() => restoreLog());

const hostileKey = fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'proton_mode', 'max_iteration', '', ' ', 'a.b', 'k'.repeat(5000));
const value = fc.oneof(
  fc.constantFrom<unknown>(true, false, null, 0, 1, -1, 2.5, 1e300, 2 ** 60, 'true', 'FALSE', 'yes', '2', ' 3 ', '2.000', '0x10', '1e2', '1_000', '+-1'),
  fc.constantFrom<unknown>('torch', 'cuda', 'Torch', 'None', 'null', 'proton', '~', '~/x', '~root/x', '~nobody_zz/x', '/tmp/x', './rel', '//net/x'),
  fc.constantFrom<unknown>(
    's3://b/x',
    'gs://b/x',
    'hdfs://n/p',
    'my_fs://b/x',
    'http://h/x',
    'file:///tmp/x',
    'C://x',
    'a\u0000b',
    'x'.repeat(5000),
    '/a/'.repeat(2000),
  ),
  fc.constantFrom<unknown>(['CPU'], ['CUDA', 'CPU'], [], ['XPU'], ['CPU', 'CPU'], {}, [[[]]], 'CPU'),
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double(),
);
const key = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...PROFILER_CONFIG_KEYS) },
  { weight: 1, arbitrary: hostileKey },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
);
const configObject = fc.dictionary(key, value, { maxKeys: 6 });
const configText = fc.oneof(
  configObject.map((o) => JSON.stringify(o)),
  fc.json({ maxDepth: 4 }),
  fc.string({ maxLength: 60 }),
  fc.nat({ max: 30_000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
  configObject.map((o) => JSON.stringify(o).replace(/"/g, "'")),
  configObject.map((o) => JSON.stringify(o).replace(/true/g, 'True').replace(/}$/, ',}')),
);

function assertTypedError(error: unknown): void {
  if (!(error instanceof ProfilerConfigError)) throw error;
  assert.ok(error.issues.length > 0);
  assert.ok(error.message.length < 20_000, `message of ${error.message.length} characters`);
  assert.doesNotMatch(error.message, /native code|\[object Object\]|undefined \(reading/);
}

describe('fuzz: configs', () => {
  it(`${RUNS}+ generated configs (objects and JSON text) parse to a complete config or a ProfilerConfigError`, () => {
    const input = fc.oneof(configObject, configText);
    fc.assert(
      fc.property(input, fc.constantFrom('node' as const, 'browser' as const), fc.boolean(), (given, runtime, installed) => {
        const options = { runtime, packageResolves: () => installed };
        let config;
        try {
          config = parseProfilerConfig(given, options);
        } catch (error) {
          assertTypedError(error);
          return;
        }
        assert.deepEqual(Object.keys(config), PROFILER_CONFIG_KEYS);
        assert.ok(config.profiler === null || config.profiler === 'torch' || config.profiler === 'cuda');
        assert.equal(typeof config.torch_profiler_dir, 'string');
        for (const k of ['delay_iterations', 'max_iterations', 'warmup_iterations', 'wait_iterations', 'active_iterations'] as const) {
          assert.ok(Number.isSafeInteger(config[k]) && config[k] >= 0, k);
        }
        assert.deepEqual(parseProfilerConfig(config, options), config, 'parsing is idempotent');
      }),
      { seed: 0x5eed_c0f1, numRuns: RUNS + 200 },
    );
  });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `wgprof ARGV` in this process, with what it writes captured. The CLI writes strings; the test
 * runner's own messages (Buffers on this child's stdout) pass through untouched.
 */
async function wgprof(argv: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  const capture = (original: typeof out, append: (text: string) => void) =>
    function (this: NodeJS.WriteStream, chunk: string | Uint8Array, ...rest: unknown[]): boolean {
      if (typeof chunk !== 'string') return (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
      append(chunk);
      return true;
    } as typeof out;
  process.stdout.write = capture(out, (text) => (stdout += text));
  process.stderr.write = capture(err, (text) => (stderr += text));
  try {
    return { code: await main(argv), stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

function assertUsageOutcome(run: Run, argv: string[]): void {
  const line = JSON.stringify(argv).slice(0, 300);
  assert.ok(run.code === 0 || run.code === 2, `exit ${run.code} for ${line}\n${run.stderr.slice(0, 500)}`);
  if (run.code === 2) assert.match(run.stderr, /^wgprof( \w+)?: /, line);
  assert.doesNotMatch(run.stderr, /\n\s+at \S+ \(|Maximum call stack|native code/, line);
  assert.ok(run.stderr.length < 30_000, `stderr of ${run.stderr.length} characters for ${line}`);
}

const dottedValue = fc.oneof(
  value.map((v) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? 'x'))),
  fc.string({ maxLength: 20 }),
);
const configToken = fc.oneof(
  configText.map((text) => ['--profiler-config', text]),
  configText.map((text) => [`--profiler_config=${text}`]),
  fc
    .tuple(fc.oneof(key, fc.constantFrom('a.b', '', 'torch_profiler_activities+', 'max_iterations+')), dottedValue)
    .map(([k, v]) => [`--profiler-config.${k}=${v}`]),
  fc.tuple(key, dottedValue).map(([k, v]) => [`--profiler-config.${k}`, v]),
  fc.constant(['--profiler-config']),
);

describe('fuzz: command lines', () => {
  it(`${RUNS} generated \`wgprof config\` lines exit 0 or 2, never with a stack trace`, async () => {
    const token = fc.oneof(
      { weight: 4, arbitrary: configToken },
      fc.constant(['--json']),
      fc.constantFrom('node', 'browser', 'deno', '').map((r) => ['--runtime', r]),
      fc.string({ maxLength: 12 }).map((s) => [s]),
      fc.constant(['--']),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(token, { maxLength: 5 }), async (tokens) => {
        const argv = ['config', ...tokens.flat()];
        const run = await wgprof(argv);
        assertUsageOutcome(run, argv);
        if (run.code === 0 && !argv.includes('--help') && !argv.includes('-h')) assert.match(run.stdout, /hash: |"hash":/);
      }),
      { seed: 0xc11_f00d, numRuns: RUNS },
    );
  });

  it(`${RUNS} generated \`wgprof run\` lines: parsed, or a usage error that exits 2 before the engine starts`, async () => {
    const number = fc.oneof(
      fc.constantFrom('0', '1', '-1', '16', '0x10', '1e2', '1.5', ' 4', '+3', '1_000', '10000000', '1000000000', '99999999999999999999', ''),
      fc.string({ maxLength: 6 }),
    );
    const flag = fc.constantFrom('--requests', '--max-tokens', '--top-k', '--seed', '--max-batch-tokens', '--max-slots', '--temperature');
    const token = fc.oneof(
      { weight: 4, arbitrary: fc.tuple(flag, number).map(([f, n]) => [f, n]) },
      { weight: 2, arbitrary: fc.tuple(flag, number).map(([f, n]) => [`${f}=${n}`]) },
      fc.constantFrom('tiny', 'small', 'gpt2', 'gpt3', '').map((m) => ['--model', m]),
      fc.constantFrom('auto', 'null', 'metal').map((b) => ['--backend', b]),
      fc.constantFrom(['--json'], ['--quiet'], ['--json=1'], ['--prompt', ''], ['--stop', '.'], ['--max-token', '3'], ['--prompts-file', '/nonexistent/p.txt']),
      configToken,
      fc.string({ maxLength: 12 }).map((s) => [s]),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(token, { minLength: 1, maxLength: 5 }), async (tokens) => {
        const argv = tokens.flat();
        let parsed = true;
        try {
          const options = parseRunArgs(argv);
          if (options.promptsFile !== undefined) parsed = false; // the file does not exist: main reports it, exit 2
        } catch (error) {
          if (!(error instanceof UsageError || error instanceof ProfilerConfigError)) throw error;
          parsed = false;
        }
        if (parsed) return; // a valid line would run the engine; its parsing is what is under test
        const run = await wgprof(['run', ...argv]);
        assertUsageOutcome(run, argv);
        if (!argv.includes('--help') && !argv.includes('-h')) assert.equal(run.code, 2, JSON.stringify(argv).slice(0, 300));
      }),
      { seed: 0x7a11_5eed, numRuns: RUNS },
    );
  });

  it('as real processes: hostile lines exit 2 with a one-line reason, no stack', () => {
    const cases: [string[], RegExp][] = [
      [['run', '--requests', '0x10'], /--requests must be an integer ≥ 1 .*got "0x10"/],
      [['run', '--requests', '10000000'], /--requests is 10000000; the most it can be is 100000/],
      [['run', '--max-batch-tokens', '1000000000'], /--max-batch-tokens is 1000000000; the most it can be is 65535/],
      [['run', '--max-batch-tokens', '2', '--max-slots', '4'], /--max-batch-tokens \(2\) must be ≥ --max-slots \(4\)/],
      [['config', '--profiler-config', `{"profiler": ${'['.repeat(20_000)}${']'.repeat(20_000)}}`], /nested more than 64 levels deep/],
    ];
    for (const [argv, pattern] of cases) {
      const run = spawnSync(process.execPath, ['scripts/run-ts.mjs', 'src/cli/main.ts', ...argv], { cwd: root, encoding: 'utf8', timeout: 60_000 });
      assert.equal(run.status, 2, `${argv.join(' ').slice(0, 100)}: ${run.stderr}`);
      assert.match(run.stderr, pattern);
      assert.doesNotMatch(run.stderr, /\n\s+at |Maximum call stack/);
    }
  });
});
