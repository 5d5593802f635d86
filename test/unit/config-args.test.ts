import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { PROFILER_CONFIG_DEFAULTS, profilerConfigFromArgs } from '../../src/config/index.js';
import { humanReadableInt, matchProfilerConfigArg, vllmCliValue } from '../../src/config/args.js';
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

test("dotted values are typed as vLLM types them, then converted as pydantic's lax mode does", () => {
  const one = (key: string, value: string) => profilerConfigFromArgs([`--profiler-config.${key}=${value}`]).config as Record<string, unknown>;
  for (const word of ['true', 'True', 'TRUE', '1', 'yes', 'on', 't', 'y'])
    assert.equal(one('torch_profiler_with_flops', word)['torch_profiler_with_flops'], true, word);
  for (const word of ['false', 'False', '0', 'no', 'off', 'f', 'n'])
    assert.equal(one('torch_profiler_with_flops', word)['torch_profiler_with_flops'], false, word);
  assert.equal(one('profiler', 'null')['profiler'], null);
  assert.equal(one('profiler', 'cuda')['profiler'], 'cuda');
  assert.equal(one('profiler', '"cuda"')['profiler'], 'cuda');
  assert.equal(one('max_iterations', '7')['max_iterations'], 7);
  assert.equal(one('max_iterations', '2.0')['max_iterations'], 2);
  assert.equal(one('max_iterations', '1k')['max_iterations'], 1000);
  const dir = (value: string) =>
    profilerConfigFromArgs(['--profiler-config.profiler=torch', `--profiler-config.torch_profiler_dir=${value}`]).config?.torch_profiler_dir;
  assert.equal(dir('"quoted dir"'), resolve('quoted dir'));
  assert.equal(dir('~/x'), resolve(homedir(), 'x'));
  // Behaviour change (issue 9): what is JSON is parsed as JSON, as vLLM does, so these are not strings and vLLM rejects them.
  for (const value of ['2024', 'null', 'true', '1k']) {
    const error = configError(() => dir(value));
    assert.match(error.message, /torch_profiler_dir: given .*; expected a directory path or URI as a string/, value);
  }
  assert.match(configError(() => dir('2024')).message, /quote it, e\.g\. --profiler-config\.torch_profiler_dir='"2024"'/);
  for (const bad of ['maybe', 'None'])
    assert.ok(
      configError(() => profilerConfigFromArgs([`--profiler-config.torch_profiler_with_stack=${bad}`, `--profiler-config.profiler=${bad}`])).issues.length ===
        2,
    );
});

test('the list form KEY+ builds torch_profiler_activities, as vLLM does', () => {
  const { config } = profilerConfigFromArgs([
    '--profiler-config.profiler=torch',
    '--profiler-config.torch_profiler_dir=/t',
    '--profiler-config.torch_profiler_activities+',
    'CPU',
    '--profiler-config.torch_profiler_activities+=CUDA',
  ]);
  assert.deepEqual(config?.torch_profiler_activities, ['CPU', 'CUDA']);
  const twice = configError(() =>
    profilerConfigFromArgs([
      '--profiler-config.profiler=torch',
      '--profiler-config.torch_profiler_dir=/t',
      '--profiler-config.torch_profiler_activities+=CPU,CPU',
    ]),
  );
  assert.match(twice.message, /torch_profiler_activities: given an array \["CPU","CPU"\]; expected a non-empty list of distinct activities/);
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

test('vLLM keeps only the last --profiler-config, and the dotted keys come last wherever they stand', () => {
  // Behaviour change (issue 9): vllm/utils/argparse_utils.py appends the dotted keys as one JSON after
  // every argument, and argparse stores only the last value, so the JSON is dropped whole.
  const json = '{"profiler":"torch","torch_profiler_dir":"/traces","max_iterations":5,"ignore_frontend":true}';
  const expected = { ...PROFILER_CONFIG_DEFAULTS, profiler: 'cuda', max_iterations: 2 };
  for (const argv of [
    ['--profiler-config.profiler=cuda', '--profiler-config.max_iterations=2', '--profiler-config', json],
    ['--profiler-config', json, '--profiler-config.profiler=cuda', '--profiler-config.max_iterations=2'],
  ]) {
    logged.length = 0;
    assert.deepEqual(profilerConfigFromArgs(argv).config, expected, argv.join(' '));
    assert.equal(logged.length, 1);
    assert.match(logged[0]!.message, /--profiler-config given 2 times .*as in vLLM only the last is used: 1 earlier value\(s\) ignored/);
  }
  // The dropped JSON is still validated, as argparse validates every value it reads.
  const error = configError(() => profilerConfigFromArgs(['--profiler-config', '{"profiler":"torch"}', '--profiler-config.torch_profiler_dir=/x']));
  assert.equal(error.issues.length, 2);
  assert.match(error.issues[0]!.message, /^torch_profiler_dir must be set when profiler is 'torch'/);
  assert.match(error.issues[1]!.message, /^torch_profiler_dir is only applicable when profiler is set to 'torch'/);
});

test('a key set twice in the same form: the later value wins, with a warning', () => {
  const { config } = profilerConfigFromArgs(['--profiler-config.max_iterations=2', '--profiler-config.max_iterations=4', '--profiler-config.profiler=cuda']);
  assert.equal(config?.max_iterations, 4);
  assert.equal(logged.length, 1);
  assert.match(logged[0]!.message, /Found duplicate keys profiler-config\.max_iterations; the later value is used/);

  logged.length = 0;
  const last = profilerConfigFromArgs(['--profiler-config', TORCH_JSON, '--profiler-config', '{"profiler":"cuda","delay_iterations":1}']).config;
  assert.deepEqual(last, { ...PROFILER_CONFIG_DEFAULTS, profiler: 'cuda', delay_iterations: 1 }, 'the last JSON argument, not a merge');
  assert.ok(logged.some((l) => l.level === 'warn' && /given 2 times/.test(l.message)));
});

test('unknown dotted keys name the nearest valid key', () => {
  const error = configError(() =>
    profilerConfigFromArgs([...['--profiler-config', TORCH_JSON], '--profiler-config.max-iterations=3', '--profiler-config.delay=1']),
  );
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

test('the rules apply to the dotted keys together', () => {
  const error = configError(() => profilerConfigFromArgs(['--profiler-config.profiler=torch']));
  assert.match(error.message, /torch_profiler_dir must be set when profiler is 'torch'.*--profiler-config\.torch_profiler_dir=\.\/vllm_profile/);
  const ok = profilerConfigFromArgs(['--profiler-config.profiler', 'torch', '--profiler-config.torch_profiler_dir', 'https://host/p']).config;
  assert.equal(ok?.torch_profiler_dir, 'https://host/p');
});

test('browser runtime option is passed through', () => {
  const { config } = profilerConfigFromArgs(['--profiler-config.profiler=torch', '--profiler-config.torch_profiler_dir=runs/a'], { runtime: 'browser' });
  assert.equal(config?.torch_profiler_dir, 'runs/a');
  const error = configError(() =>
    profilerConfigFromArgs(['--profiler-config.profiler=torch', '--profiler-config.torch_profiler_dir=~/a'], { runtime: 'browser' }),
  );
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
