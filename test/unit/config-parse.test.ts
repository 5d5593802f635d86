import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { test } from 'node:test';
import {
  computeHash,
  describeProfilerConfigFields,
  isUriPath,
  OVERHEAD_WARNING,
  parseProfilerConfig,
  PROFILER_CONFIG_DEFAULTS,
  PROFILER_CONFIG_KEYS,
  profilerConfigSchema,
} from '../../src/config/index.js';
import type { ProfilerConfig, ProfilerConfigInput } from '../../src/config/index.js';
import { absoluteLocalPath, resolvePosix } from '../../src/config/paths.js';
import { editDistance, nearest } from '../../src/config/suggest.js';
import { WgprofError } from '../../src/util/errors.js';
import { resetWarnOnce } from '../../src/util/log.js';
import { captureLog, configError } from './helpers/config.js';

const logged = captureLog();

const TORCH = { profiler: 'torch', torch_profiler_dir: '/traces' } as const;

// ---- defaults and schema ----------------------------------------------------------------------

test("every field's default is vLLM's", () => {
  const expected: ProfilerConfig = {
    profiler: null,
    torch_profiler_dir: '',
    torch_profiler_with_stack: true,
    torch_profiler_with_flops: false,
    torch_profiler_use_gzip: true,
    torch_profiler_dump_cuda_time_total: true,
    torch_profiler_record_shapes: false,
    torch_profiler_with_memory: false,
    ignore_frontend: false,
    delay_iterations: 0,
    max_iterations: 0,
  };
  assert.deepEqual(parseProfilerConfig({}), expected);
  assert.deepEqual(parseProfilerConfig(undefined), expected);
  assert.deepEqual(parseProfilerConfig('{}'), expected);
  assert.deepEqual({ ...PROFILER_CONFIG_DEFAULTS }, expected);
  assert.deepEqual(Object.keys(parseProfilerConfig({})), Object.keys(expected), 'keys in vLLM declaration order');
  assert.equal(PROFILER_CONFIG_KEYS.length, 11);
  assert.ok(Object.isFrozen(PROFILER_CONFIG_DEFAULTS));
});

test("every field is described with vLLM's docstring and lists its default", () => {
  const fields = describeProfilerConfigFields();
  assert.deepEqual(
    fields.map((f) => f.name),
    PROFILER_CONFIG_KEYS,
  );
  for (const field of fields) {
    assert.ok(field.description.length > 20, `${field.name} has a description`);
    assert.equal(profilerConfigSchema.shape[field.name].description, field.description);
    assert.deepEqual(field.default, PROFILER_CONFIG_DEFAULTS[field.name]);
  }
  const byName = Object.fromEntries(fields.map((f) => [f.name, f]));
  assert.match(byName['profiler']!.description, /Which profiler to use\. Defaults to None/);
  assert.match(byName['delay_iterations']!.description, /Number of engine iterations to skip before starting profiling/);
  assert.match(byName['delay_iterations']!.description, /immediately after receiving \/start_profile/);
  assert.match(byName['max_iterations']!.description, /0, meaning no limit/);
  assert.match(byName['ignore_frontend']!.description, /does not track iterations and will capture the entire range/);
  assert.equal(byName['max_iterations']!.type, 'integer >= 0');
  assert.equal(byName['profiler']!.type, "'torch' | 'cuda' | null");
});

test('a full vLLM --profiler-config JSON is accepted unchanged', () => {
  const vllm = {
    profiler: 'torch',
    torch_profiler_dir: '/tmp/vllm_profile',
    torch_profiler_with_stack: false,
    torch_profiler_with_flops: true,
    torch_profiler_use_gzip: false,
    torch_profiler_dump_cuda_time_total: false,
    torch_profiler_record_shapes: true,
    torch_profiler_with_memory: true,
    ignore_frontend: true,
    delay_iterations: 10,
    max_iterations: 5,
  } satisfies ProfilerConfigInput;
  assert.deepEqual(parseProfilerConfig(vllm), vllm);
  assert.deepEqual(parseProfilerConfig(JSON.stringify(vllm, null, 2)), vllm);
  assert.deepEqual(logged, [], 'ignore_frontend=true: no overhead warning');
});

test("profiler 'cuda' needs no dir", () => {
  assert.equal(parseProfilerConfig({ profiler: 'cuda', max_iterations: 3 }).profiler, 'cuda');
});

test('parsing is idempotent', () => {
  const once = parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: './traces', delay_iterations: 1, ignore_frontend: true });
  assert.deepEqual(parseProfilerConfig(once), once);
});

// ---- vLLM's rules -----------------------------------------------------------------------------

test("profiler 'torch' without a dir is vLLM's ValueError, with how to set the dir", () => {
  for (const input of [{ profiler: 'torch' }, { profiler: 'torch', torch_profiler_dir: '' }]) {
    const error = configError(() => parseProfilerConfig(input));
    assert.ok(error instanceof WgprofError);
    assert.equal(error.code, 'PROFILER_CONFIG_INVALID');
    assert.equal(error.issues.length, 1);
    assert.equal(error.issues[0]!.path, 'torch_profiler_dir');
    assert.match(error.message, /torch_profiler_dir must be set when profiler is 'torch'/);
    assert.match(error.message, /--profiler-config\.torch_profiler_dir=\.\/vllm_profile/);
    assert.match(error.message, /"torch_profiler_dir": "\.\/vllm_profile"/);
  }
});

test('a dir with a profiler other than torch is rejected', () => {
  for (const profiler of [null, 'cuda'] as const) {
    const error = configError(() => parseProfilerConfig({ profiler, torch_profiler_dir: '/x' }));
    assert.equal(error.issues[0]!.path, 'torch_profiler_dir');
    assert.match(error.message, /torch_profiler_dir is only applicable when profiler is set to 'torch'/);
    assert.match(error.message, /Set "profiler": "torch".*or remove torch_profiler_dir/);
  }
  const omitted = configError(() => parseProfilerConfig({ torch_profiler_dir: '/x' }));
  assert.match(omitted.message, /given torch_profiler_dir "\/x" with profiler null/);
});

test('the overhead warning is logged once per process, only when vLLM logs it', () => {
  parseProfilerConfig({ ...TORCH, delay_iterations: 2 });
  parseProfilerConfig({ ...TORCH, max_iterations: 2 });
  assert.deepEqual(logged, [{ level: 'warn', message: OVERHEAD_WARNING }]);
  assert.match(
    OVERHEAD_WARNING,
    /^Using 'torch' profiler with delay_iterations or max_iterations while ignore_frontend is False may result in high overhead/,
  );

  for (const quiet of [
    { ...TORCH, max_iterations: 2, ignore_frontend: true },
    { ...TORCH },
    { profiler: 'cuda', delay_iterations: 2 },
    { delay_iterations: 2 },
  ]) {
    resetWarnOnce();
    logged.length = 0;
    parseProfilerConfig(quiet);
    assert.deepEqual(logged, [], JSON.stringify(quiet));
  }
});

test('an invalid config logs no overhead warning', () => {
  configError(() => parseProfilerConfig({ profiler: 'torch', max_iterations: 2 }));
  assert.deepEqual(logged, []);
});

// ---- torch_profiler_dir: URIs, ~, relative paths -------------------------------------------------

test('URIs are kept verbatim (scheme longer than one character)', () => {
  for (const uri of ['gs://bucket/traces', 's3://bucket/x', 'hdfs://namenode:8020/p', 'abfs://c@a.dfs.core.windows.net/p', 'http://host/up', 'https://host/up/']) {
    assert.equal(isUriPath(uri), true, uri);
    assert.equal(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: uri }).torch_profiler_dir, uri);
    assert.equal(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: uri }, { runtime: 'browser' }).torch_profiler_dir, uri);
  }
});

test('C://x is a Windows drive path, not a URI (vLLM _is_uri_path)', () => {
  assert.equal(isUriPath('C://x'), false);
  assert.equal(isUriPath('c://'), false);
  assert.equal(isUriPath('/local/path'), false);
  assert.equal(isUriPath('relative/dir'), false);
  assert.equal(isUriPath('ab://x'), true);
  // Under Node on POSIX the drive path is a relative path like any other.
  assert.equal(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: 'C://x' }).torch_profiler_dir, resolve('C://x'));
});

test('a relative dir is made absolute against the current directory', () => {
  for (const dir of ['./vllm_profile', 'vllm_profile', '../up/x', 'a/b/../c/']) {
    const got = parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: dir }).torch_profiler_dir;
    assert.equal(got, resolve(process.cwd(), dir), dir);
    assert.ok(got.startsWith('/'), got);
  }
  assert.equal(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: '/abs//x/./y/' }).torch_profiler_dir, '/abs/x/y');
});

test('~ is expanded to the home directory', () => {
  assert.equal(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: '~' }).torch_profiler_dir, homedir());
  assert.equal(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: '~/traces/run1' }).torch_profiler_dir, resolve(homedir(), 'traces/run1'));
  // Only the current user's ~ is expanded; ~name and a ~ inside the path are ordinary path text.
  assert.equal(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: 'a/~/b' }).torch_profiler_dir, resolve('a/~/b'));
});

test('absoluteLocalPath and the POSIX fallback resolve like path.resolve', () => {
  const env = { cwd: '/work/dir', homedir: '/home/u/', resolve: (...p: string[]) => resolvePosix('/unused', ...p), windows: false };
  assert.equal(absoluteLocalPath('~/t', env), '/home/u/t');
  assert.equal(absoluteLocalPath('~', env), '/home/u');
  assert.equal(absoluteLocalPath('./t/../u', env), '/work/dir/u');
  assert.equal(absoluteLocalPath('/abs/', env), '/abs');
  for (const p of ['a', './a/b/', '../x', '/r/./s/../t', '', '.']) assert.equal(resolvePosix('/c/d', p), resolve('/c/d', p), p);
});

test('browser runtime keeps the dir verbatim as a logical name', () => {
  for (const dir of ['vllm_profile', './traces', 'runs/2024', 'C://x', '/abs']) {
    assert.equal(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: dir }, { runtime: 'browser' }).torch_profiler_dir, dir);
  }
});

test('browser runtime rejects ~ with a clear error', () => {
  for (const dir of ['~', '~/traces']) {
    const error = configError(() => parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: dir }, { runtime: 'browser' }));
    assert.equal(error.issues.length, 1);
    assert.equal(error.issues[0]!.path, 'torch_profiler_dir');
    assert.match(error.message, /browser has no home directory/);
    assert.match(error.message, /"vllm_profile"/);
  }
  // Listed together with other problems.
  const error = configError(() => parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: '~/t', max_iterations: -1 }, { runtime: 'browser' }));
  assert.deepEqual(error.issues.map((i) => i.path).sort(), ['max_iterations', 'torch_profiler_dir']);
});

// ---- hash ---------------------------------------------------------------------------------------

test("computeHash is vLLM's compute_hash: md5 of '[]', the same for every config", () => {
  const expected = 'd751713988987e9331980363e24189ce';
  assert.equal(computeHash(PROFILER_CONFIG_DEFAULTS), expected);
  assert.equal(computeHash(parseProfilerConfig({ ...TORCH, max_iterations: 9, ignore_frontend: true })), expected);
  assert.equal(computeHash(parseProfilerConfig({ profiler: 'cuda' })), expected);
});

// ---- bad input: every problem listed, each naming field, given value and fix ----------------------

test('an unknown key names the key and the nearest valid key', () => {
  const cases: [string, string][] = [
    ['max_iteration', 'max_iterations'],
    ['porfiler', 'profiler'],
    ['torch-profiler-dir', 'torch_profiler_dir'],
    ['torch_profiler_with_stacks', 'torch_profiler_with_stack'],
    ['delay', 'delay_iterations'],
    ['ignore_front_end', 'ignore_frontend'],
    ['with_stack', 'torch_profiler_with_stack'],
    ['dir', 'torch_profiler_dir'],
    ['Profiler', 'profiler'],
  ];
  for (const [key, suggestion] of cases) {
    const error = configError(() => parseProfilerConfig({ [key]: 1 }));
    assert.equal(error.issues.length, 1, key);
    assert.equal(error.issues[0]!.path, key);
    assert.match(error.message, new RegExp(`unknown key "${key}"`));
    assert.match(error.message, new RegExp(`Did you mean "${suggestion}"\\?`), key);
    assert.match(error.message, /Valid keys: profiler, torch_profiler_dir, .*max_iterations\./);
  }
});

test('newer vLLM fields are named as such', () => {
  const error = configError(() => parseProfilerConfig({ ...TORCH, warmup_iterations: 1 }));
  assert.match(error.message, /unknown key "warmup_iterations".*newer vLLM releases \(torch\.profiler\.schedule\).*remove it/);
});

test('a "__proto__" key in JSON is an unknown key, not a prototype change', () => {
  const error = configError(() => parseProfilerConfig('{"__proto__": {"profiler": "torch"}}'));
  assert.match(error.message, /unknown key "__proto__"/);
});

test('wrong types name the field, what was given and the fix', () => {
  const cases: [ProfilerConfigInput | Record<string, unknown>, string, RegExp][] = [
    [{ torch_profiler_with_stack: 'false' }, 'torch_profiler_with_stack', /given the string "false"; expected a boolean \(true or false\)\. Write false without quotes/],
    [{ ignore_frontend: 1 }, 'ignore_frontend', /given 1; expected a boolean.*Write true instead of 1/],
    [{ torch_profiler_use_gzip: null }, 'torch_profiler_use_gzip', /given null; expected a boolean/],
    [{ torch_profiler_with_flops: 'yes' }, 'torch_profiler_with_flops', /given the string "yes"; expected a boolean.*--profiler-config\.torch_profiler_with_flops=true\|false/],
    [{ delay_iterations: '2' }, 'delay_iterations', /given the string "2"; expected an integer >= 0\. Write 2 without quotes/],
    [{ max_iterations: true }, 'max_iterations', /given true; expected an integer >= 0/],
    [{ profiler: 'Torch' }, 'profiler', /given the string "Torch"; expected "torch", "cuda" or null\. Did you mean "torch"\?/],
    [{ profiler: 'nsys' }, 'profiler', /given the string "nsys"; expected "torch", "cuda" or null/],
    [{ profiler: 'None' }, 'profiler', /Write null without quotes/],
    [{ profiler: true }, 'profiler', /given true; expected "torch", "cuda" or null/],
    [{ profiler: 'torch', torch_profiler_dir: 5 }, 'torch_profiler_dir', /given 5; expected a directory path or URI as a string/],
    [{ profiler: 'torch', torch_profiler_dir: ['a'] }, 'torch_profiler_dir', /given an array \["a"\]/],
  ];
  for (const [input, path, pattern] of cases) {
    const error = configError(() => parseProfilerConfig(input));
    assert.deepEqual(
      error.issues.map((i) => i.path),
      [path],
      JSON.stringify(input),
    );
    assert.match(error.issues[0]!.message, pattern, JSON.stringify(input));
    assert.ok(error.message.includes(`${path}: `), 'the message names the field');
  }
});

test('negative and non-integer iteration counts are rejected', () => {
  const negative = configError(() => parseProfilerConfig({ delay_iterations: -1 }));
  assert.match(negative.message, /delay_iterations: given -1; expected an integer >= 0\. Iterations cannot be negative: use 0 or more \(0 starts profiling immediately\)/);
  const float = configError(() => parseProfilerConfig({ max_iterations: 2.5 }));
  assert.match(float.message, /max_iterations: given 2\.5; expected an integer >= 0\. Round it to a whole number such as 3 \(0 means no limit\)/);
  const negativeFloat = configError(() => parseProfilerConfig({ max_iterations: -0.5 }));
  assert.match(negativeFloat.message, /cannot be negative/);
  const huge = configError(() => parseProfilerConfig({ max_iterations: 2 ** 60 }));
  assert.match(huge.message, /max_iterations: given .*no larger than 9007199254740991/);
  // 3.0 in JSON is the integer 3 (pydantic accepts a float with no fraction for an int field, too).
  assert.equal(parseProfilerConfig('{"max_iterations": 3.0}').max_iterations, 3);
});

test('EVERY problem is listed in one error, with an issues array', () => {
  const error = configError(() =>
    parseProfilerConfig({
      profiler: 'torch',
      torch_profiler_with_stack: 'no',
      delay_iterations: 1.5,
      max_iterations: -3,
      max_iteration: 2,
      bogus: true,
    }),
  );
  assert.deepEqual(error.issues.map((i) => i.path).sort(), [
    'bogus',
    'delay_iterations',
    'max_iteration',
    'max_iterations',
    'torch_profiler_dir', // torch without a dir: reported even though other fields are malformed
    'torch_profiler_with_stack',
  ]);
  assert.match(error.message, /^PROFILER_CONFIG_INVALID: invalid profiler config \(6 problems\):\n {2}- /);
  for (const issue of error.issues) {
    assert.ok(error.message.includes(`  - ${issue.path}: ${issue.message.split('\n')[0]}`), issue.path);
    assert.ok(issue.message.length > 20);
  }
});

test('a config that is not an object is rejected', () => {
  for (const input of [null, 42, true, [], '[]', '"torch"', '5']) {
    const error = configError(() => parseProfilerConfig(input));
    assert.equal(error.issues.length, 1);
    assert.equal(error.issues[0]!.path, '');
    assert.match(error.message, /expected a JSON object such as \{"profiler": "torch", "torch_profiler_dir": "\.\/vllm_profile"\}/);
  }
});

test('JSON syntax errors give line, column and position, and a fix for the usual mistakes', () => {
  const cases: [string, RegExp][] = [
    ['{"profiler": "torch",}', /line 1, column 22 \(position 21\): trailing comma before '}'; remove the last ','/],
    ["{'profiler': 'torch'}", /position 1\): expected a property name in double quotes, found character "'"\. JSON strings and keys need double quotes/],
    ['{"ignore_frontend": True}', /column 21 \(position 20\): expected a value .*found word True\. JSON booleans are lowercase: true/],
    ['{"profiler": None}', /JSON spells "no value" as null/],
    ['{"profiler": torch}', /Strings need double quotes: "torch"/],
    ['{"delay_iterations": 2 "max_iterations": 3}', /position 23\): expected ',' or '}' after the value of "delay_iterations", found character "\\""/],
    ['{"profiler": "torch"', /expected ',' or '}' after the value of "profiler", found end of input/],
    ['{"profiler" "torch"}', /expected ':' after the property name "profiler"/],
    ['{"max_iterations": 01}', /invalid number "01"/],
    ['{"max_iterations": NaN}', /JSON has no NaN or Infinity/],
    ['{"torch_profiler_dir": "C:\\data"}', /invalid escape \\d in a string; write a backslash as \\\\ \(Windows paths/],
    ['{"a": "unterminated}', /unterminated string/],
    ['', /line 1, column 1 \(position 0\): expected a value .*found end of input/],
    ['{}{}', /unexpected character "\{" after the end of the JSON value/],
    ['{\n  "profiler": "torch",\n  "torch_profiler_dir": x\n}', /line 3, column 25 \(position 49\)/],
  ];
  for (const [text, pattern] of cases) {
    const error = configError(() => parseProfilerConfig(text));
    assert.equal(error.issues.length, 1, text);
    assert.match(error.message, pattern, text);
    assert.match(error.message, /\^/, 'a caret marks the position');
  }
});

test('JSON values come out as JSON.parse makes them', () => {
  const text = '{"profiler":"torch","torch_profiler_dir":"gs://b/\\u00fc\\n\\"q\\"","delay_iterations":1e1,"max_iterations":0,"ignore_frontend":true}';
  assert.deepEqual(parseProfilerConfig(text), parseProfilerConfig(JSON.parse(text)));
  assert.equal(parseProfilerConfig(text).delay_iterations, 10);
});

test('suggestions: edit distance counts a swap as one edit', () => {
  assert.equal(editDistance('porfiler', 'profiler'), 1);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(nearest('CUDA', ['torch', 'cuda']), 'cuda');
});

test('the schema alone enforces the cross-field rules (for callers that use zod directly)', () => {
  assert.equal(profilerConfigSchema.safeParse({ profiler: 'torch' }).success, false);
  assert.equal(profilerConfigSchema.safeParse({ torch_profiler_dir: 'x' }).success, false);
  assert.equal(profilerConfigSchema.safeParse({ profiler: 'torch', torch_profiler_dir: 'x' }).success, true);
  assert.equal(profilerConfigSchema.safeParse({ extra: 1 }).success, false);
  for (const notAnObject of [null, undefined, 5, 'x', []]) assert.equal(profilerConfigSchema.safeParse(notAnObject).success, false);
});
