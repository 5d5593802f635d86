// `wgprof serve`: the engine behind an OpenAI-style HTTP API, with vLLM's /start_profile and
// /stop_profile when --profiler-config names a profiler (src/server). Runs until SIGINT/SIGTERM:
// the first signal lets in-flight requests finish, stops and writes an active profile, then exits 0;
// a second one exits at once.

import { presetNames } from '../engine/presets.js';
import { DEFAULT_HOST, DEFAULT_PORT, startServer, type ServeOptions } from '../server/server.js';
import { DEFAULT_MAX_BODY_BYTES } from '../server/http.js';
import { errorMessage } from '../util/errors.js';
import { backendOption, choiceOption, intOption, launchNamesOption, parseCommandArgs } from './args.js';
import { UsageError, type Command } from './command.js';

const help = `usage: wgprof serve [options]

Serves wgprof's inference engine (continuous batching) over HTTP, as \`vllm serve\` does:
  POST /v1/completions   OpenAI completions: prompt, max_tokens, temperature, top_k, seed, stop,
                         stream (server-sent events), stream_options.include_usage
  GET  /health           200 when serving; 503 while shutting down or when the engine is dead
  GET  /metrics          Prometheus metrics: requests, tokens, step time, queue depth, profiler state
  GET  /v1/models        the served model
  POST /start_profile    start the profiler  } only with --profiler-config naming a profiler;
                         optional body {"delay_iterations": D, "max_iterations": M} for this session
  POST /stop_profile     stop it; answers once the trace files are written, with their names
                         (500 listing each file that could not be written)

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
  --launch-names NAMES      webgpu (default; $WGPROF_LAUNCH_NAMES when set) or cuda: launches named
                            cudaLaunchKernel / cudaMemcpyAsync for HTA's launch analyses

SIGINT/SIGTERM: in-flight requests finish, an active profile is stopped and written, then exit 0
(1 when the profile could not be written); a second signal exits at once.
exit status: 0 after a clean shutdown, 1 when the server could not start or the last profile
could not be written, 2 on bad usage.`;

/** Parses `wgprof serve` arguments; throws UsageError (and ProfilerConfigError) naming the flag. */
export function parseServeArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ServeOptions {
  const { values: v, profilerConfig: config } = parseCommandArgs(argv, {
    command: 'serve',
    profilerConfig: true,
    options: {
      model: { type: 'string', example: 'tiny' },
      'served-model-name': { type: 'string', example: 'gpt2' },
      host: { type: 'string', example: '127.0.0.1' },
      port: { type: 'string', example: '8000' },
      'api-key': { type: 'string', example: 'KEY' },
      seed: { type: 'string', example: '0' },
      'max-slots': { type: 'string', example: '4' },
      'max-batch-tokens': { type: 'string', example: '128' },
      backend: { type: 'string', example: 'auto' },
      'max-body-bytes': { type: 'string', example: String(DEFAULT_MAX_BODY_BYTES) },
      'trace-fallback-dir': { type: 'string', example: './unsent' },
      'upload-attempts': { type: 'string', example: '4' },
      'launch-names': { type: 'string', example: 'cuda' },
    },
  });
  const options: ServeOptions = {};
  if (v.model !== undefined) options.model = choiceOption('--model', v.model, presetNames);
  if (v['served-model-name'] !== undefined) {
    if (v['served-model-name'] === '') throw new UsageError('--served-model-name must not be empty.');
    options.servedModelName = v['served-model-name'];
  }
  if (v.host !== undefined) {
    if (v.host === '') throw new UsageError('--host must not be empty (e.g. 127.0.0.1, ::1, 0.0.0.0).');
    options.host = v.host;
  }
  if (v.port !== undefined) options.port = intOption('--port', v.port, { min: 0, max: 65535, what: '0 = any free port' });
  const apiKey = v['api-key'] ?? env['WGPROF_API_KEY'];
  if (apiKey !== undefined) {
    if (apiKey === '') throw new UsageError('--api-key must not be empty (omit it to serve without a key).');
    options.apiKey = apiKey;
  }
  if (v.seed !== undefined) options.seed = intOption('--seed', v.seed, { min: Number.MIN_SAFE_INTEGER, what: 'seed' });
  if (v['max-slots'] !== undefined) options.maxSlots = intOption('--max-slots', v['max-slots'], { min: 1, what: 'requests decoding at once' });
  if (v['max-batch-tokens'] !== undefined)
    options.maxBatchTokens = intOption('--max-batch-tokens', v['max-batch-tokens'], { min: 1, what: 'tokens per engine iteration' });
  if (v.backend !== undefined) options.backend = backendOption(v.backend);
  if (v['max-body-bytes'] !== undefined) options.maxBodyBytes = intOption('--max-body-bytes', v['max-body-bytes'], { min: 1, what: 'bytes' });
  const attempts =
    v['upload-attempts'] === undefined ? undefined : intOption('--upload-attempts', v['upload-attempts'], { min: 1, what: 'tries per uploaded trace file' });
  const fallbackDir = v['trace-fallback-dir'];
  if (fallbackDir === '') throw new UsageError('--trace-fallback-dir must not be empty.');
  if (attempts !== undefined || fallbackDir !== undefined) {
    options.traceSink = {
      ...(fallbackDir !== undefined ? { fallbackDir } : {}),
      ...(attempts !== undefined ? { retry: { attempts } } : {}),
    };
  }
  if (config) options.profilerConfig = config;
  const launchNames = launchNamesOption(v['launch-names'], config?.profiler, env);
  if (launchNames !== undefined) options.launchNames = launchNames;
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
      `wgprof serve: ${signal}: finishing ${server.inFlight} request(s) in flight${server.profile?.active ? ' and writing the active profile' : ''}; ` +
        `send it again to exit at once.\n`,
    );
    const stopped = await server.close();
    for (const file of stopped?.files ?? []) process.stdout.write(`wgprof serve: trace ${file}\n`);
    for (const failure of stopped?.failures ?? []) process.stderr.write(`wgprof serve: ${failure.message}\n`);
    return stopped && stopped.failures.length > 0 ? 1 : 0;
  },
};
