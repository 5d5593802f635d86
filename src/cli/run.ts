// `wgprof run`: runs the inference engine over a set of prompts (continuous batching), prints each
// request's text and a summary (throughput, TTFT, per-token latency), optionally under the profiler
// (`--profiler-config`, vLLM's forms).

import { readFile } from 'node:fs/promises';
import { profilerConfigFromArgs } from '../config/index.js';
import type { ProfilerConfig } from '../config/index.js';
import { editDistance } from '../config/suggest.js';
import { createEngine, type Engine, type EngineOptions } from '../engine/engine.js';
import { createProfiler } from '../profiler/profiler.js';
import { presetNames, type PresetName } from '../engine/presets.js';
import type { GenerateResult, SamplingParams } from '../engine/requests.js';
import type { GpuBackend } from '../gpu/device.js';
import { WgprofError, errorMessage } from '../util/errors.js';
import type { Command } from './main.js';

/** Prompts used when none are given (cycled through by --requests). */
export const DEFAULT_PROMPTS: readonly string[] = [
  'The quick brown fox',
  'WebGPU inference profiling',
  'Once upon a time,',
  'Hello, world! Tell me about',
];
export const DEFAULT_REQUESTS = 4;
export const DEFAULT_RUN_MAX_TOKENS = 16;

const help = `usage: wgprof run [options]

Runs wgprof's inference engine (continuous batching, chunked prefill, one KV-cache slot per request)
on WebGPU: N requests cycling through the prompts, all submitted at once. Prints each request's
generated text and a summary: tokens/s, time to first token (TTFT) and per-token latency.
The models have seeded random weights: the text is noise, the work is real.

options:
  --model NAME              ${presetNames.join(' | ')} (default tiny)
  --prompt TEXT             a prompt; repeat for several
  --prompts-file FILE       prompts, one per line (empty lines skipped)
  --requests N              requests to run, cycling through the prompts
                            (default: one per given prompt, else ${DEFAULT_REQUESTS} over built-in prompts)
  --max-tokens N            tokens to generate per request (default ${DEFAULT_RUN_MAX_TOKENS})
  --temperature X           sampling temperature, 0 = greedy (default 1)
  --top-k N                 sample among the k most likely tokens; 0 = all (default 0)
  --stop TEXT               stop a request when its text contains TEXT; repeatable
  --seed N                  seeds the weights and every request's sampling (default 0)
  --max-batch-tokens N      token budget of one engine iteration (default 128)
  --max-slots N             requests decoding at once = KV-cache slots (default 4)
  --backend NAME            auto (default), vulkan, or null (Dawn's null backend: no GPU work)
  --json                    print one JSON object (requests, summary, adapter) on stdout
  --quiet                   print only the summary (no progress, no per-request text)
  --profiler-config JSON    profile the run; vLLM's ProfilerConfig as JSON, e.g.
                            '{"profiler": "torch", "torch_profiler_dir": "./traces"}'
  --profiler-config.KEY=V   set one profiler config field (vLLM's dotted form)

Progress (steps, tokens, tokens/s) goes to stderr: a live bar on a terminal, else a line every 5 s.
exit status: 0 on success, 1 when the run failed (no device, a failed request), 2 on bad usage.`;

export interface RunOptions {
  model: PresetName;
  prompts: string[];
  requests: number;
  maxTokens: number;
  temperature: number;
  topK: number;
  stop: string[];
  seed: number;
  maxBatchTokens: number | undefined;
  maxSlots: number | undefined;
  backend: GpuBackend;
  json: boolean;
  quiet: boolean;
  profilerConfig: ProfilerConfig | undefined;
}

/** A command-line mistake: printed with the command name, exit status 2. */
export class UsageError extends WgprofError {
  constructor(message: string) {
    super('USAGE', message);
    this.name = 'UsageError';
    // Printed as `wgprof run: <message>`: the code adds nothing for a command-line mistake.
    this.message = message;
  }
}

const VALUE_FLAGS = [
  '--model',
  '--prompt',
  '--prompts-file',
  '--requests',
  '--max-tokens',
  '--temperature',
  '--top-k',
  '--stop',
  '--seed',
  '--max-batch-tokens',
  '--max-slots',
  '--backend',
] as const;
const BOOLEAN_FLAGS = ['--json', '--quiet'] as const;
const ALL_FLAGS: readonly string[] = [...VALUE_FLAGS, ...BOOLEAN_FLAGS, '--profiler-config', '--help'];

function integerFlag(flag: string, text: string, min: number, what: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${flag} must be an integer ≥ ${min} (${what}); got ${JSON.stringify(text)}.`);
  }
  return value;
}

function unknownOption(arg: string): UsageError {
  const name = arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg;
  const close = ALL_FLAGS.map((f) => [f, editDistance(name, f)] as const).sort((a, b) => a[1] - b[1])[0];
  const hint = close && close[1] <= 3 ? ` Did you mean ${close[0]}?` : '';
  return new UsageError(`unknown option ${JSON.stringify(arg)}.${hint} Valid options: ${ALL_FLAGS.join(', ')} (see wgprof run --help).`);
}

/**
 * Parses `wgprof run` arguments (`--flag value` or `--flag=value`). Prompts from --prompts-file are
 * read by `loadPrompts`; here the file name is kept. Throws UsageError (and the profiler config's
 * ProfilerConfigError) naming the flag, the value given and what is valid.
 */
export function parseRunArgs(argv: readonly string[]): RunOptions & { promptsFile: string | undefined } {
  const { config: profilerConfig, rest } = profilerConfigFromArgs(argv);
  const options: RunOptions & { promptsFile: string | undefined } = {
    model: 'tiny',
    prompts: [],
    requests: 0,
    maxTokens: DEFAULT_RUN_MAX_TOKENS,
    temperature: 1,
    topK: 0,
    stop: [],
    seed: 0,
    maxBatchTokens: undefined,
    maxSlots: undefined,
    backend: 'auto',
    json: false,
    quiet: false,
    profilerConfig,
    promptsFile: undefined,
  };
  let requests: number | undefined;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    if ((BOOLEAN_FLAGS as readonly string[]).includes(arg)) {
      if (arg === '--json') options.json = true;
      else options.quiet = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (!(VALUE_FLAGS as readonly string[]).includes(flag)) throw unknownOption(arg);
    let value: string;
    if (eq > 0 && arg.startsWith('--')) value = arg.slice(eq + 1);
    else {
      const next = rest[++i];
      if (next === undefined) throw new UsageError(`${flag} needs a value (e.g. ${flag}${flagExample(flag)}).`);
      value = next;
    }
    switch (flag as (typeof VALUE_FLAGS)[number]) {
      case '--model':
        if (!(presetNames as readonly string[]).includes(value)) {
          throw new UsageError(`--model must be one of ${presetNames.join(', ')}; got ${JSON.stringify(value)}.`);
        }
        options.model = value as PresetName;
        break;
      case '--prompt':
        if (value === '') throw new UsageError('--prompt must not be empty.');
        options.prompts.push(value);
        break;
      case '--prompts-file':
        options.promptsFile = value;
        break;
      case '--requests':
        requests = integerFlag('--requests', value, 1, 'how many requests to run');
        break;
      case '--max-tokens':
        options.maxTokens = integerFlag('--max-tokens', value, 1, 'tokens to generate per request');
        break;
      case '--temperature': {
        const t = Number(value);
        if (value.trim() === '' || !Number.isFinite(t) || t < 0) throw new UsageError(`--temperature must be a number ≥ 0 (0 = greedy); got ${JSON.stringify(value)}.`);
        options.temperature = t;
        break;
      }
      case '--top-k':
        options.topK = integerFlag('--top-k', value, -1, '0 or -1 = no limit');
        break;
      case '--stop':
        if (value === '') throw new UsageError('--stop must not be empty.');
        options.stop.push(value);
        break;
      case '--seed': {
        const s = Number(value);
        if (value.trim() === '' || !Number.isSafeInteger(s)) throw new UsageError(`--seed must be an integer; got ${JSON.stringify(value)}.`);
        options.seed = s;
        break;
      }
      case '--max-batch-tokens':
        options.maxBatchTokens = integerFlag('--max-batch-tokens', value, 1, 'tokens per engine iteration');
        break;
      case '--max-slots':
        options.maxSlots = integerFlag('--max-slots', value, 1, 'requests decoding at once');
        break;
      case '--backend':
        if (value !== 'auto' && value !== 'vulkan' && value !== 'null') {
          throw new UsageError(`--backend must be auto, vulkan or null; got ${JSON.stringify(value)}.`);
        }
        options.backend = value;
        break;
    }
  }
  if (requests !== undefined) options.requests = requests;
  return options;
}

function flagExample(flag: string): string {
  const examples: Record<string, string> = {
    '--model': ' tiny',
    '--prompt': ' "Hello"',
    '--prompts-file': ' prompts.txt',
    '--backend': ' auto',
    '--temperature': ' 0.8',
    '--stop': ' "."',
  };
  return examples[flag] ?? ' 16';
}

/** The final prompt list: --prompt values, then the file's lines; the built-in prompts when neither is given. */
export async function loadPrompts(options: { prompts: string[]; promptsFile: string | undefined }): Promise<string[]> {
  const prompts = [...options.prompts];
  if (options.promptsFile !== undefined) {
    let text: string;
    try {
      text = await readFile(options.promptsFile, 'utf8');
    } catch (error) {
      throw new UsageError(`--prompts-file ${JSON.stringify(options.promptsFile)} cannot be read: ${errorMessage(error)}.`);
    }
    const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
    if (lines.length === 0) throw new UsageError(`--prompts-file ${JSON.stringify(options.promptsFile)} has no prompts (one per line; empty lines are skipped).`);
    prompts.push(...lines);
  }
  return prompts.length > 0 ? prompts : [...DEFAULT_PROMPTS];
}

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export interface RunSummary {
  model: string;
  requests: number;
  promptTokens: number;
  generatedTokens: number;
  steps: number;
  /** Engine creation: device, weights, pipelines. */
  initMs: number;
  /** First request added → last request finished. */
  wallMs: number;
  /** Generated tokens / wallMs. */
  tokensPerSecond: number;
  ttftP50Ms: number;
  ttftP90Ms: number;
  /** Median gap between consecutive tokens over all requests. */
  interTokenP50Ms: number;
  traceFiles: string[];
}

/** Writes the progress line to stderr: a live bar on a terminal, a plain line every few seconds elsewhere. */
class Progress {
  private lastMs = 0;
  private readonly tty: boolean;
  private readonly intervalMs: number;
  private shown = false;

  constructor(
    private readonly totalTokens: number,
    enabled: boolean,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = enabled && Boolean(out.isTTY);
    this.intervalMs = !enabled ? Number.POSITIVE_INFINITY : this.tty ? 100 : 5000;
  }

  /** `elapsedMs`: since the requests were submitted. */
  update(steps: number, tokens: number, elapsedMs: number): void {
    if (this.intervalMs === Number.POSITIVE_INFINITY) return;
    const nowMs = performance.now();
    if (nowMs - this.lastMs < this.intervalMs) return;
    this.lastMs = nowMs;
    const seconds = elapsedMs / 1000;
    const rate = seconds > 0 ? tokens / seconds : 0;
    const fraction = this.totalTokens > 0 ? Math.min(1, tokens / this.totalTokens) : 0;
    const text = `step ${steps} | ${tokens}/${this.totalTokens} tokens | ${rate.toFixed(1)} tokens/s`;
    if (this.tty) {
      const width = 24;
      const filled = Math.round(fraction * width);
      this.out.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K`);
      this.shown = true;
    } else {
      this.out.write(`wgprof run: ${text}\n`);
    }
  }

  done(): void {
    if (this.tty && this.shown) this.out.write('\r\x1b[K');
  }
}

function adapterLine(engine: Engine): string {
  const f = engine.facts;
  if (!f) return 'a caller-provided device';
  const name = [f.vendor, f.architecture, f.description].filter(Boolean).join(' / ') || f.device || 'unknown adapter';
  return `${name} (${f.runtime}, backend ${f.backend})`;
}

function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

/** Runs the engine as the options say; the caller prints. Throws on setup errors; failed requests come back as errors. */
export async function runEngine(
  options: RunOptions,
  onProgress: (steps: number, generatedTokens: number, elapsedMs: number) => void = () => undefined,
): Promise<{ engine: Engine; results: (GenerateResult | Error)[]; summary: RunSummary }> {
  const initStart = performance.now();
  const engineOptions: EngineOptions = { model: options.model, seed: options.seed, backend: options.backend };
  if (options.maxBatchTokens !== undefined) engineOptions.maxBatchTokens = options.maxBatchTokens;
  if (options.maxSlots !== undefined) engineOptions.maxSlots = options.maxSlots;
  // The config was parsed once, with the arguments; the engine gets the profiler hooks made from it.
  if (options.profilerConfig) engineOptions.profiler = createProfiler(options.profilerConfig);
  const engine = await createEngine(engineOptions);
  const initMs = performance.now() - initStart;
  try {
    if (options.profilerConfig) engine.startProfile();
    const params: SamplingParams = { maxTokens: options.maxTokens, temperature: options.temperature, topK: options.topK };
    if (options.stop.length > 0) params.stop = options.stop;
    const count = options.requests > 0 ? options.requests : options.prompts.length;
    const startMs = performance.now();
    const handles = [];
    for (let i = 0; i < count; i++) {
      try {
        handles.push(engine.addRequest(options.prompts[i % options.prompts.length] as string, params));
      } catch (error) {
        // A prompt the model cannot take is a usage error (e.g. longer than the context).
        throw error instanceof WgprofError ? new UsageError(`request ${i} (prompt ${JSON.stringify(options.prompts[i % options.prompts.length])}): ${error.message}`) : error;
      }
    }
    const settled = handles.map((h) => h.result.then((r) => r, (e: unknown) => (e instanceof Error ? e : new Error(String(e)))));
    while (engine.hasUnfinishedRequests()) {
      await engine.step();
      onProgress(engine.stats.steps, engine.stats.generatedTokens, performance.now() - startMs);
    }
    const results = await Promise.all(settled);
    const wallMs = performance.now() - startMs;
    const traceFiles = options.profilerConfig ? await engine.stopProfile() : [];
    const ok = results.filter((r): r is GenerateResult => !(r instanceof Error));
    const ttfts = ok.map((r) => r.timings.ttftMs).filter((t): t is number => t !== null);
    const gaps = ok.flatMap((r) => r.timings.interTokenLatenciesMs);
    const summary: RunSummary = {
      model: options.model,
      requests: results.length,
      promptTokens: engine.stats.promptTokens,
      generatedTokens: engine.stats.generatedTokens,
      steps: engine.stats.steps,
      initMs,
      wallMs,
      tokensPerSecond: wallMs > 0 ? engine.stats.generatedTokens / (wallMs / 1000) : 0,
      ttftP50Ms: percentile(ttfts, 50),
      ttftP90Ms: percentile(ttfts, 90),
      interTokenP50Ms: percentile(gaps, 50),
      traceFiles,
    };
    return { engine, results, summary };
  } catch (error) {
    await engine.destroy();
    throw error;
  }
}

function formatSummary(engine: Engine, s: RunSummary): string {
  const c = engine.config;
  const lines = [
    'summary',
    `  model              ${c.name} (d=${c.dModel}, ${c.nLayers} layers, ${c.nHeads} heads, context ${c.contextLength}, vocab ${c.vocabSize}; ${engine.maxSlots} slots, ${engine.maxBatchTokens} tokens/iteration)`,
    `  device             ${adapterLine(engine)}`,
    `  requests           ${s.requests}`,
    `  prompt tokens      ${s.promptTokens}`,
    `  generated tokens   ${s.generatedTokens}`,
    `  steps              ${s.steps}`,
    `  wall time          ${formatMs(s.wallMs)} (engine start ${formatMs(s.initMs)}, not included)`,
    `  throughput         ${s.tokensPerSecond.toFixed(1)} generated tokens/s`,
    `  TTFT               p50 ${formatMs(s.ttftP50Ms)}, p90 ${formatMs(s.ttftP90Ms)}`,
    `  per-token latency  p50 ${formatMs(s.interTokenP50Ms)}`,
  ];
  for (const file of s.traceFiles) lines.push(`  trace              ${file}`);
  return lines.join('\n');
}

function resultJson(r: GenerateResult | Error, index: number): Record<string, unknown> {
  if (r instanceof Error) return { index, error: r.message };
  return {
    index,
    requestId: r.requestId,
    prompt: r.prompt,
    text: r.text,
    tokenIds: r.tokenIds,
    finishReason: r.finishReason,
    ...(r.stopReason !== undefined ? { stopReason: r.stopReason } : {}),
    promptTokens: r.promptTokenIds.length,
    seed: r.seed,
    timings: r.timings,
  };
}

export const command: Command = {
  summary: 'run the inference engine (optionally profiled)',
  help,
  async main(argv) {
    let options: RunOptions;
    try {
      const parsed = parseRunArgs(argv);
      options = { ...parsed, prompts: await loadPrompts(parsed) };
    } catch (error) {
      process.stderr.write(`wgprof run: ${errorMessage(error)}\n`);
      return 2;
    }
    const expected = (options.requests > 0 ? options.requests : options.prompts.length) * options.maxTokens;
    const progress = new Progress(expected, !options.quiet);
    let run;
    try {
      run = await runEngine(options, (steps, tokens, elapsedMs) => progress.update(steps, tokens, elapsedMs));
    } catch (error) {
      progress.done();
      process.stderr.write(`wgprof run: ${errorMessage(error)}\n`);
      return error instanceof UsageError ? 2 : 1;
    }
    progress.done();
    const { engine, results, summary } = run;
    try {
      const failed = results.filter((r): r is Error => r instanceof Error);
      if (options.json) {
        const report = {
          model: engine.config,
          adapter: engine.facts ?? null,
          options: { ...options, profilerConfig: options.profilerConfig ?? null },
          requests: results.map(resultJson),
          summary,
        };
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      } else {
        if (!options.quiet) {
          for (const [i, r] of results.entries()) {
            if (r instanceof Error) {
              process.stdout.write(`request ${i}: FAILED: ${r.message}\n`);
              continue;
            }
            const reason = r.finishReason === 'stop' ? `stop at ${JSON.stringify(r.stopReason)}` : r.finishReason;
            // JSON.stringify escapes control bytes: random-weight models emit them, and they must not drive the terminal.
            process.stdout.write(`request ${i} (${r.tokenIds.length} tokens, ${reason}): ${JSON.stringify(r.prompt)} → ${JSON.stringify(r.text)}\n`);
          }
          process.stdout.write('\n');
        }
        process.stdout.write(formatSummary(engine, summary) + '\n');
      }
      if (failed.length > 0) {
        process.stderr.write(`wgprof run: ${failed.length} of ${results.length} requests failed; first error: ${failed[0]?.message}\n`);
        return 1;
      }
      return 0;
    } finally {
      await engine.destroy();
    }
  },
};
