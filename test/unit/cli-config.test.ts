import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { command } from '../../src/cli/config.js';
import { PROFILER_CONFIG_DEFAULTS, PROFILER_CONFIG_KEYS } from '../../src/config/index.js';
import { resetWarnOnce, setLogSink } from '../../src/util/log.js';

const HASH = 'd751713988987e9331980363e24189ce';
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

const warnings: string[] = [];
let restoreSink: () => void = () => {};
before(() => {
  restoreSink = setLogSink((_level, message) => warnings.push(message), 'debug');
});
after(() => restoreSink());

/** Runs `wgprof config ARGV` in this process, capturing what it writes. */
async function runConfig(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await command.main(argv);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

test('no --profiler-config: prints the defaults and the hash, exit 0', async () => {
  const { code, stdout, stderr } = await runConfig([]);
  assert.equal(code, 0);
  assert.equal(stderr, '');
  const [json, hashLine, empty] = stdout.split(/\n(?=hash: )|\n$/);
  assert.deepEqual(JSON.parse(json!), PROFILER_CONFIG_DEFAULTS);
  assert.equal(hashLine, `hash: ${HASH}`);
  assert.equal(empty, '');
});

test('a valid JSON config prints all 11 keys normalized, then hash: <md5> on its own line', async () => {
  const { code, stdout } = await runConfig([
    '--profiler-config',
    '{"profiler":"torch","torch_profiler_dir":"./vllm_profile","max_iterations":3,"ignore_frontend":true}',
  ]);
  assert.equal(code, 0);
  const lines = stdout.trimEnd().split('\n');
  assert.equal(lines.at(-1), `hash: ${HASH}`);
  const config = JSON.parse(lines.slice(0, -1).join('\n')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(config), PROFILER_CONFIG_KEYS);
  assert.equal(config['torch_profiler_dir'], resolve('./vllm_profile'));
  assert.equal(config['max_iterations'], 3);
});

test('--json prints {config, hash}', async () => {
  const { code, stdout } = await runConfig(['--json', '--profiler-config.profiler=cuda', '--profiler-config.delay_iterations', '4']);
  assert.equal(code, 0);
  const parsed = JSON.parse(stdout) as { config: Record<string, unknown>; hash: string };
  assert.deepEqual(parsed, { config: { ...PROFILER_CONFIG_DEFAULTS, profiler: 'cuda', delay_iterations: 4 }, hash: HASH });
});

test("profiler 'torch' without a dir: exit 2, says the dir is required and how to set it", async () => {
  const { code, stdout, stderr } = await runConfig(['--profiler-config', '{"profiler":"torch"}']);
  assert.equal(code, 2);
  assert.equal(stdout, '');
  assert.match(stderr, /^wgprof config: PROFILER_CONFIG_INVALID: invalid profiler config \(1 problem\)/);
  assert.match(stderr, /torch_profiler_dir must be set when profiler is 'torch'/);
  assert.match(stderr, /--profiler-config\.torch_profiler_dir=\.\/vllm_profile/);
});

test('every problem is listed on stderr with exit 2', async () => {
  const { code, stderr } = await runConfig([
    '--profiler-config',
    '{"profiler":"cuda","torch_profiler_dir":"/x","max_iteration":1}',
    '--profiler-config.delay_iterations=-1',
  ]);
  assert.equal(code, 2);
  assert.match(stderr, /\(3 problems\)/);
  assert.match(stderr, /torch_profiler_dir: torch_profiler_dir is only applicable when profiler is set to 'torch'/);
  assert.match(stderr, /max_iteration: unknown key "max_iteration"\. Did you mean "max_iterations"\?/);
  assert.match(stderr, /delay_iterations: given -1/);
});

test('a JSON syntax error is reported with its position, exit 2', async () => {
  const { code, stderr } = await runConfig(['--profiler-config={"profiler": torch}']);
  assert.equal(code, 2);
  assert.match(stderr, /JSON syntax error at line 1, column 14 \(position 13\).*Strings need double quotes: "torch"/);
});

test('bad usage exits 2: stray arguments, bad --runtime', async () => {
  const stray = await runConfig(['--profiler-config.profiler=cuda', 'extra']);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /unexpected argument "extra"/);
  const runtime = await runConfig(['--runtime', 'deno']);
  assert.equal(runtime.code, 2);
  assert.match(runtime.stderr, /--runtime takes node or browser \(given "deno"\)/);
});

test('--runtime browser keeps a relative dir verbatim', async () => {
  const { code, stdout } = await runConfig(['--json', '--runtime=browser', '--profiler-config.profiler=torch', '--profiler-config.torch_profiler_dir=runs/a']);
  assert.equal(code, 0);
  assert.equal((JSON.parse(stdout) as { config: { torch_profiler_dir: string } }).config.torch_profiler_dir, 'runs/a');
});

test('the overhead warning goes to the log, not stdout', async () => {
  resetWarnOnce();
  warnings.length = 0;
  const { code, stdout } = await runConfig([
    '--json',
    '--profiler-config.profiler=torch',
    '--profiler-config.torch_profiler_dir=/t',
    '--profiler-config.max_iterations=2',
  ]);
  assert.equal(code, 0);
  assert.doesNotThrow(() => JSON.parse(stdout));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /may result in high overhead/);
});

test('--help lists every field with its default and description, generated from the schema', () => {
  for (const key of PROFILER_CONFIG_KEYS) {
    assert.match(
      command.help,
      new RegExp(`^  ${key}: .* = ${JSON.stringify(PROFILER_CONFIG_DEFAULTS[key]).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'),
      key,
    );
  }
  assert.match(command.help, /Number of engine iterations to skip before starting profiling/);
  assert.match(command.help, /--profiler-config\.KEY=VALUE/);
  assert.match(command.help, new RegExp(HASH));
  assert.match(command.summary, /profiler-config/);
});

test('the wgprof binary: `wgprof config` exit codes 0 and 2 through src/cli/main.ts', () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, ['scripts/run-ts.mjs', 'src/cli/main.ts', 'config', ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  const ok = run(['--profiler-config', '{"profiler":"cuda"}']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /"profiler": "cuda"/);
  assert.match(ok.stdout, new RegExp(`^hash: ${HASH}$`, 'm'));
  const bad = run(['--profiler-config', '{"profiler":"torch"}']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /torch_profiler_dir must be set when profiler is 'torch'/);
});

test("what vLLM's pydantic lax mode converted is said in the output (text and --json)", async () => {
  const argv = ['--profiler-config', '{"profiler":"cuda","max_iterations":"3","ignore_frontend":"yes"}'];
  const text = await runConfig(argv);
  assert.equal(text.code, 0, text.stderr);
  assert.match(
    text.stdout,
    /^hash: d751713988987e9331980363e24189ce\ncoerced: max_iterations: "3" → 3 \(as vLLM's pydantic lax mode converts it\)\ncoerced: ignore_frontend: "yes" → true /m,
  );
  const json = await runConfig(['--json', ...argv]);
  const parsed = JSON.parse(json.stdout) as { config: Record<string, unknown>; coerced: unknown[] };
  assert.equal(parsed.config['max_iterations'], 3);
  assert.deepEqual(parsed.coerced, [
    { key: 'max_iterations', given: '3', value: 3 },
    { key: 'ignore_frontend', given: 'yes', value: true },
  ]);
});

test('hostile input gets a short, clear error and exit 2: deep nesting, prototype keys, a 100k-character key', async () => {
  const deep = await runConfig(['--profiler-config', '['.repeat(20_000) + ']'.repeat(20_000)]);
  assert.equal(deep.code, 2);
  assert.match(deep.stderr, /nested more than 64 levels deep/);
  const proto = await runConfig(['--profiler-config', '{"__proto__": 1, "constructor": 2, "toString": 3}']);
  assert.equal(proto.code, 2);
  assert.match(proto.stderr, /unknown key "__proto__"\. Did you mean/);
  assert.doesNotMatch(proto.stderr, /native code|newer vLLM releases/);
  const huge = await runConfig([`--profiler-config={"${'k'.repeat(100_000)}": 1}`]);
  assert.equal(huge.code, 2);
  assert.ok(huge.stderr.length < 2_000, `stderr is ${huge.stderr.length} characters`);
  for (const run of [deep, proto, huge]) assert.doesNotMatch(run.stderr, /Maximum call stack|\n\s+at /);
});
