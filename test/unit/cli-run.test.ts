import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setLogSink } from '../../src/util/log.js';
import { UsageError } from '../../src/cli/command.js';
import { command } from '../../src/cli/run.js';
import { percentile } from '../../src/cli/run/engine.js';
import { DEFAULT_PROMPTS, loadPrompts, parseRunArgs } from '../../src/cli/run/options.js';

const scratch = join(process.cwd(), '.wgprof-tmp', 'engine-unit');

describe('wgprof run: arguments', () => {
  it('has sensible defaults: tiny, 4 built-in prompts, 16 tokens', async () => {
    const o = parseRunArgs([]);
    assert.equal(o.model, 'tiny');
    assert.equal(o.maxTokens, 16);
    assert.equal(o.requests, 0, '0 = one request per prompt');
    assert.equal(o.profilerConfig, undefined);
    assert.deepEqual(await loadPrompts(o), [...DEFAULT_PROMPTS]);
    assert.equal(DEFAULT_PROMPTS.length, 4);
  });

  it('parses every flag in both --flag value and --flag=value forms', () => {
    const o = parseRunArgs([
      '--model=small',
      '--prompt',
      'a',
      '--prompt=b',
      '--requests',
      '6',
      '--max-tokens=3',
      '--seed',
      '-5',
      '--temperature',
      '0',
      '--top-k=5',
      '--stop',
      '.',
      '--max-batch-tokens',
      '32',
      '--max-slots=2',
      '--backend',
      'null',
      '--json',
      '--quiet',
    ]);
    assert.deepEqual(
      { ...o, profilerConfig: undefined },
      {
        model: 'small',
        prompts: ['a', 'b'],
        requests: 6,
        maxTokens: 3,
        seed: -5,
        temperature: 0,
        topK: 5,
        stop: ['.'],
        maxBatchTokens: 32,
        maxSlots: 2,
        backend: 'null',
        json: true,
        quiet: true,
        profilerConfig: undefined,
        launchNames: undefined,
        promptsFile: undefined,
      },
    );
  });

  it('takes --launch-names with a torch profiler config, and rejects it otherwise', () => {
    const torch = ['--profiler-config', '{"profiler":"torch","torch_profiler_dir":"./traces"}'];
    assert.equal(parseRunArgs([...torch, '--launch-names', 'cuda']).launchNames, 'cuda');
    assert.equal(parseRunArgs([...torch, '--launch-names=webgpu']).launchNames, 'webgpu');
    assert.equal(parseRunArgs(torch).launchNames, undefined, 'unset: the profiler decides ($WGPROF_LAUNCH_NAMES, else webgpu)');
    assert.throws(() => parseRunArgs([...torch, '--launch-names', 'hip']), /--launch-names must be one of webgpu, cuda; got "hip"/);
    assert.throws(
      () => parseRunArgs(['--launch-names', 'cuda']),
      (e: unknown) => e instanceof UsageError && /needs --profiler-config with "profiler": "torch"/.test(e.message),
    );
    // A bad WGPROF_LAUNCH_NAMES is a usage mistake too, found before the engine starts.
    const saved = process.env['WGPROF_LAUNCH_NAMES'];
    try {
      process.env['WGPROF_LAUNCH_NAMES'] = 'nope';
      assert.throws(
        () => parseRunArgs(torch),
        (e: unknown) => e instanceof UsageError && /the environment variable WGPROF_LAUNCH_NAMES is "nope"; expected "webgpu"/.test(e.message),
      );
      assert.equal(parseRunArgs([]).launchNames, undefined, 'an unprofiled run does not read it');
    } finally {
      if (saved === undefined) delete process.env['WGPROF_LAUNCH_NAMES'];
      else process.env['WGPROF_LAUNCH_NAMES'] = saved;
    }
  });

  it('takes the profiler config in vLLM forms', () => {
    // The config parser warns (vLLM's overhead warning) about delay_iterations without ignore_frontend.
    const warnings: string[] = [];
    const restore = setLogSink((_level, message) => warnings.push(message));
    let o;
    try {
      // (Behaviour change, issue 9: as in vLLM only the last value counts and the dotted keys are one value, so no JSON here.)
      o = parseRunArgs([
        '--profiler-config.profiler',
        'torch',
        '--profiler-config.torch_profiler_dir=./traces',
        '--profiler-config.delay_iterations=2',
        '--max-tokens',
        '2',
      ]);
    } finally {
      restore();
    }
    assert.equal(o.profilerConfig?.profiler, 'torch');
    assert.equal(o.profilerConfig?.delay_iterations, 2);
    assert.equal(o.maxTokens, 2);
  });

  it('reads prompts from a file, skipping empty lines', async () => {
    mkdirSync(scratch, { recursive: true });
    const file = join(scratch, 'prompts.txt');
    writeFileSync(file, 'first\n\n second \r\nthird\n');
    assert.deepEqual(await loadPrompts({ prompts: ['cli'], promptsFile: file }), ['cli', 'first', ' second ', 'third']);
    writeFileSync(file, '\n\n');
    await assert.rejects(loadPrompts({ prompts: [], promptsFile: file }), /has no prompts/);
    await assert.rejects(
      loadPrompts({ prompts: [], promptsFile: join(scratch, 'missing.txt') }),
      (e: unknown) => e instanceof UsageError && /cannot be read/.test(e.message),
    );
  });

  it('names the flag, the value given and what is valid', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--model', 'gpt3'], /--model must be one of tiny, small, gpt2; got "gpt3"/],
      [['--max-tokens', '0'], /--max-tokens must be an integer ≥ 1 .*got "0"/],
      [['--requests', 'many'], /--requests must be an integer ≥ 1 .*got "many"/],
      [['--temperature', '-1'], /--temperature must be a number ≥ 0.*got "-1"/],
      [['--top-k', '-2'], /--top-k must be an integer ≥ -1/],
      [['--backend', 'metal'], /--backend must be auto, vulkan or null; got "metal"/],
      [['--seed', '1.5'], /--seed must be an integer; got "1.5"/],
      [['--max-tokens'], /--max-tokens needs a value/],
      [['--max-token', '3'], /unknown option "--max-token"\. Did you mean --max-tokens\?/],
      [['--frobnicate'], /unknown option "--frobnicate"\. Valid options:/],
      [['--profiler-config.delay_iterations=abc'], /delay_iterations/],
    ];
    for (const [argv, pattern] of cases) assert.throws(() => parseRunArgs(argv), pattern, argv.join(' '));
  });

  it('exits 2 on bad usage, before touching the GPU', async () => {
    const writes: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      assert.equal(await command.main(['--max-tokens', 'x']), 2);
      assert.equal(await command.main(['--prompts-file', join(scratch, 'nope.txt')]), 2);
    } finally {
      process.stderr.write = original;
    }
    assert.match(writes.join(''), /wgprof run: --max-tokens must be an integer/);
  });

  it('computes nearest-rank percentiles', () => {
    assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
    assert.equal(percentile([5, 1, 3, 2, 4], 90), 5);
    assert.equal(percentile([7], 90), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
  });
});
