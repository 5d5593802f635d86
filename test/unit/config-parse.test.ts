import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { homedir, userInfo } from 'node:os';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { globalRegistry } from 'zod/mini';
import {
  computeHash,
  describeProfilerConfigFields,
  shouldProfileFrontend,
  validateProfilerConfig,
  isUriPath,
  OVERHEAD_WARNING,
  parseProfilerConfig,
  PROFILER_CONFIG_DEFAULTS,
  PROFILER_CONFIG_KEYS,
  profilerConfigSchema,
} from '../../src/config/index.js';
import type { ProfilerConfig, ProfilerConfigInput } from '../../src/config/index.js';
import { absoluteLocalPath, expandUser, nodeDirIssue, packageResolves, type NodePathEnvironment } from '../../src/config/paths.js';
import { editDistance, nearest } from '../../src/config/suggest.js';
import { uriScheme } from '../../src/trace/files.js';
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
    // vLLM main's newer fields, after the seed's 11 (behaviour change, issue 9: they are accepted now).
    capture_torch_profiler: false,
    detailed_trace_annotation: false,
    warmup_iterations: 0,
    active_iterations: 5,
    wait_iterations: 0,
    torch_profiler_activities: null,
  };
  assert.deepEqual(parseProfilerConfig({}), expected);
  assert.deepEqual(parseProfilerConfig(undefined), expected);
  assert.deepEqual(parseProfilerConfig('{}'), expected);
  assert.deepEqual({ ...PROFILER_CONFIG_DEFAULTS }, expected);
  assert.deepEqual(Object.keys(parseProfilerConfig({})), Object.keys(expected), 'keys in vLLM declaration order');
  assert.equal(PROFILER_CONFIG_KEYS.length, 17);
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
    // The docs live in zod's global registry, where z.toJSONSchema finds them.
    assert.equal(globalRegistry.get(profilerConfigSchema.shape[field.name])?.description, field.description);
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
  assert.deepEqual(parseProfilerConfig(vllm), { ...PROFILER_CONFIG_DEFAULTS, ...vllm });
  assert.deepEqual(parseProfilerConfig(JSON.stringify(vllm, null, 2)), { ...PROFILER_CONFIG_DEFAULTS, ...vllm });
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
  assert.match(OVERHEAD_WARNING, /^Using 'torch' profiler with delay_iterations or max_iterations while ignore_frontend is False may result in high overhead/);

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

test("vLLM's order: the overhead warning comes before the missing-dir error; a type error stops both", () => {
  // Behaviour change (issue 9): vLLM's validator warns, then raises the dir error.
  const error = configError(() => parseProfilerConfig({ profiler: 'torch', max_iterations: 2 }));
  assert.match(error.message, /torch_profiler_dir must be set/);
  assert.deepEqual(logged, [{ level: 'warn', message: OVERHEAD_WARNING }]);
  // A field of the wrong type fails pydantic before the validator runs: no warning.
  resetWarnOnce();
  logged.length = 0;
  configError(() => parseProfilerConfig({ profiler: 'torch', max_iterations: 2, ignore_frontend: 'maybe' }));
  configError(() => parseProfilerConfig({ profiler: 'torch', max_iterations: 2, bogus: 1 }));
  assert.deepEqual(logged, []);
});

// ---- torch_profiler_dir: URIs, ~, relative paths -------------------------------------------------

test('URIs are kept verbatim (scheme longer than one character) where wgprof can write them', () => {
  const installed = { packageResolves: () => true };
  for (const uri of ['gs://bucket/traces', 's3://bucket/x', 'http://host/up', 'https://host/up/', 'file:///tmp/t', 'HTTPS://Host/Up']) {
    assert.equal(isUriPath(uri), true, uri);
    assert.equal(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: uri }, installed).torch_profiler_dir, uri);
  }
  // A page keeps any dir as a logical name for its sink.
  for (const uri of ['gs://bucket/traces', 's3://bucket/x', 'hdfs://namenode:8020/p', 'abfs://c@a.dfs.core.windows.net/p', 'my_fs://b/x']) {
    assert.equal(isUriPath(uri), true, uri);
    assert.equal(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: uri }, { runtime: 'browser' }).torch_profiler_dir, uri);
  }
});

test('Node: s3:// and gs:// need their SDK package; the error names the package to install', () => {
  for (const [uri, pkg] of [
    ['s3://bucket/x', '@aws-sdk/client-s3'],
    ['gs://bucket/x', '@google-cloud/storage'],
  ] as const) {
    const asked: string[] = [];
    const error = configError(() =>
      parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: uri }, { packageResolves: (name) => (asked.push(name), false) }),
    );
    assert.deepEqual(asked, [pkg]);
    assert.equal(error.issues[0]!.path, 'torch_profiler_dir');
    assert.match(
      error.message,
      new RegExp(`written through the optional package ${pkg.replace('/', '\\/')}, which is not installed\\. Run: npm install ${pkg.replace('/', '\\/')}`),
    );
  }
  // The default probe resolves like the sink's import(): a package that exists here, and one that does not.
  assert.equal(packageResolves('zod'), true);
  assert.equal(packageResolves('@wgprof/no-such-package'), false);
});

test('Node: any other scheme is an error naming the supported ones; URIs are one thing everywhere', () => {
  for (const uri of ['hdfs://namenode:8020/p', 'my_fs://bucket/x', 'abfs://c@a/p', './odd://x']) {
    const error = configError(() => parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: uri }));
    assert.equal(error.issues.length, 1, uri);
    assert.match(
      error.message,
      /wgprof cannot write to ".*:\/\/" dirs\. Use a local directory, file:\/\/, http\(s\):\/\/ .*s3:\/\/ \(with @aws-sdk\/client-s3 installed\) or gs:\/\//,
      uri,
    );
  }
  // The sinks classify with the same function: my_fs:// is a scheme there too, never a relative folder.
  assert.equal(uriScheme('my_fs://bucket/x'), 'my_fs');
  assert.equal(uriScheme('C://x'), null);
});

test('Node: a NUL byte and over-long paths are rejected up front', () => {
  const nul = configError(() => parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: '/tmp/a\u0000b' }));
  assert.match(nul.message, /torch_profiler_dir: given "\/tmp\/a\\u0000b"; it contains a NUL byte at position 6/);
  const long = configError(() => parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: `/tmp/${'d/'.repeat(50_000)}` }));
  assert.match(long.message, /it is \d+ bytes long; a path may hold 4095 bytes \(PATH_MAX\).*at most 3839 bytes/);
  assert.ok(long.message.length < 1000, `the message is short (${long.message.length} characters)`);
  const component = configError(() => parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: `/tmp/${'x'.repeat(256)}` }));
  assert.match(component.message, /the path component "x{40}\.\.\. \(256 characters\)" is longer than 255 bytes \(NAME_MAX\)/);
  // The limits count UTF-8 bytes: 128 two-byte characters are 256 bytes.
  assert.ok(nodeDirIssue(`/tmp/${'é'.repeat(128)}`));
  assert.equal(nodeDirIssue(`/tmp/${'é'.repeat(127)}`), undefined);
  assert.equal(nodeDirIssue(`/tmp/${'x'.repeat(255)}`), undefined);
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

test('~ is expanded to the home directory, ~user from the password database', () => {
  assert.equal(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: '~' }).torch_profiler_dir, homedir());
  assert.equal(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: '~/traces/run1' }).torch_profiler_dir, resolve(homedir(), 'traces/run1'));
  // ~name (behaviour change, issue 9: Python's expanduser looks the user up): this user, and root from /etc/passwd.
  const me = userInfo();
  assert.equal(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: `~${me.username}/t` }).torch_profiler_dir, resolve(me.homedir, 't'));
  assert.equal(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: '~root/t' }).torch_profiler_dir, '/root/t');
  // An unknown user stays unexpanded (a relative path then), as in Python; a ~ inside the path is ordinary text.
  assert.equal(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: '~no_such_user_x/t' }).torch_profiler_dir, resolve('~no_such_user_x/t'));
  assert.equal(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: 'a/~/b' }).torch_profiler_dir, resolve('a/~/b'));
});

test("absoluteLocalPath is Python's abspath(expanduser()): two leading slashes are kept, three are not", () => {
  const users: Record<string, string> = { ann: '/home/ann/' };
  const env: NodePathEnvironment = { cwd: '/work/dir', homedir: '/home/u/', resolve: (...p) => resolve(...p), userHome: (name) => users[name] };
  assert.equal(absoluteLocalPath('~/t', env), '/home/u/t');
  assert.equal(absoluteLocalPath('~', env), '/home/u');
  assert.equal(absoluteLocalPath('~ann/x/', env), '/home/ann/x');
  assert.equal(absoluteLocalPath('~bob/x', env), '/work/dir/~bob/x');
  assert.equal(absoluteLocalPath('./t/../u', env), '/work/dir/u');
  assert.equal(absoluteLocalPath('/abs/', env), '/abs');
  assert.equal(absoluteLocalPath('//net/share/./x/..', env), '//net/share');
  assert.equal(absoluteLocalPath('//', env), '//');
  assert.equal(absoluteLocalPath('///three//x', env), '/three/x');
  assert.equal(expandUser('~', { ...env, homedir: '/' }), '/');
  assert.equal(expandUser('x~/y', env), 'x~/y');
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
  const expected = createHash('md5').update('[]').digest('hex');
  assert.equal(expected, 'd751713988987e9331980363e24189ce');
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
    assert.match(error.message, /Valid keys: profiler, torch_profiler_dir, .*max_iterations, .*torch_profiler_activities\./);
  }
});

test('keys named like Object.prototype members are plain unknown keys', () => {
  const error = configError(() => parseProfilerConfig('{"__proto__": {"profiler": "torch"}, "constructor": 1, "toString": 2, "hasOwnProperty": 3}'));
  assert.deepEqual(
    error.issues.map((i) => i.path),
    ['__proto__', 'constructor', 'toString', 'hasOwnProperty'],
  );
  for (const issue of error.issues) assert.match(issue.message, /^unknown key ".*"\. Did you mean "/);
  assert.doesNotMatch(error.message, /native code|newer vLLM|\[object Object\]/);
});

test("vLLM's Proton fields and profiler are named as such", () => {
  const error = configError(() => parseProfilerConfig({ profiler: 'proton', proton_profiler_dir: '/p' }));
  assert.match(error.message, /proton_profiler_dir: unknown key "proton_profiler_dir"\. It is a field of vLLM's Proton profiler/);
  assert.match(error.message, /profiler: given the string "proton".*NVIDIA CUDA only; on WebGPU use "torch" or "cuda"/);
});

test('a huge key or value is echoed clipped: the message stays small', () => {
  const key = 'k'.repeat(100_000);
  const error = configError(() => parseProfilerConfig({ [key]: 1, profiler: 'x'.repeat(100_000) }));
  assert.ok(error.message.length < 2_000, `message is ${error.message.length} characters`);
  assert.match(error.message, /unknown key "k{80}\.\.\. \(100000 characters\)"/);
  const many = configError(() => parseProfilerConfig(Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`key${i}`, i]))));
  assert.equal(many.issues.length, 21);
  assert.match(many.message, /and 4980 more unknown keys/);
});

test("vLLM main's newer fields: defaults, ranges and rules", () => {
  const config = parseProfilerConfig({
    ...TORCH,
    warmup_iterations: 2,
    active_iterations: 3,
    wait_iterations: 1,
    detailed_trace_annotation: true,
    torch_profiler_activities: ['CUDA'],
  });
  assert.equal(config.warmup_iterations, 2);
  assert.equal(config.active_iterations, 3);
  assert.equal(config.wait_iterations, 1);
  assert.deepEqual(config.torch_profiler_activities, ['CUDA']);
  const bad = configError(() => parseProfilerConfig({ ...TORCH, active_iterations: 0, warmup_iterations: -1, torch_profiler_activities: ['CPU', 'CPU'] }));
  assert.deepEqual(
    bad.issues.map((i) => i.path),
    ['warmup_iterations', 'active_iterations', 'torch_profiler_activities'],
  );
  assert.match(bad.message, /active_iterations: given 0; expected an integer >= 1\. It cannot be 0: use 1 or more/);
  assert.match(bad.message, /torch_profiler_activities: given an array \["CPU","CPU"\]; expected a non-empty list of distinct activities/);
  for (const activities of [[], ['XPU'], ['INVALID'], 'CPU']) {
    assert.match(configError(() => parseProfilerConfig({ ...TORCH, torch_profiler_activities: activities })).message, /torch_profiler_activities: given/);
  }
  // vLLM: torch_profiler_activities and capture_torch_profiler are "only applicable" with profiler 'torch'.
  const cuda = configError(() => parseProfilerConfig({ profiler: 'cuda', torch_profiler_activities: ['CPU'], capture_torch_profiler: true }));
  assert.deepEqual(cuda.issues.map((i) => i.path).sort(), ['capture_torch_profiler', 'torch_profiler_activities']);
  assert.match(cuda.message, /capture_torch_profiler is only applicable when profiler is set to 'torch'/);
  assert.equal(parseProfilerConfig({ profiler: 'cuda', torch_profiler_activities: null, capture_torch_profiler: false }).profiler, 'cuda');
});

test("vLLM's should_profile_frontend", () => {
  const cases: [ProfilerConfigInput, boolean][] = [
    [TORCH, true],
    [{ ...TORCH, torch_profiler_activities: ['CPU'] }, true],
    [{ ...TORCH, torch_profiler_activities: ['CPU', 'CUDA'] }, true],
    [{ ...TORCH, torch_profiler_activities: ['CUDA'] }, false],
    [{ ...TORCH, ignore_frontend: true }, false],
    [{ profiler: 'cuda' }, false],
  ];
  for (const [input, expected] of cases) assert.equal(shouldProfileFrontend(parseProfilerConfig(input)), expected, JSON.stringify(input));
});

test("pydantic's lax mode: what vLLM converts is accepted and reported as converted", () => {
  const { config, coerced } = validateProfilerConfig({
    ...TORCH,
    torch_profiler_with_stack: 'false',
    torch_profiler_with_flops: 'YES',
    torch_profiler_use_gzip: 0,
    ignore_frontend: 1,
    torch_profiler_record_shapes: 'On',
    delay_iterations: '2',
    max_iterations: ' +1_000 ',
    warmup_iterations: '3.000',
    wait_iterations: true,
  });
  assert.equal(config.torch_profiler_with_stack, false);
  assert.equal(config.torch_profiler_with_flops, true);
  assert.equal(config.torch_profiler_use_gzip, false);
  assert.equal(config.ignore_frontend, true);
  assert.equal(config.torch_profiler_record_shapes, true);
  assert.equal(config.delay_iterations, 2);
  assert.equal(config.max_iterations, 1000);
  assert.equal(config.warmup_iterations, 3);
  assert.equal(config.wait_iterations, 1);
  assert.deepEqual(
    coerced.map((c) => [c.key, c.given, c.value]),
    [
      ['torch_profiler_with_stack', 'false', false],
      ['torch_profiler_with_flops', 'YES', true],
      ['torch_profiler_use_gzip', 0, false],
      ['ignore_frontend', 1, true],
      ['torch_profiler_record_shapes', 'On', true],
      ['delay_iterations', '2', 2],
      ['max_iterations', ' +1_000 ', 1000],
      ['warmup_iterations', '3.000', 3],
      ['wait_iterations', true, 1],
    ],
  );
  assert.deepEqual(validateProfilerConfig(TORCH).coerced, [], 'nothing to convert, nothing reported');
});

test("pydantic's lax mode: what vLLM rejects stays rejected", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ torch_profiler_with_stack: 'maybe' }, 'torch_profiler_with_stack'],
    [{ torch_profiler_with_stack: 2 }, 'torch_profiler_with_stack'],
    [{ torch_profiler_with_stack: ' true' }, 'torch_profiler_with_stack'],
    [{ torch_profiler_with_stack: '1.0' }, 'torch_profiler_with_stack'],
    [{ delay_iterations: '2.5' }, 'delay_iterations'],
    [{ delay_iterations: '0x10' }, 'delay_iterations'],
    [{ delay_iterations: '1e2' }, 'delay_iterations'],
    [{ delay_iterations: '1__0' }, 'delay_iterations'],
    [{ delay_iterations: '2.' }, 'delay_iterations'],
    [{ delay_iterations: '+-1' }, 'delay_iterations'],
    [{ delay_iterations: '-3' }, 'delay_iterations'],
    [{ profiler: 'Torch' }, 'profiler'],
    [{ profiler: 'torch', torch_profiler_dir: 2024 }, 'torch_profiler_dir'],
  ];
  for (const [input, path] of cases) {
    const error = configError(() => parseProfilerConfig(input));
    assert.deepEqual(
      error.issues.map((i) => i.path).filter((p) => p === path),
      [path],
      JSON.stringify(input),
    );
  }
  assert.match(
    configError(() => parseProfilerConfig({ delay_iterations: '-3' })).message,
    /given the string "-3"; expected an integer >= 0\. Iterations cannot be negative/,
  );
});

test('wrong types name the field, what was given and the fix', () => {
  const cases: [ProfilerConfigInput | Record<string, unknown>, string, RegExp][] = [
    // (Behaviour change, issue 9: "false", 1, "yes", "2" and true are converted now, as vLLM's pydantic does.)
    [{ torch_profiler_use_gzip: null }, 'torch_profiler_use_gzip', /given null; expected a boolean/],
    [
      { torch_profiler_with_flops: 'sure' },
      'torch_profiler_with_flops',
      /given the string "sure"; expected a boolean.*--profiler-config\.torch_profiler_with_flops=true\|false/,
    ],
    [{ delay_iterations: 'two' }, 'delay_iterations', /given the string "two"; expected an integer >= 0\. Use a whole number of engine iterations such as 2/],
    [{ max_iterations: [3] }, 'max_iterations', /given an array \[3\]; expected an integer >= 0/],
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
  assert.match(
    negative.message,
    /delay_iterations: given -1; expected an integer >= 0\. Iterations cannot be negative: use 0 or more \(0 starts profiling immediately\)/,
  );
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
      torch_profiler_with_stack: 'nope',
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
  const text = '{"profiler":"torch","torch_profiler_dir":"https://b/\\u00fc\\n\\"q\\"","delay_iterations":1e1,"max_iterations":0,"ignore_frontend":true}';
  assert.deepEqual(parseProfilerConfig(text), parseProfilerConfig(JSON.parse(text)));
  assert.equal(parseProfilerConfig(text).delay_iterations, 10);
});

test('suggestions: edit distance counts a swap as one edit', () => {
  assert.equal(editDistance('porfiler', 'profiler'), 1);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(nearest('CUDA', ['torch', 'cuda']), 'cuda');
});

test('nesting deeper than any config is a clear error, not a stack overflow', () => {
  for (const text of ['['.repeat(20_000) + ']'.repeat(20_000), `{"profiler": ${'['.repeat(20_000)}`, `{"a": ${'{"a": '.repeat(100)}1${'}'.repeat(101)}`]) {
    const error = configError(() => parseProfilerConfig(text));
    assert.match(error.message, /nested more than 64 levels deep; a profiler config is a flat object/);
    assert.ok(error.message.length < 1_000);
  }
  // An object nested deeply in JS (no JSON text) is described without recursing into it.
  let deep: unknown = 1;
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.match(configError(() => parseProfilerConfig({ profiler: deep })).message, /profiler: given an array; expected "torch", "cuda" or null/);
});

test('the schema alone enforces the cross-field rules (for callers that use zod directly)', () => {
  assert.equal(profilerConfigSchema.safeParse({ profiler: 'torch' }).success, false);
  assert.equal(profilerConfigSchema.safeParse({ torch_profiler_dir: 'x' }).success, false);
  assert.equal(profilerConfigSchema.safeParse({ profiler: 'torch', torch_profiler_dir: 'x' }).success, true);
  assert.equal(profilerConfigSchema.safeParse({ extra: 1 }).success, false);
  for (const notAnObject of [null, undefined, 5, 'x', []]) assert.equal(profilerConfigSchema.safeParse(notAnObject).success, false);
});
