// The server's pure parts, without a GPU: the /v1/completions body checks, streamed text against the
// engine's stop-string cut (a seeded property test over the real EngineRequest), the API key check,
// the bench's seeded arrival schedule, and the argument parsing of `serve` and `bench serve`.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBenchServeArgs, arrivalTimesMs, randomPrompts } from '../../src/cli/bench-serve.js';
import { findCommand } from '../../src/cli/main.js';
import { parseServeArgs } from '../../src/cli/serve.js';
import { EngineRequest, resolveSamplingParams } from '../../src/engine/requests.js';
import { SeededRandom } from '../../src/engine/rng.js';
import { byteTokenizer } from '../../src/engine/tokenizer.js';
import { parseCompletionRequest } from '../../src/server/completions.js';
import { HttpError, bearerChecker } from '../../src/server/http.js';
import { parseStartProfileBody } from '../../src/server/profile.js';
import { StreamingTokenizer, TextStream } from '../../src/server/streaming.js';
import { WgprofError } from '../../src/util/errors.js';

function rejects400(body: unknown, param: string | null, message: RegExp): void {
  assert.throws(
    () => parseCompletionRequest(body, 'tiny'),
    (e: unknown) => {
      assert.ok(e instanceof HttpError, String(e));
      assert.equal(e.status, 400, e.message);
      assert.equal(e.param, param);
      assert.match(e.message, message);
      return true;
    },
  );
}

describe('/v1/completions body', () => {
  it('maps OpenAI fields onto the engine: prompt forms, sampling, stop, streaming', () => {
    const r = parseCompletionRequest(
      {
        model: 'tiny',
        prompt: 'Hi',
        max_tokens: 7,
        temperature: 0.5,
        top_k: 3,
        seed: -4,
        stop: '.',
        stream: true,
        stream_options: { include_usage: true },
        n: 1,
        top_p: 1,
        user: 'x',
      },
      'tiny',
    );
    assert.deepEqual(r, { prompts: ['Hi'], params: { maxTokens: 7, temperature: 0.5, topK: 3, seed: -4, stop: ['.'] }, stream: true, includeUsage: true });
    assert.deepEqual(parseCompletionRequest({ prompt: ['a', 'b'] }, 'tiny').prompts, ['a', 'b']);
    assert.deepEqual(parseCompletionRequest({ prompt: [1, 2, 3] }, 'tiny').prompts, [{ promptTokenIds: [1, 2, 3] }]);
    assert.deepEqual(parseCompletionRequest({ prompt: [[1], [2, 3]] }, 'tiny').prompts, [{ promptTokenIds: [1] }, { promptTokenIds: [2, 3] }]);
    assert.deepEqual(parseCompletionRequest({ prompt: 'x', max_tokens: null, seed: null, stop: [] }, 'tiny').params, {});
  });

  it('says which field is wrong, what was given and what is accepted', () => {
    rejects400([1], null, /must be a JSON object .*got an array/);
    rejects400('text', null, /must be a JSON object/);
    rejects400({}, 'prompt', /^prompt must be given/);
    rejects400({ prompt: 5 }, 'prompt', /prompt must be a non-empty string, .* \(got 5\)/);
    rejects400({ prompt: [] }, 'prompt', /got \[\]/);
    rejects400({ prompt: ['a', 1] }, 'prompt', /got \["a",1\]/);
    rejects400({ prompt: 'x', max_tokens: '16' }, 'max_tokens', /max_tokens must be an integer ≥ 1 \(got "16"\)/);
    rejects400({ prompt: 'x', max_tokens: 0 }, 'max_tokens', /≥ 1 \(got 0\)/);
    rejects400({ prompt: 'x', max_tokens: 1.5 }, 'max_tokens', /got 1\.5/);
    rejects400({ prompt: 'x', temperature: -1 }, 'temperature', /≥ 0/);
    rejects400({ prompt: 'x', temperature: 'hot' }, 'temperature', /got "hot"/);
    rejects400({ prompt: 'x', top_k: -2 }, 'top_k', /0 \/ -1 for no limit/);
    rejects400({ prompt: 'x', seed: 1.5 }, 'seed', /an integer/);
    rejects400({ prompt: 'x', stop: [''] }, 'stop', /non-empty/);
    rejects400({ prompt: 'x', stop: 3 }, 'stop', /got 3/);
    rejects400({ prompt: 'x', stream: 'yes' }, 'stream', /true or false \(got "yes"\)/);
    rejects400({ prompt: 'x', stream_options: { include_usage: true } }, 'stream_options', /unless stream is true/);
    rejects400({ prompt: 'x', stream: true, stream_options: { include_usage: 1 } }, 'stream_options.include_usage', /true or false/);
    rejects400({ prompt: 'x', n: 2 }, 'n', /1 \(one completion per prompt\)/);
    rejects400({ prompt: 'x', top_p: 0.9 }, 'top_p', /nucleus sampling is not implemented; use top_k/);
    rejects400({ prompt: 'x', logprobs: 5 }, 'logprobs', /not returned/);
    rejects400({ prompt: 'x', ignore_eos: 'no' }, 'ignore_eos', /true or false/);
    rejects400({ prompt: 'x'.repeat(10), max_tokens: 'y'.repeat(200) }, 'max_tokens', /got "y+\.\.\.\)/);
  });

  it('a model other than the served one is 404, as OpenAI and vLLM answer', () => {
    assert.throws(
      () => parseCompletionRequest({ model: 'gpt-4', prompt: 'x' }, 'tiny'),
      (e: unknown) => e instanceof HttpError && e.status === 404 && /does not exist; this server serves "tiny"/.test(e.message),
    );
  });
});

describe('streamed text', () => {
  it('is always a prefix of the engine text, and adds up to it, whatever stop strings cut (2000 seeded cases)', () => {
    const rng = new SeededRandom(42);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)]!;
    // Few distinct bytes so stops match often: ASCII, UTF-8 leads and continuations, an invalid byte.
    const bytes = [0x61, 0x62, 0x2e, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xff];
    const stops = ['a', 'ab', 'ba.', 'é', '€a', '\uFFFDa', 'aab', '😀', '.\uFFFD'];
    let stopped = 0;
    for (let c = 0; c < 2000; c++) {
      const stop = rng.next() < 0.15 ? [] : Array.from({ length: 1 + Math.floor(rng.next() * 2) }, () => pick(stops));
      const tokenizer = new StreamingTokenizer(byteTokenizer);
      const text = new TextStream(stop);
      let sent = '';
      const params = resolveSamplingParams({ stop, maxTokens: 24 }, { seed: c, vocabSize: 256 });
      const { value: request, bound } = tokenizer.track(
        (piece) => {
          sent += text.push(piece);
        },
        () => new EngineRequest({ id: c, promptText: 'p', promptTokenIds: [112], params, tokenizer, arrivalMs: 0 }),
      );
      assert.equal(bound, true, 'the decoder made while adding the request reports to the listener');
      let reason: 'stop' | 'length' = 'length';
      for (let i = 0; i < 24; i++) {
        const hit = request.appendToken(pick(bytes), i);
        // What was sent so far can never be cut away (checked at every token).
        assert.ok(request.text.startsWith(sent), `case ${c} token ${i}: sent ${JSON.stringify(sent)} vs ${JSON.stringify(request.text)}`);
        if (hit !== undefined) {
          reason = 'stop';
          break;
        }
      }
      request.finish(reason, 1);
      if (reason === 'stop') stopped++;
      const final = request.text;
      assert.ok(final.startsWith(sent), `case ${c} (stop ${JSON.stringify(stop)}): sent ${JSON.stringify(sent)} is not a prefix of ${JSON.stringify(final)}`);
      assert.equal(sent + text.finish(final), final, `case ${c}`);
      for (let i = 0; i < sent.length; i++) {
        const code = sent.charCodeAt(i);
        if (code >= 0xd800 && code <= 0xdbff) assert.ok(i + 1 < sent.length, `case ${c}: a surrogate pair split at the end of what was sent`);
      }
    }
    assert.ok(stopped > 300, `stop strings matched in ${stopped} cases`);
  });

  it('without stop strings every token is sent at once', () => {
    const text = new TextStream(undefined);
    assert.equal(text.push('ab'), 'ab');
    assert.equal(text.push('c'), 'c');
    assert.equal(text.finish('abc'), '');
  });

  it('a tokenizer call that creates no decoder reports that nothing was bound', () => {
    const tokenizer = new StreamingTokenizer(byteTokenizer);
    assert.equal(
      tokenizer.track(
        () => undefined,
        () => 1,
      ).bound,
      false,
    );
    assert.equal(tokenizer.decode(tokenizer.encode('héllo')), 'héllo');
  });
});

describe('/start_profile body', () => {
  it('takes optional delay_iterations / max_iterations for this session; no body keeps the config', () => {
    assert.deepEqual(parseStartProfileBody(undefined), {});
    assert.deepEqual(parseStartProfileBody({}), {});
    assert.deepEqual(parseStartProfileBody({ delay_iterations: 2, max_iterations: 0 }), { delayIterations: 2, maxIterations: 0 });
  });

  it('anything else is a 400 INVALID_PARAMETER naming the field', () => {
    const bad = (body: unknown, param: string | null, message: RegExp) =>
      assert.throws(
        () => parseStartProfileBody(body),
        (e: unknown) => e instanceof HttpError && e.status === 400 && e.code === 'INVALID_PARAMETER' && e.param === param && message.test(e.message),
      );
    bad({ max_iterations: -1 }, 'max_iterations', /"max_iterations" must be an integer >= 0 \(0 = no limit\); got -1/);
    bad({ delay_iterations: '2' }, 'delay_iterations', /got "2"/);
    bad({ delay_iterations: 1.5 }, 'delay_iterations', /integer/);
    bad({ delay: 2 }, 'delay', /takes only "delay_iterations" and "max_iterations"; got "delay"/);
    bad([1], null, /must be a JSON object/);
    bad(null, null, /must be a JSON object/);
  });
});

describe('API key', () => {
  it('accepts exactly "Bearer KEY" (case-insensitive scheme), nothing else', () => {
    const check = bearerChecker('s3cret-key');
    assert.equal(check('Bearer s3cret-key'), true);
    assert.equal(check('bearer s3cret-key'), true);
    for (const header of [undefined, '', 's3cret-key', 'Bearer', 'Bearer ', 'Bearer s3cret-keY', 'Bearer s3cret-key2', 'Basic s3cret-key', 'Bearer s3cret']) {
      assert.equal(check(header), false, String(header));
    }
  });
});

describe('bench serve arrivals', () => {
  const gaps = (times: number[]): number[] => times.slice(1).map((t, i) => t - times[i]!);
  const stats = (xs: number[]): { mean: number; cv2: number } => {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
    return { mean, cv2: variance / mean ** 2 };
  };

  it('are seeded Poisson at the rate (mean gap 1/rate, CV² 1); burstiness b gives CV² 1/b; inf sends all at once', () => {
    assert.deepEqual(arrivalTimesMs(200, 4, 1, 7), arrivalTimesMs(200, 4, 1, 7), 'same seed, same schedule');
    assert.notDeepEqual(arrivalTimesMs(200, 4, 1, 7), arrivalTimesMs(200, 4, 1, 8));
    const poisson = stats(gaps(arrivalTimesMs(20_001, 4, 1, 1)));
    assert.ok(Math.abs(poisson.mean - 250) / 250 < 0.03, `mean gap ${poisson.mean} ms at 4 req/s`);
    assert.ok(Math.abs(poisson.cv2 - 1) < 0.1, `CV² ${poisson.cv2}`);
    for (const b of [0.5, 4]) {
      const s = stats(gaps(arrivalTimesMs(20_001, 10, b, 2)));
      assert.ok(Math.abs(s.mean - 100) / 100 < 0.03, `burstiness ${b}: mean ${s.mean}`);
      assert.ok(Math.abs(s.cv2 - 1 / b) / (1 / b) < 0.1, `burstiness ${b}: CV² ${s.cv2}`);
    }
    assert.deepEqual(arrivalTimesMs(3, Number.POSITIVE_INFINITY, 1, 0), [0, 0, 0]);
  });

  it('random prompts are seeded and of the asked length', () => {
    const prompts = randomPrompts(5, 12, 3);
    assert.deepEqual(prompts, randomPrompts(5, 12, 3));
    assert.ok(prompts.every((p) => p.length === 12));
    assert.equal(new Set(prompts).size, 5);
  });
});

const usage = (fn: () => unknown, message: RegExp): void => {
  assert.throws(fn, (e: unknown) => e instanceof WgprofError && e.code === 'USAGE' && message.test(e.message));
};

describe('wgprof serve / bench serve arguments', () => {
  it('serve: every flag, the profiler config, the key from the environment', () => {
    const o = parseServeArgs(
      [
        '--model',
        'small',
        '--host',
        '::1',
        '--port',
        '0',
        '--seed=-3',
        '--max-slots',
        '8',
        '--max-batch-tokens',
        '64',
        '--backend',
        'null',
        '--max-body-bytes',
        '2048',
        '--served-model-name',
        'm',
        '--trace-fallback-dir',
        '/tmp/fb',
        '--upload-attempts',
        '2',
        '--launch-names',
        'cuda',
        '--profiler-config.profiler=torch',
        '--profiler-config.torch_profiler_dir=/tmp/t',
        '--profiler-config.max_iterations=3',
      ],
      { WGPROF_API_KEY: 'k1' },
    );
    assert.equal(o.model, 'small');
    assert.equal(o.host, '::1');
    assert.equal(o.port, 0);
    assert.equal(o.seed, -3);
    assert.equal(o.maxSlots, 8);
    assert.equal(o.maxBatchTokens, 64);
    assert.equal(o.backend, 'null');
    assert.equal(o.maxBodyBytes, 2048);
    assert.equal(o.servedModelName, 'm');
    assert.equal(o.apiKey, 'k1');
    assert.deepEqual(o.traceSink, { fallbackDir: '/tmp/fb', retry: { attempts: 2 } });
    assert.equal(o.profilerConfig?.profiler, 'torch');
    assert.equal(o.profilerConfig?.max_iterations, 3);
    assert.equal(o.launchNames, 'cuda');
    assert.equal(parseServeArgs(['--api-key=k2'], { WGPROF_API_KEY: 'k1' }).apiKey, 'k2');
    assert.deepEqual(parseServeArgs([], {}), {});
  });

  it('serve: mistakes name the flag and the value', () => {
    usage(() => parseServeArgs(['--port', '70000'], {}), /--port is 70000; the most it can be is 65535/);
    usage(() => parseServeArgs(['--port', 'x'], {}), /--port must be an integer ≥ 0 .*got "x"/);
    usage(() => parseServeArgs(['--port', '1e3'], {}), /got "1e3"/);
    usage(() => parseServeArgs(['--model', 'huge'], {}), /--model must be one of tiny, small, gpt2; got "huge"/);
    usage(() => parseServeArgs(['--backend', 'metal'], {}), /--backend must be auto, vulkan or null/);
    usage(() => parseServeArgs(['--prot', '1'], {}), /unknown option "--prot"\. Did you mean --port\?.*wgprof serve --help/);
    usage(() => parseServeArgs(['--api-key', ''], {}), /--api-key must not be empty/);
    usage(() => parseServeArgs(['--seed', '0x10'], {}), /--seed must be an integer .*got "0x10"/);
    usage(() => parseServeArgs(['extra'], {}), /unexpected argument "extra"/);
    usage(
      () => parseServeArgs(['--launch-names', 'hip', '--profiler-config.profiler=torch', '--profiler-config.torch_profiler_dir=/tmp/t'], {}),
      /--launch-names must be one of webgpu, cuda; got "hip"/,
    );
    usage(() => parseServeArgs(['--launch-names', 'cuda'], {}), /--launch-names .* needs --profiler-config with "profiler": "torch"/);
    usage(
      () => parseServeArgs(['--profiler-config.profiler=torch', '--profiler-config.torch_profiler_dir=/tmp/t'], { WGPROF_LAUNCH_NAMES: 'hta' }),
      /WGPROF_LAUNCH_NAMES is "hta"/,
    );
    assert.throws(
      () => parseServeArgs(['--profiler-config', '{"profiler":"torch"}'], {}),
      (e: unknown) => e instanceof WgprofError && e.code === 'PROFILER_CONFIG_INVALID',
    );
  });

  it('bench serve: defaults as vllm bench serve, every flag, and mistakes', () => {
    const d = parseBenchServeArgs([], {});
    assert.equal(d.baseUrl, 'http://127.0.0.1:8000');
    assert.equal(d.requestRate, Number.POSITIVE_INFINITY);
    assert.equal(d.temperature, 0);
    assert.deepEqual(d.percentiles, [50, 90, 99]);
    const o = parseBenchServeArgs(
      [
        '--host',
        '::1',
        '--port',
        '9',
        '--num-prompts',
        '5',
        '--request-rate',
        '2.5',
        '--burstiness',
        '0.5',
        '--max-concurrency',
        '3',
        '--num-warmups',
        '0',
        '--seed',
        '4',
        '--prompt',
        'a',
        '--prompt',
        'b',
        '--random-output-len',
        '7',
        '--top-k',
        '5',
        '--profile',
        '--json',
        '--metric-percentiles',
        '25,75',
        '--request-timeout-s',
        '2',
      ],
      { OPENAI_API_KEY: 'ok' },
    );
    assert.equal(o.baseUrl, 'http://[::1]:9');
    assert.deepEqual([o.numPrompts, o.requestRate, o.burstiness, o.maxConcurrency, o.numWarmups, o.seed, o.outputLen, o.topK], [5, 2.5, 0.5, 3, 0, 4, 7, 5]);
    assert.deepEqual(o.prompts, ['a', 'b']);
    assert.deepEqual([o.profile, o.json, o.apiKey, o.requestTimeoutMs], [true, true, 'ok', 2000]);
    assert.deepEqual(o.percentiles, [25, 75]);
    usage(() => parseBenchServeArgs(['--base-url', 'http://x:1', '--port', '2'], {}), /either --base-url or --host\/--port/);
    usage(() => parseBenchServeArgs(['--base-url', 'ftp://x'], {}), /http:\/\/ or https:\/\//);
    usage(() => parseBenchServeArgs(['--request-rate', '0'], {}), /--request-rate must be a number > 0/);
    usage(() => parseBenchServeArgs(['--metric-percentiles', '50,101'], {}), /in \(0, 100\]/);
    usage(() => parseBenchServeArgs(['--num-prompts', '0'], {}), /--num-prompts must be an integer ≥ 1/);
    usage(() => parseBenchServeArgs(['--endpoint', 'v1'], {}), /must start with "\/"/);
  });

  it('`bench serve` is one two-word command; `serve` one word', () => {
    assert.deepEqual(findCommand(['bench', 'serve', '--num-prompts', '3']), { name: 'bench serve', rest: ['--num-prompts', '3'] });
    assert.deepEqual(findCommand(['serve', '--port', '0']), { name: 'serve', rest: ['--port', '0'] });
    assert.equal(findCommand(['bench']), undefined);
    assert.equal(findCommand(['bench', 'run']), undefined);
  });
});
