// `wgprof bench serve`: load against a running server, as `vllm bench serve`: N streamed completion
// requests sent at a seeded Poisson (or gamma, --burstiness) rate or all at once, optionally capped
// at a concurrency; `--profile` POSTs /start_profile after the warm-up and /stop_profile at the end.
// Prints throughput, TTFT, TPOT (time per output token after the first), inter-token latency and
// end-to-end latency percentiles; --json prints them as JSON, --result-file writes them.

import { writeFile } from 'node:fs/promises';
import { SeededRandom } from '../engine/rng.js';
import { WgprofError, errorMessage } from '../util/errors.js';
import { intOption, numberOption, parseCommandArgs } from './args.js';
import { UsageError, type Command } from './command.js';
import { percentile } from './run/engine.js';
import { loadPrompts } from './run/options.js';

const help = `usage: wgprof bench serve [options]

Benchmarks a running \`wgprof serve\` (or any OpenAI-compatible /v1/completions server), as
\`vllm bench serve\`: sends --num-prompts streamed requests at --request-rate (seeded Poisson
arrivals; inf = all at once), at most --max-concurrency in flight, after --num-warmups warm-up
requests, and prints request and token throughput with TTFT, TPOT, ITL and E2E latency percentiles.

options:
  --base-url URL            the server (default http://HOST:PORT)
  --host HOST               server host when no --base-url (default 127.0.0.1)
  --port N                  server port when no --base-url (default 8000)
  --endpoint PATH           completions path (default /v1/completions)
  --model NAME              "model" sent with each request (default: none, the server's)
  --num-prompts N           requests to send (default 32)
  --request-rate R          requests per second, or inf (default inf)
  --burstiness B            arrival shape: 1 = Poisson, < 1 burstier, > 1 more even (default 1)
  --max-concurrency N       most requests in flight (default: no cap)
  --num-warmups N           warm-up requests before measuring (default 1; not counted)
  --seed N                  seeds the arrivals, the random prompts and each request's seed (default 0)
  --prompt TEXT             a prompt; repeat for several (cycled through)
  --prompts-file FILE       prompts, one per line
  --random-input-len N      length of generated random prompts, in characters = tokens of the
                            byte tokenizer (default 32; used when no prompt is given)
  --random-output-len N     max_tokens of each request (default 16)
  --temperature X           sampling temperature (default 0 = greedy, as vllm bench)
  --top-k N                 top_k (default: the server's)
  --api-key KEY             send "Authorization: Bearer KEY" (default: $WGPROF_API_KEY, $OPENAI_API_KEY)
  --profile                 POST /start_profile after the warm-up and /stop_profile at the end (the
                            server needs --profiler-config); prints the trace files
  --metric-percentiles LIST percentiles to report (default 50,90,99)
  --request-timeout-s N     give up on one request after N seconds (default 600)
  --json                    print the results as one JSON object
  --result-file FILE        also write the JSON results to FILE

exit status: 0 when every request succeeded (and the profile was written), 1 when a request
failed, the server could not be reached or the profile failed, 2 on bad usage.`;

export interface BenchServeOptions {
  baseUrl: string;
  endpoint: string;
  model: string | undefined;
  numPrompts: number;
  /** Requests per second; Infinity = all at once. */
  requestRate: number;
  burstiness: number;
  maxConcurrency: number | undefined;
  numWarmups: number;
  seed: number;
  prompts: string[];
  promptsFile: string | undefined;
  randomInputLen: number;
  outputLen: number;
  temperature: number;
  topK: number | undefined;
  apiKey: string | undefined;
  profile: boolean;
  percentiles: number[];
  requestTimeoutMs: number;
  json: boolean;
  resultFile: string | undefined;
}

/** An optional integer flag (src/cli/args.ts intOption when given). */
function optionalInt(flag: string, text: string | undefined, min: number, what: string): number | undefined {
  return text === undefined ? undefined : intOption(flag, text, { min, what });
}

/** An optional number flag ≥ min, or > min when `exclusive`. */
function optionalNumber(flag: string, text: string | undefined, min: number, exclusive: boolean, what: string): number | undefined {
  if (text === undefined) return undefined;
  const value = numberOption(flag, text, { min, what });
  if (exclusive && value <= min) throw new UsageError(`${flag} must be a number > ${min} (${what}); got ${JSON.stringify(text)}.`);
  return value;
}

/** Parses `wgprof bench serve` arguments; throws UsageError naming the flag. */
export function parseBenchServeArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): BenchServeOptions {
  const { values: v } = parseCommandArgs(argv, {
    command: 'bench serve',
    options: {
      'base-url': { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      endpoint: { type: 'string' },
      model: { type: 'string' },
      'num-prompts': { type: 'string' },
      'request-rate': { type: 'string' },
      burstiness: { type: 'string' },
      'max-concurrency': { type: 'string' },
      'num-warmups': { type: 'string' },
      seed: { type: 'string' },
      prompt: { type: 'string', multiple: true },
      'prompts-file': { type: 'string' },
      'random-input-len': { type: 'string' },
      'random-output-len': { type: 'string' },
      temperature: { type: 'string' },
      'top-k': { type: 'string' },
      'api-key': { type: 'string' },
      profile: { type: 'boolean' },
      'metric-percentiles': { type: 'string' },
      'request-timeout-s': { type: 'string' },
      json: { type: 'boolean' },
      'result-file': { type: 'string' },
    },
  });
  let baseUrl = v['base-url'];
  if (baseUrl !== undefined) {
    if (v.host !== undefined || v.port !== undefined) throw new UsageError('give either --base-url or --host/--port, not both.');
    let parsed: URL;
    try {
      parsed = new URL(baseUrl);
    } catch {
      throw new UsageError(`--base-url must be a URL such as http://127.0.0.1:8000; got ${JSON.stringify(baseUrl)}.`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new UsageError(`--base-url must be http:// or https://; got ${JSON.stringify(baseUrl)}.`);
  } else {
    const host = v.host ?? '127.0.0.1';
    const port = optionalInt('--port', v.port, 1, 'the server port') ?? 8000;
    baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }
  const endpoint = v.endpoint ?? '/v1/completions';
  if (!endpoint.startsWith('/')) throw new UsageError(`--endpoint must start with "/"; got ${JSON.stringify(endpoint)}.`);
  const rateText = v['request-rate'];
  const requestRate =
    rateText === undefined || rateText === 'inf'
      ? Number.POSITIVE_INFINITY
      : optionalNumber('--request-rate', rateText, 0, true, 'requests per second, or inf')!;
  const seedText = v.seed;
  if (seedText !== undefined && (!/^-?\d+$/.test(seedText.trim()) || !Number.isSafeInteger(Number(seedText))))
    throw new UsageError(`--seed must be an integer; got ${JSON.stringify(seedText)}.`);
  const percentiles = (v['metric-percentiles'] ?? '50,90,99').split(',').map((p) => {
    const value = Number(p);
    if (p.trim() === '' || !Number.isFinite(value) || value <= 0 || value > 100) {
      throw new UsageError(
        `--metric-percentiles must be numbers in (0, 100] separated by commas (e.g. 50,90,99); got ${JSON.stringify(v['metric-percentiles'])}.`,
      );
    }
    return value;
  });
  const prompts = v.prompt ?? [];
  if (prompts.some((p) => p === '')) throw new UsageError('--prompt must not be empty.');
  const apiKey = v['api-key'] ?? env['WGPROF_API_KEY'] ?? env['OPENAI_API_KEY'];
  return {
    baseUrl: baseUrl.replace(/\/+$/, ''),
    endpoint,
    model: v.model,
    numPrompts: optionalInt('--num-prompts', v['num-prompts'], 1, 'requests to send') ?? 32,
    requestRate,
    burstiness: optionalNumber('--burstiness', v.burstiness, 0, true, '1 = Poisson') ?? 1,
    maxConcurrency: optionalInt('--max-concurrency', v['max-concurrency'], 1, 'requests in flight'),
    numWarmups: optionalInt('--num-warmups', v['num-warmups'], 0, 'warm-up requests') ?? 1,
    seed: seedText === undefined ? 0 : Number(seedText),
    prompts,
    promptsFile: v['prompts-file'],
    randomInputLen: optionalInt('--random-input-len', v['random-input-len'], 1, 'prompt characters') ?? 32,
    outputLen: optionalInt('--random-output-len', v['random-output-len'], 1, 'max_tokens per request') ?? 16,
    temperature: optionalNumber('--temperature', v.temperature, 0, false, '0 = greedy') ?? 0,
    topK: optionalInt('--top-k', v['top-k'], -1, '0 or -1 = no limit'),
    apiKey: apiKey === '' ? undefined : apiKey,
    profile: v.profile ?? false,
    percentiles,
    requestTimeoutMs: (optionalNumber('--request-timeout-s', v['request-timeout-s'], 0, true, 'seconds') ?? 600) * 1000,
    json: v.json ?? false,
    resultFile: v['result-file'],
  };
}

/**
 * Send times (ms after the start) of `n` requests: gaps drawn from a gamma distribution with shape
 * `burstiness` and mean 1/rate (burstiness 1 = exponential gaps = Poisson arrivals), as vLLM's
 * get_request does; all 0 for an infinite rate. Seeded: the same seed gives the same schedule.
 */
export function arrivalTimesMs(n: number, requestRate: number, burstiness: number, seed: number): number[] {
  if (!Number.isFinite(requestRate)) return new Array<number>(n).fill(0);
  const rng = new SeededRandom(seed);
  const uniform = (): number => 1 - rng.next(); // (0, 1]
  const normal = (): number => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * rng.next());
  // Marsaglia & Tsang; shape < 1 boosted by U^(1/shape).
  const gamma = (shape: number): number => {
    if (shape < 1) return gamma(shape + 1) * uniform() ** (1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = uniform();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  };
  const meanGapMs = 1000 / requestRate;
  const times: number[] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    times.push(at);
    at += burstiness === 1 ? -Math.log(uniform()) * meanGapMs : gamma(burstiness) * (meanGapMs / burstiness);
  }
  return times;
}

/** `count` prompts of `length` characters from a seeded generator (letters and spaces). */
export function randomPrompts(count: number, length: number, seed: number): string[] {
  const rng = new SeededRandom(seed ^ 0x5eed);
  const alphabet = 'abcdefghijklmnopqrstuvwxyz     ';
  return Array.from({ length: count }, () => Array.from({ length }, () => alphabet[Math.floor(rng.next() * alphabet.length)]).join(''));
}

export interface RequestOutcome {
  ok: boolean;
  error?: string;
  promptTokens: number;
  outputTokens: number;
  /** Time to first token (first non-empty text chunk), ms. */
  ttftMs: number;
  /** Gaps between text chunks after the first, ms. */
  itlMs: number[];
  latencyMs: number;
  text: string;
}

/** One streamed completion; never throws (a failure is an outcome with ok false). */
export async function sendCompletion(options: BenchServeOptions, prompt: string, seed: number): Promise<RequestOutcome> {
  const body: Record<string, unknown> = {
    prompt,
    max_tokens: options.outputLen,
    temperature: options.temperature,
    seed,
    stream: true,
    stream_options: { include_usage: true },
  };
  if (options.model !== undefined) body['model'] = options.model;
  if (options.topK !== undefined) body['top_k'] = options.topK;
  const outcome: RequestOutcome = { ok: false, promptTokens: 0, outputTokens: 0, ttftMs: Number.NaN, itlMs: [], latencyMs: Number.NaN, text: '' };
  const start = performance.now();
  let last = start;
  try {
    const response = await fetch(`${options.baseUrl}${options.endpoint}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.requestTimeoutMs),
    });
    if (!response.ok || !response.body) {
      const text = await response.text().catch(() => '');
      outcome.error = `HTTP ${response.status}: ${text.slice(0, 300)}`;
      return outcome;
    }
    const decoder = new TextDecoder();
    let buffer = '';
    let done = false;
    for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
      const now = performance.now();
      buffer += decoder.decode(bytes, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event
          .split('\n')
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trim())
          .join('\n');
        if (data === '') continue;
        if (data === '[DONE]') {
          done = true;
          continue;
        }
        const chunk = JSON.parse(data) as {
          error?: { message?: string };
          choices?: { text?: string }[];
          usage?: { prompt_tokens: number; completion_tokens: number };
        };
        if (chunk.error) throw new Error(chunk.error.message ?? 'the server sent an error');
        const text = chunk.choices?.[0]?.text ?? '';
        if (text !== '') {
          if (Number.isNaN(outcome.ttftMs)) outcome.ttftMs = now - start;
          else outcome.itlMs.push(now - last);
          last = now;
          outcome.text += text;
        }
        if (chunk.usage) {
          outcome.promptTokens = chunk.usage.prompt_tokens;
          outcome.outputTokens = chunk.usage.completion_tokens;
        }
      }
    }
    if (!done) throw new Error('the stream ended without [DONE]');
    outcome.latencyMs = performance.now() - start;
    // A request whose every token decoded to '' (possible with the byte tokenizer) has its first token at the end.
    if (Number.isNaN(outcome.ttftMs)) outcome.ttftMs = outcome.latencyMs;
    outcome.ok = true;
  } catch (error) {
    outcome.error = errorMessage(error);
  }
  return outcome;
}

export interface Distribution {
  mean: number;
  /** percentile (as given) → value, ms. */
  percentiles: Record<string, number>;
}

export interface BenchServeResult {
  baseUrl: string;
  numPrompts: number;
  completed: number;
  failed: number;
  errors: string[];
  requestRate: number | 'inf';
  burstiness: number;
  maxConcurrency: number | null;
  durationS: number;
  totalInputTokens: number;
  totalOutputTokens: number;
  requestThroughput: number;
  outputThroughput: number;
  totalTokenThroughput: number;
  ttftMs: Distribution;
  tpotMs: Distribution;
  itlMs: Distribution;
  e2elMs: Distribution;
  profile: { files: string[]; failures: unknown[] } | null;
}

function distribution(values: number[], percentiles: number[]): Distribution {
  const mean = values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
  return { mean, percentiles: Object.fromEntries(percentiles.map((p) => [String(p), percentile(values, p)])) };
}

async function postProfile(options: BenchServeOptions, which: 'start' | 'stop'): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetch(`${options.baseUrl}/${which}_profile`, {
      method: 'POST',
      headers: options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {},
    });
  } catch (error) {
    throw new WgprofError('BENCH_SERVER_UNREACHABLE', `POST ${options.baseUrl}/${which}_profile failed: ${errorMessage(error)}. Is the server running there?`);
  }
  const text = await response.text();
  if (response.status === 404) {
    throw new WgprofError(
      'BENCH_NO_PROFILER',
      `the server at ${options.baseUrl} has no /${which}_profile (404): start it with a profiler, e.g. ` +
        `wgprof serve --profiler-config '{"profiler": "torch", "torch_profiler_dir": "./traces"}' (vLLM: --profiler-config must be provided on the server).`,
    );
  }
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: reported below when the status is not 2xx
  }
  if (!response.ok) {
    const message = (body['error'] as { message?: string } | undefined)?.message ?? text.slice(0, 300);
    if (which === 'stop' && Array.isArray(body['failures'])) return { ...body, failed: message };
    throw new WgprofError('BENCH_PROFILE_FAILED', `POST /${which}_profile answered ${response.status}: ${message}`);
  }
  return body;
}

/** Runs the benchmark (warm-up, optional profile, timed requests); throws on setup failures only. */
export async function runBenchServe(options: BenchServeOptions): Promise<BenchServeResult> {
  const prompts =
    options.prompts.length > 0 || options.promptsFile !== undefined
      ? await loadPrompts(options)
      : randomPrompts(options.numPrompts, options.randomInputLen, options.seed);
  const promptOf = (i: number): string => prompts[i % prompts.length]!;
  const seedOf = (i: number): number => options.seed + i;

  if (options.numWarmups > 0) {
    const warm = await Promise.all(Array.from({ length: options.numWarmups }, (_, i) => sendCompletion(options, promptOf(i), seedOf(-1 - i))));
    const failed = warm.find((w) => !w.ok);
    if (failed) throw new WgprofError('BENCH_WARMUP_FAILED', `the warm-up request to ${options.baseUrl}${options.endpoint} failed: ${failed.error}`);
  }
  if (options.profile) await postProfile(options, 'start');

  const times = arrivalTimesMs(options.numPrompts, options.requestRate, options.burstiness, options.seed);
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  const acquire = async (): Promise<void> => {
    if (options.maxConcurrency === undefined || inFlight < options.maxConcurrency) {
      inFlight++;
      return;
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
  };
  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else inFlight--;
  };
  const start = performance.now();
  const outcomes = await Promise.all(
    times.map(async (atMs, i) => {
      const delay = atMs - (performance.now() - start);
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      await acquire();
      try {
        return await sendCompletion(options, promptOf(i), seedOf(i));
      } finally {
        release();
      }
    }),
  );
  const durationS = (performance.now() - start) / 1000;

  let profile: BenchServeResult['profile'] = null;
  if (options.profile) {
    const stopped = await postProfile(options, 'stop');
    profile = { files: (stopped['files'] as string[] | undefined) ?? [], failures: (stopped['failures'] as unknown[] | undefined) ?? [] };
  }

  const ok = outcomes.filter((o) => o.ok);
  const inputTokens = ok.reduce((n, o) => n + o.promptTokens, 0);
  const outputTokens = ok.reduce((n, o) => n + o.outputTokens, 0);
  const tpot = ok.filter((o) => o.outputTokens > 1).map((o) => (o.latencyMs - o.ttftMs) / (o.outputTokens - 1));
  return {
    baseUrl: options.baseUrl,
    numPrompts: options.numPrompts,
    completed: ok.length,
    failed: outcomes.length - ok.length,
    errors: [...new Set(outcomes.filter((o) => !o.ok).map((o) => o.error ?? 'unknown error'))].slice(0, 10),
    requestRate: Number.isFinite(options.requestRate) ? options.requestRate : 'inf',
    burstiness: options.burstiness,
    maxConcurrency: options.maxConcurrency ?? null,
    durationS,
    totalInputTokens: inputTokens,
    totalOutputTokens: outputTokens,
    requestThroughput: ok.length / durationS,
    outputThroughput: outputTokens / durationS,
    totalTokenThroughput: (inputTokens + outputTokens) / durationS,
    ttftMs: distribution(
      ok.map((o) => o.ttftMs),
      options.percentiles,
    ),
    tpotMs: distribution(tpot, options.percentiles),
    itlMs: distribution(
      ok.flatMap((o) => o.itlMs),
      options.percentiles,
    ),
    e2elMs: distribution(
      ok.map((o) => o.latencyMs),
      options.percentiles,
    ),
    profile,
  };
}

/** The result as vLLM's bench prints it. */
export function formatBenchServe(r: BenchServeResult): string {
  const row = (label: string, value: string | number): string =>
    `${label.padEnd(40)} ${typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toFixed(2)) : value}`;
  const section = (title: string): string => ` ${title} `.padStart(25 + Math.ceil(title.length / 2), '-').padEnd(50, '-');
  const dist = (name: string, label: string, d: Distribution): string[] => [
    section(name),
    row(`Mean ${label} (ms):`, d.mean),
    ...Object.entries(d.percentiles).map(([p, v]) => row(`${p === '50' ? 'Median' : `P${p}`} ${label} (ms):`, v)),
  ];
  const lines = [
    ' Serving Benchmark Result '.padStart(38, '=').padEnd(50, '='),
    row('Successful requests:', r.completed),
    row('Failed requests:', r.failed),
    row('Request rate configured (RPS):', r.requestRate === 'inf' ? 'inf' : r.requestRate),
    row('Maximum request concurrency:', r.maxConcurrency ?? 'none'),
    row('Benchmark duration (s):', r.durationS),
    row('Total input tokens:', r.totalInputTokens),
    row('Total generated tokens:', r.totalOutputTokens),
    row('Request throughput (req/s):', r.requestThroughput),
    row('Output token throughput (tok/s):', r.outputThroughput),
    row('Total token throughput (tok/s):', r.totalTokenThroughput),
    ...dist('Time to First Token', 'TTFT', r.ttftMs),
    ...dist('Time per Output Token (excl. 1st token)', 'TPOT', r.tpotMs),
    ...dist('Inter-token Latency', 'ITL', r.itlMs),
    ...dist('End-to-end Latency', 'E2EL', r.e2elMs),
    '='.repeat(50),
  ];
  if (r.profile) for (const file of r.profile.files) lines.push(`trace ${file}`);
  for (const error of r.errors) lines.push(`error: ${error}`);
  return lines.join('\n');
}

/** JSON numbers cannot be NaN: a statistic over no values is null. */
function jsonResult(r: BenchServeResult): string {
  return JSON.stringify(r, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 2);
}

export const command: Command = {
  summary: 'load-test a running server (rate or concurrency), optionally profiled',
  help,
  async main(argv) {
    let options: BenchServeOptions;
    try {
      options = parseBenchServeArgs(argv);
    } catch (error) {
      process.stderr.write(`wgprof bench serve: ${errorMessage(error)}\n`);
      return 2;
    }
    let result: BenchServeResult;
    try {
      result = await runBenchServe(options);
    } catch (error) {
      process.stderr.write(`wgprof bench serve: ${errorMessage(error)}\n`);
      return error instanceof UsageError ? 2 : 1;
    }
    process.stdout.write(`${options.json ? jsonResult(result) : formatBenchServe(result)}\n`);
    if (options.resultFile !== undefined) await writeFile(options.resultFile, `${jsonResult(result)}\n`);
    const profileFailed = result.profile !== null && result.profile.failures.length > 0;
    if (profileFailed)
      process.stderr.write(`wgprof bench serve: ${result.profile!.failures.length} profiler file(s) could not be written (see "failures" in --json).\n`);
    if (result.failed > 0)
      process.stderr.write(`wgprof bench serve: ${result.failed} of ${result.numPrompts} requests failed; first error: ${result.errors[0]}\n`);
    return result.failed > 0 || profileFailed ? 1 : 0;
  },
};
