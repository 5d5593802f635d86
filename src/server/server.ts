// `wgprof serve`: an OpenAI-style HTTP API over one continuous-batching engine, with vLLM's
// /start_profile and /stop_profile. Routes:
//   GET  /health            200 {"status":"ok"}; 503 while shutting down or once the engine is dead
//   GET  /metrics           Prometheus text (metrics.ts)
//   GET  /v1/models         the served model, in OpenAI's list shape
//   POST /v1/completions    prompt, max_tokens, temperature, top_k, seed, stop, stream (SSE)
//   POST /start_profile     only when --profiler-config names a profiler (else 404, as vLLM); an optional
//                           body {"delay_iterations", "max_iterations"} bounds this session only
//   POST /stop_profile      answers once the files are written (or uploaded), with their names; 500
//                           listing each file that could not be written
// With an API key every route but /health needs `Authorization: Bearer KEY` (401 otherwise).
// Every request's prompts go into the same engine, stepped by one loop (loop.ts): requests that
// arrive while others decode join the batch at the next iteration.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProfilerConfig } from '../config/index.js';
import { createEngine, type Engine, type EngineOptions, type RequestHandle } from '../engine/engine.js';
import type { PresetName } from '../engine/presets.js';
import type { GenerateResult } from '../engine/requests.js';
import { byteTokenizer } from '../engine/tokenizer.js';
import type { GpuBackend } from '../gpu/device.js';
import type { LaunchNames } from '../trace/launch-names.js';
import type { SinkForDirOptions } from '../trace/sinks.js';
import { WgprofError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { CompletionShape, parseCompletionRequest, usageOf, type CompletionRequest } from './completions.js';
import { DEFAULT_MAX_BODY_BYTES, HttpError, bearerChecker, errorBody, readJsonBody, sendError, sendJson } from './http.js';
import { EngineLoop } from './loop.js';
import { ServerMetrics } from './metrics.js';
import { ProfileControl, parseStartProfileBody, type StopProfileResult } from './profile.js';
import { StreamingTokenizer, TextStream } from './streaming.js';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8000;

/** vLLM's warning when the profiler routes are mounted (vllm/entrypoints/serve/profile/api_router.py). */
export function profilerRoutesWarning(mode: string): string {
  return `Profiler with mode '${mode}' is enabled in the API server. This should ONLY be used for local development!`;
}

export interface ServeOptions {
  /** A preset (default 'tiny'). */
  model?: PresetName;
  /** The name clients use in "model" (default: the preset name). */
  servedModelName?: string;
  seed?: number;
  backend?: GpuBackend;
  maxSlots?: number;
  maxBatchTokens?: number;
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 8000; 0 = any free port: read `port` / `url` after start). */
  port?: number;
  /** When set, every route but /health needs `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** A parsed vLLM ProfilerConfig; /start_profile and /stop_profile exist only when it names a profiler. */
  profilerConfig?: ProfilerConfig;
  /** How the traces name launches (default: $WGPROF_LAUNCH_NAMES, else 'webgpu'; see ProfilerOptions.launchNames). */
  launchNames?: LaunchNames;
  /** Largest request body accepted (default 1 MiB). */
  maxBodyBytes?: number;
  /** Remote trace directories: local fallback directory and retries. */
  traceSink?: SinkForDirOptions;
}

export interface WgprofServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly engine: Engine;
  readonly model: string;
  /** Present when the profiler routes are mounted. */
  readonly profile: ProfileControl | undefined;
  readonly metrics: ServerMetrics;
  /** Requests being answered now. */
  readonly inFlight: number;
  /**
   * Graceful shutdown: stops accepting connections, answers 503 to new requests, lets the requests in
   * flight finish, stops an active profile and writes it, then frees the engine. Resolves to the
   * last stop's files (undefined without a profiler). Idempotent.
   */
  close(): Promise<StopProfileResult | undefined>;
}

interface Pending {
  handle: RequestHandle;
  /** Rejects the request's answer when the engine loop failed around it. */
  fail(error: WgprofError): void;
}

/** An engine error about a request → the HTTP answer. */
function httpErrorOf(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof WgprofError) {
    const message = error.message.startsWith(`${error.code}: `) ? error.message.slice(error.code.length + 2) : error.message;
    if (['EMPTY_PROMPT', 'PROMPT_TOO_LONG', 'INVALID_TOKEN_ID', 'INVALID_PROMPT'].includes(error.code))
      return new HttpError(400, error.code, message, 'prompt');
    if (error.code === 'INVALID_SAMPLING_PARAMS') return new HttpError(400, error.code, message);
    if (error.code === 'ENGINE_DESTROYED' || error.code === 'DEVICE_LOST') return new HttpError(503, error.code, message);
    return new HttpError(500, error.code, message);
  }
  return new HttpError(500, 'INTERNAL_ERROR', errorMessage(error));
}

function formatUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export async function startServer(options: ServeOptions = {}): Promise<WgprofServer> {
  const model = options.model ?? 'tiny';
  const servedModel = options.servedModelName ?? model;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const checkKey = options.apiKey ? bearerChecker(options.apiKey) : undefined;
  const config = options.profilerConfig;
  const profile =
    config && config.profiler !== null
      ? new ProfileControl(config, {
          ...(options.traceSink ? { sink: options.traceSink } : {}),
          ...(options.launchNames ? { launchNames: options.launchNames } : {}),
          onFile: (ok) => metrics.profileFile(ok),
        })
      : undefined;

  const tokenizer = new StreamingTokenizer(byteTokenizer);
  const engineOptions: EngineOptions = { model, tokenizer };
  if (options.seed !== undefined) engineOptions.seed = options.seed;
  if (options.backend !== undefined) engineOptions.backend = options.backend;
  if (options.maxSlots !== undefined) engineOptions.maxSlots = options.maxSlots;
  if (options.maxBatchTokens !== undefined) engineOptions.maxBatchTokens = options.maxBatchTokens;
  if (profile) engineOptions.profiler = profile.profiler;
  const engine = await createEngine(engineOptions);

  const pending = new Set<Pending>();
  const responses = new Set<Promise<void>>();
  const metrics = new ServerMetrics(servedModel, {
    unfinished: () => engine.stats.requestsAdded - engine.stats.requestsFinished - engine.stats.requestsFailed,
    profiler: () => (profile ? { active: profile.active, capturing: profile.profiler.running } : undefined),
  });
  const loop = new EngineLoop(engine, {
    onStep: (report) => metrics.step(report),
    onError: (error) => {
      // The requests of the failed iteration may never settle inside the engine: answer them now.
      for (const p of [...pending]) p.fail(error);
    },
  });
  let draining = false;

  if (profile) log.warn(profilerRoutesWarning(profile.mode));

  async function completions(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (draining) throw new HttpError(503, 'SHUTTING_DOWN', 'the server is shutting down and takes no new requests.');
    if (loop.fatal) throw new HttpError(503, 'ENGINE_UNAVAILABLE', `the engine cannot run any more: ${loop.fatal.message}`);
    const request: CompletionRequest = parseCompletionRequest(await readJsonBody(req, maxBodyBytes), servedModel);
    const shape = new CompletionShape(servedModel);
    const mine: Pending[] = [];
    const answers: Promise<GenerateResult>[] = [];
    const streams: TextStream[] = [];
    const send = (text: string): void => {
      if (!res.destroyed && !res.writableEnded) res.write(text);
    };
    try {
      for (const [index, prompt] of request.prompts.entries()) {
        const stream = new TextStream(request.params.stop);
        const listener = request.stream
          ? (text: string): void => {
              const delta = stream.push(text);
              if (delta !== '') send(shape.chunk([shape.choice(index, delta, undefined)]));
            }
          : (): void => undefined;
        const { value: handle } = tokenizer.track(listener, () => engine.addRequest(prompt, request.params));
        let fail!: (error: WgprofError) => void;
        const failed = new Promise<never>((_, reject) => {
          fail = reject;
        });
        failed.catch(() => undefined);
        const entry: Pending = { handle, fail: (error) => (handle.abort(), fail(error)) };
        mine.push(entry);
        pending.add(entry);
        streams.push(stream);
        answers.push(Promise.race([handle.result, failed]));
      }
    } catch (error) {
      // All or nothing: a prompt the engine refuses cancels the ones of this request already queued.
      for (const entry of mine) {
        entry.handle.abort();
        pending.delete(entry);
      }
      throw httpErrorOf(error);
    }
    let answered = false;
    res.on('close', () => {
      // The client went away before its answer: stop generating for it.
      if (!answered) for (const entry of mine) entry.handle.abort();
    });
    if (request.stream) res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    loop.notify();
    const settled = await Promise.allSettled(answers);
    answered = true;
    for (const entry of mine) pending.delete(entry);
    const results: GenerateResult[] = [];
    let failure: HttpError | undefined;
    for (const s of settled) {
      if (s.status === 'fulfilled') {
        results.push(s.value);
        metrics.finished(s.value);
      } else {
        metrics.failed();
        failure ??= httpErrorOf(s.reason);
      }
    }
    if (!request.stream) {
      if (failure) sendError(res, failure);
      else sendJson(res, 200, shape.response(results));
      return;
    }
    if (failure) {
      send(`data: ${JSON.stringify(errorBody(failure))}\n\n`);
    } else {
      // The rest of each text (held back for stop strings, or all of it when the decoder was not
      // bound) and the finish reasons, in one last event per choice.
      for (const [index, result] of results.entries()) send(shape.chunk([shape.choice(index, streams[index]!.finish(result.text), result)]));
      if (request.includeUsage) send(shape.chunk([], usageOf(results)));
    }
    send('data: [DONE]\n\n');
    res.end();
  }

  async function startProfile(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const control = profile!;
    const options = parseStartProfileBody(await readJsonBody(req, maxBodyBytes, { optional: true }));
    let alreadyActive: boolean;
    try {
      ({ alreadyActive } = await control.start(engine, options));
    } catch (error) {
      throw new HttpError(500, error instanceof WgprofError ? error.code : 'PROFILER_START_FAILED', `starting the profiler failed: ${errorMessage(error)}`);
    }
    log.info(alreadyActive ? 'profiler: /start_profile while active: ignored (as vLLM).' : 'profiler: started.');
    sendJson(res, 200, { status: alreadyActive ? 'already_active' : 'started', profiler: control.mode });
  }

  async function stopProfile(res: ServerResponse): Promise<void> {
    const result = await profile!.stop(engine);
    log.info(`profiler: stopped; ${result.files.length} file(s) written${result.failures.length > 0 ? `, ${result.failures.length} failed` : ''}.`);
    if (result.failures.length === 0) {
      sendJson(res, 200, { status: 'stopped', files: result.files, failures: [] });
      return;
    }
    const first = result.failures[0]!;
    const error = new HttpError(500, 'PROFILE_WRITE_FAILED', `${result.failures.length} profiler file(s) could not be written; first: ${first.message}`);
    sendJson(res, 500, { ...errorBody(error), status: 'stopped', files: result.files, failures: result.failures });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const method = req.method ?? 'GET';
    if (path === '/health' && (method === 'GET' || method === 'HEAD')) {
      const down = draining ? 'shutting down' : loop.fatal ? loop.fatal.message : undefined;
      sendJson(res, down ? 503 : 200, down ? { status: 'unavailable', reason: down } : { status: 'ok' });
      return;
    }
    if (checkKey && !checkKey(req.headers.authorization)) {
      throw new HttpError(
        401,
        'UNAUTHORIZED',
        'a valid API key is required: send the header "Authorization: Bearer <key>" with the key given to wgprof serve --api-key.',
      );
    }
    const routes: Record<string, Record<string, () => Promise<void>>> = {
      '/metrics': { GET: async () => void res.writeHead(200, { 'content-type': metrics.contentType }).end(await metrics.text()) },
      '/v1/models': { GET: async () => sendJson(res, 200, { object: 'list', data: [{ id: servedModel, object: 'model', created: 0, owned_by: 'wgprof' }] }) },
      '/v1/completions': { POST: () => completions(req, res) },
    };
    // Mounted only with a profiler, as vLLM's profile router: otherwise these paths are 404.
    if (profile) {
      routes['/start_profile'] = { POST: () => startProfile(req, res) };
      routes['/stop_profile'] = { POST: () => stopProfile(res) };
    }
    const handlers = routes[path];
    if (!handlers) {
      sendJson(res, 404, { detail: 'Not Found' });
      return;
    }
    const handler = handlers[method];
    if (!handler) {
      res.setHeader('allow', Object.keys(handlers).join(', '));
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} ${path} is not supported; use ${Object.keys(handlers).join(' or ')}.`);
    }
    await handler();
  }

  const server: Server = createServer((req, res) => {
    const done = route(req, res).catch((error: unknown) => {
      const httpError = httpErrorOf(error);
      if (httpError.status >= 500) log.error(`${req.method} ${req.url}: ${httpError.message}`);
      else log.debug(`${req.method} ${req.url}: ${httpError.status} ${httpError.message}`);
      sendError(res, httpError);
    });
    responses.add(done);
    void done.finally(() => responses.delete(done));
  });
  // Headers and idle keep-alive sockets are bounded; a long streamed answer is not (no request timeout).
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;

  const host = options.host ?? DEFAULT_HOST;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? DEFAULT_PORT, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await loop.stop();
    await engine.destroy();
    const errno = (error as { code?: string }).code;
    const hint =
      errno === 'EADDRINUSE' ? ' Choose another --port (0 = any free port).' : errno === 'EADDRNOTAVAIL' ? ' --host must be an address of this machine.' : '';
    throw new WgprofError('SERVE_LISTEN_FAILED', `cannot listen on ${formatUrl(host, options.port ?? DEFAULT_PORT)}: ${errorMessage(error)}.${hint}`, {
      cause: error,
    });
  }
  const address = server.address() as AddressInfo;
  const url = formatUrl(address.address, address.port);
  log.info(`serving model "${servedModel}" on ${url}${profile ? ` (profiler '${profile.mode}': POST ${url}/start_profile, ${url}/stop_profile)` : ''}`);

  let closing: Promise<StopProfileResult | undefined> | undefined;
  const close = (): Promise<StopProfileResult | undefined> => {
    closing ??= (async () => {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // In-flight requests finish (their answers are sent), then the profile is stopped and written.
      await loop.whenIdle();
      while (responses.size > 0) await Promise.allSettled([...responses]);
      let stopped: StopProfileResult | undefined;
      if (profile) {
        stopped = await profile.stop(engine);
        for (const file of stopped.files) log.info(`profiler: ${file}`);
        for (const failure of stopped.failures) log.error(`profiler: ${failure.message}`);
      }
      await loop.stop();
      await engine.destroy();
      server.closeAllConnections();
      await closed;
      return stopped;
    })();
    return closing;
  };

  return {
    url,
    host: address.address,
    port: address.port,
    engine,
    model: servedModel,
    profile,
    metrics,
    get inFlight() {
      return responses.size;
    },
    close,
  };
}
