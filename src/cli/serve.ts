// `wgprof serve`: the engine behind an OpenAI-style HTTP API, with vLLM's /start_profile and
// /stop_profile when --profiler-config names a profiler (src/server). Runs until SIGINT/SIGTERM:
// the first signal lets in-flight requests finish, stops and writes an active profile, then exits 0;
// a second one exits at once.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { profilerConfigFromArgs } from '../config/index.js';
import { presetNames, type PresetName } from '../engine/presets.js';
import type { GpuBackend } from '../gpu/device.js';
import { DEFAULT_HOST, DEFAULT_PORT, startServer, type ServeOptions } from '../server/server.js';
import { DEFAULT_MAX_BODY_BYTES } from '../server/http.js';
import { errorMessage } from '../util/errors.js';
import type { Command } from './main.js';
import { UsageError } from './run.js';

const help = `usage: wgprof serve [options]

Serves wgprof's inference engine (continuous batching) over HTTP, as \`vllm serve\` does:
  POST /v1/completions   OpenAI completions: prompt, max_tokens, temperature, top_k, seed, stop,
                         stream (server-sent events), stream_options.include_usage
  GET  /health           200 when serving; 503 while shutting down or when the engine is dead
  GET  /metrics          Prometheus metrics: requests, tokens, step time, queue depth, profiler state
  GET  /v1/models        the served model
  POST /start_profile    start the profiler  } only with --profiler-config naming a profiler
  POST /stop_profile     stop it; answers once the trace files are written, with their names

options:
  --model NAME              ${presetNames.join(' | ')} (default tiny)
  --served-model-name NAME  the name clients send as "model" (default: the model's)
  --host HOST               interface to bind (default ${DEFAULT_HOST}; 0.0.0.0 or :: for all)
  --port N                  port (default ${DEFAULT_PORT}; 0 = any free port); the bound address is
                            printed on stdout as "wgprof serve: listening on URL"
  --api-key KEY             require "Authorization: Bearer KEY" on every route but /health
                            (default: $WGPROF_API_KEY when set)
  --seed N                  seeds the weights and requests that name no seed (default 0)
  --max-slots N             requests decoding at once = KV-cache slots (default 4)
  --max-batch-tokens N      token budget of one engine iteration (default 128)
  --backend NAME            auto (default), vulkan, or null (Dawn's null backend: no GPU work)
  --max-body-bytes N        largest request body accepted (default ${DEFAULT_MAX_BODY_BYTES})
  --trace-fallback-dir DIR  where traces that could not be uploaded (http(s)://, s3://, gs://
                            torch_profiler_dir) are kept (default $WGPROF_TRACE_FALLBACK_DIR, else
                            {tmp}/wgprof-unsent-traces)
  --upload-attempts N       tries per uploaded file, with exponential backoff (default 4)
  --profiler-config JSON    vLLM's ProfilerConfig, e.g.
                            '{"profiler": "torch", "torch_profiler_dir": "./traces"}'
  --profiler-config.KEY=V   set one profiler config field (vLLM's dotted form)

SIGINT/SIGTERM: in-flight requests finish, an active profile is stopped and written, then exit 0
(1 when the profile could not be written); a second signal exits at once.
exit status: 0 after a clean shutdown, 1 when the server could not start or the last profile
could not be written, 2 on bad usage.`;

/** An integer option's value, or a UsageError naming the flag, the value and the range. */
export function integerOption(flag: string, text: string | undefined, min: number, what: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${flag} must be an integer ≥ ${min} (${what}); got ${JSON.stringify(text)}.`);
  }
  return value;
}

/** node:util parseArgs, with its errors as UsageErrors that name the command. */
type CommandOptions = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<const O extends CommandOptions>(command: string, args: string[], options: O): ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>> {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError(`${errorMessage(error).replace(/^TypeError \[[A-Z_]+\]: /, '')} (see wgprof ${command} --help).`);
  }
}

/** Parses `wgprof serve` arguments; throws UsageError (and ProfilerConfigError) naming the flag. */
export function parseServeArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ServeOptions {
  const { config, rest } = profilerConfigFromArgs(argv);
  const { values: v } = parseCommandArgs('serve', rest, {
    model: { type: 'string' },
    'served-model-name': { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    'api-key': { type: 'string' },
    seed: { type: 'string' },
    'max-slots': { type: 'string' },
    'max-batch-tokens': { type: 'string' },
    backend: { type: 'string' },
    'max-body-bytes': { type: 'string' },
    'trace-fallback-dir': { type: 'string' },
    'upload-attempts': { type: 'string' },
  });
  const options: ServeOptions = {};
  if (v.model !== undefined) {
    if (!(presetNames as readonly string[]).includes(v.model)) throw new UsageError(`--model must be one of ${presetNames.join(', ')}; got ${JSON.stringify(v.model)}.`);
    options.model = v.model as PresetName;
  }
  if (v['served-model-name'] !== undefined) {
    if (v['served-model-name'] === '') throw new UsageError('--served-model-name must not be empty.');
    options.servedModelName = v['served-model-name'];
  }
  if (v.host !== undefined) {
    if (v.host === '') throw new UsageError('--host must not be empty (e.g. 127.0.0.1, ::1, 0.0.0.0).');
    options.host = v.host;
  }
  const port = integerOption('--port', v.port, 0, '0 = any free port');
  if (port !== undefined) {
    if (port > 65535) throw new UsageError(`--port must be at most 65535; got ${port}.`);
    options.port = port;
  }
  const apiKey = v['api-key'] ?? env['WGPROF_API_KEY'];
  if (apiKey !== undefined) {
    if (apiKey === '') throw new UsageError('--api-key must not be empty (omit it to serve without a key).');
    options.apiKey = apiKey;
  }
  const seed = v.seed === undefined ? undefined : Number(v.seed);
  if (seed !== undefined) {
    if (!/^-?\d+$/.test(v.seed!.trim()) || !Number.isSafeInteger(seed)) throw new UsageError(`--seed must be an integer; got ${JSON.stringify(v.seed)}.`);
    options.seed = seed;
  }
  const maxSlots = integerOption('--max-slots', v['max-slots'], 1, 'requests decoding at once');
  if (maxSlots !== undefined) options.maxSlots = maxSlots;
  const maxBatchTokens = integerOption('--max-batch-tokens', v['max-batch-tokens'], 1, 'tokens per engine iteration');
  if (maxBatchTokens !== undefined) options.maxBatchTokens = maxBatchTokens;
  if (v.backend !== undefined) {
    if (v.backend !== 'auto' && v.backend !== 'vulkan' && v.backend !== 'null') throw new UsageError(`--backend must be auto, vulkan or null; got ${JSON.stringify(v.backend)}.`);
    options.backend = v.backend as GpuBackend;
  }
  const maxBody = integerOption('--max-body-bytes', v['max-body-bytes'], 1, 'bytes');
  if (maxBody !== undefined) options.maxBodyBytes = maxBody;
  const attempts = integerOption('--upload-attempts', v['upload-attempts'], 1, 'tries per uploaded trace file');
  const fallbackDir = v['trace-fallback-dir'];
  if (fallbackDir === '') throw new UsageError('--trace-fallback-dir must not be empty.');
  if (attempts !== undefined || fallbackDir !== undefined) {
    options.traceSink = {
      ...(fallbackDir !== undefined ? { fallbackDir } : {}),
      ...(attempts !== undefined ? { retry: { attempts } } : {}),
    };
  }
  if (config) options.profilerConfig = config;
  return options;
}

const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export const command: Command = {
  summary: 'serve the engine over HTTP (OpenAI completions, /start_profile, /stop_profile, /metrics)',
  help,
  async main(argv) {
    let options: ServeOptions;
    try {
      options = parseServeArgs(argv);
    } catch (error) {
      process.stderr.write(`wgprof serve: ${errorMessage(error)}\n`);
      return 2;
    }
    let server;
    try {
      server = await startServer(options);
    } catch (error) {
      process.stderr.write(`wgprof serve: ${errorMessage(error)}\n`);
      return 1;
    }
    process.stdout.write(`wgprof serve: listening on ${server.url}\n`);
    const signal = await new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    // A second signal: out at once.
    for (const name of ['SIGINT', 'SIGTERM'] as const) process.once(name, () => process.exit(SIGNAL_EXIT[name]));
    process.stderr.write(
      `wgprof serve: ${signal}: finishing ${server.inFlight} request(s) in flight${server.profile?.active ? ' and writing the active profile' : ''}; send it again to exit at once.\n`,
    );
    const stopped = await server.close();
    for (const file of stopped?.files ?? []) process.stdout.write(`wgprof serve: trace ${file}\n`);
    for (const failure of stopped?.failures ?? []) process.stderr.write(`wgprof serve: ${failure.message}\n`);
    return stopped && stopped.failures.length > 0 ? 1 : 0;
  },
};
