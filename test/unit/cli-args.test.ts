// The shared argument parser of the wgprof commands (src/cli/args.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { choiceOption, intOption, numberOption, parseCommandArgs } from '../../src/cli/args.js';
import { UsageError } from '../../src/cli/command.js';
import { ProfilerConfigError } from '../../src/config/index.js';

const spec = {
  command: 'demo',
  options: { out: { type: 'string', example: 'report.html' }, tag: { type: 'string', multiple: true }, open: { type: 'boolean' }, seed: { type: 'string' } },
  positionals: { name: 'TRACE', min: 1, max: 2 },
} as const;

function usage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof UsageError, `expected a UsageError, got ${String(error)}`);
    return error.message;
  }
  assert.fail('expected a UsageError');
}

describe('parseCommandArgs', () => {
  it('parses --flag value, --flag=value, repeats, booleans and positionals; values may start with "-"', () => {
    const args = parseCommandArgs(['a.json', '--out', 'r.html', '--tag=x', '--tag', 'y', '--open', '--seed', '-5', '--', '--literal'], spec);
    assert.deepEqual(args.values, { out: 'r.html', tag: ['x', 'y'], open: true, seed: '-5' });
    assert.deepEqual(args.positionals, ['a.json', '--literal']);
    assert.equal(args.profilerConfig, undefined);
  });

  it('names unknown options with the nearest valid one, and every usage mistake', () => {
    assert.match(
      usage(() => parseCommandArgs(['a', '--ot', 'x'], spec)),
      /^unknown option "--ot"\. Did you mean --out\? Valid options: --out, --tag, --open, --seed, --help \(see wgprof demo --help\)\.$/,
    );
    assert.match(
      usage(() => parseCommandArgs(['a', '--frobnicate'], spec)),
      /^unknown option "--frobnicate"\. Valid options:/,
    );
    assert.match(
      usage(() => parseCommandArgs(['a', '-x'], spec)),
      /unknown option "-x"/,
    );
    assert.match(
      usage(() => parseCommandArgs(['a', '--out'], spec)),
      /^--out needs a value \(e\.g\. --out report\.html\)\.$/,
    );
    assert.match(
      usage(() => parseCommandArgs(['a', '--open=yes'], spec)),
      /^--open takes no value/,
    );
    assert.match(
      usage(() => parseCommandArgs([], spec)),
      /^missing TRACE/,
    );
    assert.match(
      usage(() => parseCommandArgs(['a', 'b', 'c'], spec)),
      /^unexpected argument "c" \(at most 2 TRACE\)/,
    );
    assert.match(
      usage(() => parseCommandArgs(['a', `--${'z'.repeat(10_000)}`], spec)),
      /^unknown option "--z{78}\.\.\."/,
    );
    assert.match(
      usage(() => parseCommandArgs(['a', '--profiler-config', '{}'], spec)),
      /unknown option "--profiler-config"/,
    );
  });

  it("takes vLLM's --profiler-config forms when the spec says so", () => {
    const withConfig = { ...spec, profilerConfig: true } as const;
    const args = parseCommandArgs(['a', '--profiler-config.profiler', 'cuda', '--profiler-config.max_iterations="3"', '--open'], withConfig);
    assert.equal(args.profilerConfig?.profiler, 'cuda');
    assert.equal(args.profilerConfig?.max_iterations, 3);
    assert.deepEqual(args.coerced, [{ key: 'max_iterations', given: '3', value: 3 }]);
    assert.throws(() => parseCommandArgs(['a', '--profiler-config.bogus=1'], withConfig), ProfilerConfigError);
  });
});

describe('option values', () => {
  it('intOption takes decimal integers only, within bounds', () => {
    assert.equal(intOption('--n', '16', { min: 1, what: 'count' }), 16);
    assert.equal(intOption('--n', '-1', { min: -1, what: 'count' }), -1);
    for (const text of ['0x10', '1e2', '1.5', ' 16', '16 ', '', '+3', '1_000', 'Infinity', '99999999999999999999']) {
      assert.match(
        usage(() => intOption('--n', text, { min: 1, what: 'count' })),
        /^--n must be an integer ≥ 1 \(count\); got /,
        text,
      );
    }
    assert.match(
      usage(() => intOption('--n', '101', { min: 1, max: 100, what: 'count' })),
      /^--n is 101; the most it can be is 100 \(count\)\.$/,
    );
  });

  it('numberOption and choiceOption', () => {
    assert.equal(numberOption('--t', '0.5', { min: 0, what: 'temperature' }), 0.5);
    for (const text of ['1e2', 'NaN', '-0.1', '', '0x1']) assert.throws(() => numberOption('--t', text, { min: 0, what: 'temperature' }), UsageError, text);
    assert.equal(choiceOption('--m', 'b', ['a', 'b'] as const), 'b');
    assert.match(
      usage(() => choiceOption('--m', 'c', ['a', 'b'])),
      /^--m must be one of a, b; got "c"\.$/,
    );
  });
});
