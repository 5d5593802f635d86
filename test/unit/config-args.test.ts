import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { PROFILER_CONFIG_DEFAULTS, profilerConfigFromArgs } from '../../src/config/index.js';
import { humanReadableInt, matchProfilerConfigArg, typeCliValue, vllmCliValue } from '../../src/config/args.js';
import { captureLog, configError } from './helpers/config.js';

const logged = captureLog();

const TORCH_JSON = '{"profiler":"torch","torch_profiler_dir":"/traces"}';

test('no --profiler-config argument: config undefined, argv returned untouched', () => {
  const argv = ['--model', 'tiny', '--port', '8000', 'positional'];
  const { config, rest } = profilerConfigFromArgs(argv);
  assert.equal(config, undefined);
  assert.deepEqual(rest, argv);
});

test('--profiler-config <json> and --profiler-config=<json> are both accepted, other args kept in order', () => {
  for (const argv of [
    ['serve', '--profiler-config', TORCH_JSON, '--port', '1'],
    ['serve', `--profiler-config=${TORCH_JSON}`, '--port', '1'],
    ['serve', '--profiler_config', TORCH_JSON, '--port', '1'],
  ]) {
    const { config, rest } = profilerConfigFromArgs(argv);
    assert.deepEqual(config, { ...PROFILER_CONFIG_DEFAULTS, profiler: 'torch', torch_profiler_dir: '/traces' }, argv.join(' '));
    assert.deepEqual(rest, ['serve', '--port', '1']);
  }
});

test("the docs' dotted form builds a whole config", () => {
  const { config, rest } = profilerConfigFromArgs([
    '--profiler-config.profiler=torch',
    '--profiler-config.torch_profiler_dir=./vllm_profile',
    '--profiler-config.torch_profiler_with_stack=false',
    '--profiler-config.delay_iterations',
    '2',
    '--profiler-config.max_iterations',
    '3',
    '--profiler-config.ignore_frontend',
    'true',
    '--other',
  ]);
  assert.deepEqual(config, {
    ...PROFILER_CONFIG_DEFAULTS,
    profiler: 'torch',
    torch_profiler_dir: resolve('./vllm_profile'),
    torch_profiler_with_stack: false,
    delay_iterations: 2,
    max_iterations: 3,
    ignore_frontend: true,
  });
  assert.deepEqual(rest, ['--other']);
  assert.deepEqual(logged, []);
});

test('dotted values are typed by the schema', () => {
  for (const word of ['true', 'True', 'TRUE', '1', 'yes', 'on', 't', 'y']) assert.equal(typeCliValue('torch_profiler_with_flops', word), true, word);
  for (const word of ['false', 'False', '0', 'no', 'off', 'f', 'n']) assert.equal(typeCliValue('torch_profiler_with_flops', word), false, word);
  assert.equal(typeCliValue('torch_profiler_with_flops', 'maybe'), 'maybe', 'left for the schema to reject');
  assert.equal(typeCliValue('profiler', 'null'), null);
  assert.equal(typeCliValue('profiler', 'None'), null);
  assert.equal(typeCliValue('profiler', 'cuda'), 'cuda');
  assert.equal(typeCliValue('profiler', '"torch"'), 'torch');
  assert.equal(typeCliValue('max_iterations', '7'), 7);
  assert.equal(typeCliValue('max_iterations', '2.0'), 2);
  assert.equal(typeCliValue('max_iterations', '1k'), 1000);
  assert.equal(typeCliValue('max_iterations', '-1'), -1, 'left for the schema to reject');
  // A dir is taken verbatim: never turned into a number, null or boolean.
  for (const dir of ['123', 'null', 'true', '~/x', 'gs://b/p', '']) assert.equal(typeCliValue('torch_profiler_dir', dir), dir);
  assert.equal(typeCliValue('torch_profiler_dir', '"quoted dir"'), 'quoted dir');
});

test("vLLM's generic typing: json.loads, else human-readable int, else the string", () => {
  assert.equal(vllmCliValue('2'), 2);
  assert.equal(vllmCliValue('true'), true);
  assert.equal(vllmCliValue('null'), null);
  assert.deepEqual(vllmCliValue('{"a": 1}'), { a: 1 });
  assert.equal(vllmCliValue('torch'), 'torch');
  assert.equal(humanReadableInt('25.6k'), 25600);
  assert.equal(humanReadableInt('2M'), 2 ** 21);
  assert.equal(humanReadableInt('2m'), 2_000_000);
  assert.equal(humanReadableInt('1K'), 1024);
  assert.equal(humanReadableInt('1.5K'), undefined, 'decimals are not allowed with binary suffixes');
  assert.equal(humanReadableInt('1_000'), 1000);
  assert.equal(humanReadableInt('+5'), 5);
  assert.equal(humanReadableInt('abc'), undefined);
});

test('dotted values with the wrong type are reported against the field', () => {
  const error = configError(() =>
    profilerConfigFromArgs([
      '--profiler-config.profiler=tourch',
      '--profiler-config.torch_profiler_with_stack=maybe',
      '--profiler-config.delay_iterations=-1',
      '--profiler-config.max_iterations=1.5',
    ]),
  );
  assert.deepEqual(error.issues.map((i) => i.path).sort(), ['delay_iterations', 'max_iterations', 'profiler', 'torch_profiler_with_stack']);
  assert.match(error.message, /profiler: given the string "tourch".*Did you mean "torch"\?/);
  assert.match(error.message, /torch_profiler_with_stack: given the string "maybe"; expected a boolean/);
  assert.match(error.message, /delay_iterations: given -1; expected an integer >= 0\. Iterations cannot be negative/);
  assert.match(error.message, /max_iterations: given 1\.5; expected an integer >= 0/);
});

test('dotted keys override the JSON argument wherever they stand; the JSON keeps its other keys', () => {
  const json = '{"profiler":"torch","torch_profiler_dir":"/traces","max_iterations":5,"ignore_frontend":true}';
  const before = profilerConfigFromArgs(['--profiler-config.max_iterations=2', '--profiler-config', json]).config;
  const afterward = profilerConfigFromArgs(['--profiler-config', json, '--profiler-config.max_iterations=2']).config;
  const expected = { ...PROFILER_CONFIG_DEFAULTS, profiler: 'torch', torch_profiler_dir: '/traces', max_iterations: 2, ignore_frontend: true };
  assert.deepEqual(before, expected);
  assert.deepEqual(afterward, expected);
  assert.deepEqual(logged, [], 'overriding a JSON key with a dotted key is intended, not a duplicate');
});

test('a key set twice in the same form: the later value wins, with a warning', () => {
  const { config } = profilerConfigFromArgs(['--profiler-config.max_iterations=2', '--profiler-config.max_iterations=4', '--profiler-config.profiler=cuda']);
  assert.equal(config?.max_iterations, 4);
  assert.equal(logged.length, 1);
  assert.match(logged[0]!.message, /Found duplicate keys profiler-config\.max_iterations; the later value is used/);

  logged.length = 0;
  const merged = profilerConfigFromArgs(['--profiler-config', TORCH_JSON, '--profiler-config', '{"torch_profiler_dir":"/other","delay_iterations":1}']).config;
  assert.equal(merged?.profiler, 'torch', 'JSON arguments merge');
  assert.equal(merged?.torch_profiler_dir, '/other');
  assert.equal(merged?.delay_iterations, 1);
  assert.ok(logged.some((l) => l.level === 'warn' && /duplicate keys profiler-config\.torch_profiler_dir/.test(l.message)));
});

test('unknown dotted keys name the nearest valid key', () => {
  const error = configError(() => profilerConfigFromArgs([...['--profiler-config', TORCH_JSON], '--profiler-config.max-iterations=3', '--profiler-config.delay=1']));
  assert.deepEqual(error.issues.map((i) => i.path).sort(), ['delay', 'max-iterations']);
  assert.match(error.message, /unknown key "max-iterations"\. Did you mean "max_iterations"\?/);
  assert.match(error.message, /unknown key "delay"\. Did you mean "delay_iterations"\?/);
});

test('malformed arguments and JSON syntax errors are listed with everything else', () => {
  const error = configError(() =>
    profilerConfigFromArgs([
      '--profiler-config',
      '{"profiler": "torch",}',
      '--profiler-config.a.b=1',
      '--profiler-config.=1',
      '--profiler-config.max_iterations+=1',
      '--profiler-config=[1]',
      '--profiler-config.delay_iterations=-2',
      '--profiler-config.ignore_frontend',
    ]),
  );
  const text = error.message;
  assert.match(text, /--profiler-config: JSON syntax error at line 1, column 22 \(position 21\): trailing comma/);
  assert.match(text, /--profiler-config\.a\.b: the profiler config is flat; "a" has no nested keys/);
  assert.match(text, /--profiler-config\.: missing key after the '\.'/);
  assert.match(text, /the list form \(KEY\+\) does not apply/);
  assert.match(text, /--profiler-config: given an array \[1\]; expected a JSON object/);
  assert.match(text, /delay_iterations: given -2/);
  assert.match(text, /--profiler-config\.ignore_frontend expects a value/);
  assert.equal(error.issues.length, 7);
});

test('--profiler-config with no value, or followed by another option, is an error', () => {
  for (const argv of [['--profiler-config'], ['--profiler-config', '--port', '1']]) {
    const error = configError(() => profilerConfigFromArgs(argv));
    assert.match(error.message, /--profiler-config expects a JSON value, e\.g\. --profiler-config '\{"profiler": "torch"/);
  }
});

test('the rules apply to the merged result', () => {
  const error = configError(() => profilerConfigFromArgs(['--profiler-config.profiler=torch']));
  assert.match(error.message, /torch_profiler_dir must be set when profiler is 'torch'.*--profiler-config\.torch_profiler_dir=\.\/vllm_profile/);
  const ok = profilerConfigFromArgs(['--profiler-config.profiler', 'torch', '--profiler-config.torch_profiler_dir', 's3://bucket/p']).config;
  assert.equal(ok?.torch_profiler_dir, 's3://bucket/p');
});

test('browser runtime option is passed through', () => {
  const { config } = profilerConfigFromArgs(['--profiler-config.profiler=torch', '--profiler-config.torch_profiler_dir=runs/a'], { runtime: 'browser' });
  assert.equal(config?.torch_profiler_dir, 'runs/a');
  const error = configError(() => profilerConfigFromArgs(['--profiler-config.profiler=torch', '--profiler-config.torch_profiler_dir=~/a'], { runtime: 'browser' }));
  assert.match(error.message, /browser has no home directory/);
});

test('arguments after a bare -- are not parsed', () => {
  const { config, rest } = profilerConfigFromArgs(['--profiler-config.profiler=cuda', '--', '--profiler-config.profiler=torch']);
  assert.equal(config?.profiler, 'cuda');
  assert.deepEqual(rest, ['--', '--profiler-config.profiler=torch']);
});

test('matchProfilerConfigArg recognizes only the profiler-config option', () => {
  assert.deepEqual(matchProfilerConfigArg('--profiler-config'), { key: undefined, inlineValue: undefined });
  assert.deepEqual(matchProfilerConfigArg('--profiler-config={"a.b":1}'), { key: undefined, inlineValue: '{"a.b":1}' });
  assert.deepEqual(matchProfilerConfigArg('--profiler_config.max_iterations=a=b'), { key: 'max_iterations', inlineValue: 'a=b' });
  assert.equal(matchProfilerConfigArg('--profiler-configs'), undefined);
  assert.equal(matchProfilerConfigArg('-profiler-config'), undefined);
  assert.equal(matchProfilerConfigArg('--compilation-config.level=3'), undefined);
});
