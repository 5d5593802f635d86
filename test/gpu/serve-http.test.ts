// `wgprof serve` in process (startServer), on Dawn's null backend where GPU numbers do not matter:
// routes without a profiler are 404 as vLLM's; bad bodies are 400 and the server stays up; a client
// that goes away mid-stream aborts its request; delay/max windows; an http:// trace directory gets
// every file and a dead one leaves them in the fallback dir (/stop_profile says where); /metrics;
// graceful close; and `wgprof bench serve` against it, with --profile.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseBenchServeArgs, runBenchServe } from '../../src/cli/bench-serve.js';
import { parseProfilerConfig } from '../../src/config/index.js';
import { parseTraceBytes, parseTraceFile, validateTrace } from '../../src/report/index.js';
import { startServer, type ServeOptions, type WgprofServer } from '../../src/server/server.js';
import type { KinetoTrace } from '../../src/trace/index.js';
import { setLogSink } from '../../src/util/log.js';
import { metric, post, stream } from '../shared/serve-client.js';

const REGISTER = fileURLToPath(new URL('../../scripts/register.mjs', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

const roots: string[] = [];
const servers: WgprofServer[] = [];
const logged: string[] = [];
let restoreLog: () => void = () => {};
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wgprof-serve-http-'));
  roots.push(dir);
  return dir;
}
before(() => {
  restoreLog = setLogSink((level, message) => void logged.push(`${level}: ${message}`));
});
after(async () => {
  for (const server of servers) await server.close();
  restoreLog();
  for (const dir of roots) rmSync(dir, { recursive: true, force: true });
});

async function serve(options: ServeOptions = {}): Promise<WgprofServer> {
  const server = await startServer({ model: 'tiny', backend: 'null', port: 0, ...options });
  servers.push(server);
  return server;
}

const torch = (dir: string, extra: Record<string, unknown> = {}) => parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: dir, ...extra });
const steps = (trace: KinetoTrace): string[] =>
  trace.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'user_annotation' && e.name.startsWith('ProfilerStep#')).map((e) => e.name);
const load = (url: string, n: number, maxTokens = 6): Promise<unknown> =>
  Promise.all(
    Array.from({ length: n }, (_, i) =>
      i % 2
        ? stream(url, { prompt: `p${i}`, max_tokens: maxTokens, seed: i })
        : post(`${url}/v1/completions`, { prompt: `p${i}`, max_tokens: maxTokens, seed: i }),
    ),
  );

describe('wgprof serve in process (null backend)', { timeout: 300_000 }, () => {
  it('without a profiler /start_profile and /stop_profile are 404 (as vLLM), and nothing warns', async () => {
    logged.length = 0;
    const server = await serve();
    for (const path of ['/start_profile', '/stop_profile']) {
      const response = await fetch(`${server.url}${path}`, { method: 'POST' });
      assert.equal(response.status, 404, path);
      assert.deepEqual(await response.json(), { detail: 'Not Found' });
    }
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.doesNotMatch(metrics, /^wgprof_profiler_active /m);
    assert.ok(!logged.some((l) => /Profiler with mode/.test(l)));
    assert.equal(server.profile, undefined);
  });

  it("with a profiler the routes exist and vLLM's development warning is logged", async () => {
    logged.length = 0;
    const server = await serve({ profilerConfig: torch(tempDir()) });
    assert.ok(
      logged.includes("warn: Profiler with mode 'torch' is enabled in the API server. This should ONLY be used for local development!"),
      logged.join('\n'),
    );
    assert.equal((await post(`${server.url}/start_profile`, undefined)).status, 200);
    assert.deepEqual((await post(`${server.url}/start_profile`, undefined)).body, { status: 'already_active', profiler: 'torch' });
    assert.equal((await post(`${server.url}/stop_profile`, undefined)).status, 200);
    assert.equal((await fetch(`${server.url}/start_profile`)).status, 405, 'GET is not allowed');
  });

  it('bad JSON, wrong types, unknown models and oversize bodies are 4xx with the reason; the server stays up', async () => {
    const server = await serve({ maxBodyBytes: 4096 });
    const url = `${server.url}/v1/completions`;
    const cases: [string | Record<string, unknown>, number, string, RegExp][] = [
      ['{"prompt": "x",', 400, 'INVALID_JSON', /not valid JSON/],
      ['', 400, 'INVALID_JSON', /body is empty/],
      ['[1,2]', 400, 'INVALID_REQUEST', /must be a JSON object/],
      [{ prompt: 'x', max_tokens: 'ten' }, 400, 'INVALID_PARAMETER', /max_tokens must be an integer/],
      [{ prompt: 'x', stream: 1 }, 400, 'INVALID_PARAMETER', /stream must be true or false/],
      [{ prompt: 'x', model: 'gpt2' }, 404, 'MODEL_NOT_FOUND', /this server serves "tiny"/],
      [{ prompt: 'x'.repeat(200) }, 400, 'PROMPT_TOO_LONG', /the prompt is 200 tokens but the model's context is 128/],
      [{ prompt: [300] }, 400, 'INVALID_TOKEN_ID', /0\.\.255/],
      [{ prompt: 'x'.repeat(5000) }, 400, 'BODY_TOO_LARGE', /at most 4096/],
    ];
    for (const [body, status, code, message] of cases) {
      const answer = await post(url, body);
      const error = answer.body['error'] as { code: string; message: string; type: string };
      assert.equal(answer.status, status, `${JSON.stringify(body).slice(0, 60)}: ${JSON.stringify(answer.body)}`);
      assert.equal(error.code, code);
      assert.match(error.message, message);
      assert.equal(error.type, status === 404 ? 'not_found_error' : 'invalid_request_error');
    }
    // A chunked body over the limit (no content-length) is refused the same way.
    const chunked = await fetch(url, {
      method: 'POST',
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode('x'.repeat(1000)));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(chunked.status, 400);
    assert.match(((await chunked.json()) as { error: { message: string } }).error.message, /more than 4096/);
    assert.equal((await fetch(`${server.url}/nowhere`)).status, 404);
    assert.equal((await fetch(url)).status, 405);
    assert.deepEqual(await (await fetch(`${server.url}/health`)).json(), { status: 'ok' });
    const good = await post(url, { prompt: 'still up', max_tokens: 3 });
    assert.equal(good.status, 200);
    assert.equal(await metric(server.url, 'wgprof_requests_total{outcome="length"'), 1);
  });

  it('a client that goes away mid-stream aborts its request; the others carry on', async () => {
    // SwiftShader here: a 120-token request takes long enough that it is still generating when the client leaves.
    const server = await serve({ backend: 'auto' });
    const controller = new AbortController();
    const response = await fetch(`${server.url}/v1/completions`, {
      method: 'POST',
      body: JSON.stringify({ prompt: 'Hi', max_tokens: 120, stream: true }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    await reader.read().catch(() => undefined);
    const other = await post(`${server.url}/v1/completions`, { prompt: 'next', max_tokens: 4 });
    assert.equal(other.status, 200);
    for (let i = 0; i < 200 && (await metric(server.url, 'wgprof_requests_total{outcome="abort"').catch(() => 0)) === 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(await metric(server.url, 'wgprof_requests_total{outcome="abort"'), 1);
    assert.equal(server.engine.hasUnfinishedRequests(), false);
  });

  it('delay 2, max 3: /stop_profile returns the window written on its own, ProfilerStep#2..#4', async () => {
    const dir = tempDir();
    const server = await serve({ profilerConfig: torch(dir, { delay_iterations: 2, max_iterations: 3 }) });
    assert.equal((await post(`${server.url}/start_profile`, undefined)).status, 200);
    await load(server.url, 4, 8);
    assert.equal(await metric(server.url, 'wgprof_profiler_active'), 0, 'the window closed itself after 3 iterations');
    const stopped = await post(`${server.url}/stop_profile`, undefined);
    assert.equal(stopped.status, 200);
    const files = stopped.body['files'] as string[];
    const worker = files.find((f) => /-rank-0\.\d+\.pt\.trace\.json\.gz$/.test(f))!;
    const trace = await parseTraceFile(worker);
    assert.deepEqual(validateTrace(trace), []);
    assert.deepEqual(steps(trace), ['ProfilerStep#2', 'ProfilerStep#3', 'ProfilerStep#4']);
    assert.equal(await metric(server.url, 'wgprof_profiler_files_total{result="written"'), files.length);
  });

  it('/start_profile with {"delay_iterations": 2, "max_iterations": 1} bounds that session only; a bad body is a 400 naming the field', async () => {
    const dir = tempDir();
    const server = await serve({ profilerConfig: torch(dir, { ignore_frontend: true }) });
    const bad = await post(`${server.url}/start_profile`, { max_iterations: -1 });
    assert.equal(bad.status, 400);
    assert.deepEqual((bad.body['error'] as { code: string; param: string }).param, 'max_iterations');
    assert.equal((await post(`${server.url}/start_profile`, { delay: 2 })).status, 400, 'an unknown field');
    assert.equal(await metric(server.url, 'wgprof_profiler_active'), 0, 'nothing started');
    assert.equal((await post(`${server.url}/start_profile`, { delay_iterations: 2, max_iterations: 1 })).status, 200);
    await load(server.url, 2, 6);
    const first = await post(`${server.url}/stop_profile`, undefined);
    assert.equal(first.status, 200);
    const bounded = await parseTraceFile((first.body['files'] as string[]).find((f) => f.endsWith('.pt.trace.json.gz'))!);
    assert.deepEqual(steps(bounded), ['ProfilerStep#2']);
    // The next session, with no body, is the config's again (no delay, no limit).
    assert.equal((await post(`${server.url}/start_profile`, undefined)).status, 200);
    await load(server.url, 1, 3);
    const second = await post(`${server.url}/stop_profile`, undefined);
    const plain = await parseTraceFile((second.body['files'] as string[]).find((f) => f.endsWith('.pt.trace.json.gz'))!);
    assert.equal(steps(plain)[0], 'ProfilerStep#1');
    assert.ok(steps(plain).length >= 3);
  });

  it('an http:// torch_profiler_dir receives every file (PUT); /stop_profile lists their URLs', async () => {
    const received = new Map<string, Buffer>();
    const up: Server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        received.set(`${req.method} ${req.url}`, Buffer.concat(parts));
        res.writeHead(201).end();
      });
    });
    await new Promise<void>((resolve) => up.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(up.address() as AddressInfo).port}/traces`;
      const server = await serve({ profilerConfig: torch(base) });
      for (let round = 0; round < 2; round++) {
        assert.equal((await post(`${server.url}/start_profile`, undefined)).status, 200);
        await load(server.url, 3);
        const stopped = await post(`${server.url}/stop_profile`, undefined);
        assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
        const files = stopped.body['files'] as string[];
        assert.equal(files.length, 2, `worker and frontend traces (the key-averages table is skipped for URI dirs, as vLLM): ${files.join(', ')}`);
        for (const file of files) {
          assert.ok(file.startsWith(`${base}/`), file);
          const body = received.get(`PUT /traces/${basename(file)}`);
          assert.ok(body, `${file} was PUT; received: ${[...received.keys()].join(', ')}`);
          assert.deepEqual(validateTrace(parseTraceBytes(body)), []);
        }
      }
      assert.equal(received.size, 4);
    } finally {
      await new Promise((resolve) => up.close(resolve));
    }
  });

  it('a dead http:// endpoint: /stop_profile is 500 naming each file, the cause and the fallback copy; the server stays up', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const fallbackDir = tempDir();
    const server = await serve({ profilerConfig: torch(`http://127.0.0.1:${port}/t`), traceSink: { fallbackDir, retry: { attempts: 2, baseDelayMs: 1 } } });
    assert.equal((await post(`${server.url}/start_profile`, undefined)).status, 200);
    await load(server.url, 2);
    const stopped = await post(`${server.url}/stop_profile`, undefined);
    assert.equal(stopped.status, 500);
    const error = stopped.body['error'] as { code: string; message: string };
    assert.equal(error.code, 'PROFILE_WRITE_FAILED');
    assert.deepEqual(stopped.body['files'], []);
    const failures = stopped.body['failures'] as { file: string; code: string; message: string; fallback: string }[];
    assert.equal(failures.length, 2, JSON.stringify(failures));
    for (const failure of failures) {
      assert.equal(failure.code, 'TRACE_UPLOAD_FAILED');
      assert.match(failure.message, /\(2 tries\): PUT failed: connection refused/);
      assert.ok(failure.file.startsWith(`http://127.0.0.1:${port}/t/`), failure.file);
      assert.equal(failure.fallback, join(fallbackDir, basename(failure.file)));
      assert.ok(existsSync(failure.fallback));
      assert.deepEqual(validateTrace(parseTraceBytes(readFileSync(failure.fallback))), []);
    }
    assert.equal(await metric(server.url, 'wgprof_profiler_files_total{result="failed"'), 2);
    assert.equal((await post(`${server.url}/v1/completions`, { prompt: 'up', max_tokens: 2 })).status, 200);
  });

  it('close(): in-flight requests finish, the active profile is written, then the port closes', async () => {
    const dir = tempDir();
    const server = await startServer({ model: 'tiny', backend: 'null', port: 0, profilerConfig: torch(dir) });
    await post(`${server.url}/start_profile`, undefined);
    const inFlight = stream(server.url, { prompt: 'long', max_tokens: 60, stream_options: { include_usage: true } });
    // Wait until the request is inside the engine, then close.
    while (!server.engine.hasUnfinishedRequests()) await new Promise((r) => setTimeout(r, 1));
    const closing = server.close();
    const answer = await inFlight;
    assert.equal(answer.done, true);
    assert.equal(answer.usage?.completion_tokens, 60);
    const result = await closing;
    assert.ok(result && result.failures.length === 0);
    const worker = result.files.find((f) => /-rank-0\.\d+\.pt\.trace\.json\.gz$/.test(f))!;
    assert.ok(steps(await parseTraceFile(worker)).length >= 60);
    await assert.rejects(fetch(`${server.url}/health`), 'the port is closed');
    assert.equal(await server.close(), result, 'close() is idempotent');
  });

  it('binds 127.0.0.1 by default, ::1 when asked (URL in brackets); a taken port is a clear error', async () => {
    const v4 = await serve();
    assert.equal(v4.host, '127.0.0.1');
    const v6 = await serve({ host: '::1' });
    assert.equal(v6.url, `http://[::1]:${v6.port}`);
    assert.equal((await post(`${v6.url}/v1/completions`, { prompt: 'v6', max_tokens: 2 })).status, 200);
    await assert.rejects(startServer({ model: 'tiny', backend: 'null', port: v4.port }), (e: unknown) => {
      assert.match(String(e), /SERVE_LISTEN_FAILED: cannot listen on http:\/\/127\.0\.0\.1:\d+: .*EADDRINUSE.*Choose another --port \(0 = any free port\)/);
      return true;
    });
  });

  it('metrics: requests, tokens, step-time histogram, queue depth, profiler state in Prometheus text', async () => {
    const server = await serve({ profilerConfig: torch(tempDir()) });
    await load(server.url, 4, 5);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    for (const name of [
      'wgprof_requests_total',
      'wgprof_prompt_tokens_total',
      'wgprof_generation_tokens_total',
      'wgprof_step_duration_seconds',
      'wgprof_num_requests_running',
      'wgprof_num_requests_waiting',
      'wgprof_profiler_active',
      'wgprof_profiler_capturing',
      'wgprof_time_to_first_token_seconds',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    assert.equal(await metric(server.url, 'wgprof_generation_tokens_total'), 20);
    assert.equal(await metric(server.url, 'wgprof_requests_total{outcome="length"'), 4);
    assert.equal(await metric(server.url, 'wgprof_num_requests_waiting'), 0);
    assert.equal(await metric(server.url, 'wgprof_step_duration_seconds_count'), server.engine.stats.steps);
  });
});

describe('wgprof bench serve against it', { timeout: 300_000 }, () => {
  it('--profile: every request answered, tokens counted, latencies measured, the traces listed', async () => {
    const dir = tempDir();
    const server = await serve({ profilerConfig: torch(dir) });
    const options = parseBenchServeArgs(
      [
        '--base-url',
        server.url,
        '--num-prompts',
        '12',
        '--request-rate',
        '400',
        '--max-concurrency',
        '4',
        '--random-output-len',
        '5',
        '--profile',
        '--seed',
        '3',
      ],
      {},
    );
    const result = await runBenchServe(options);
    assert.equal(result.completed, 12);
    assert.equal(result.failed, 0);
    assert.equal(result.totalOutputTokens, 60);
    assert.equal(result.totalInputTokens, 12 * 32);
    assert.ok(Number.isFinite(result.ttftMs.percentiles['99']!) && result.ttftMs.percentiles['99']! > 0);
    assert.ok(result.e2elMs.percentiles['50']! >= result.ttftMs.percentiles['50']!);
    assert.equal(await metric(server.url, 'wgprof_requests_total{outcome="length"'), 13, 'one warm-up request and the twelve');
    const worker = result.profile!.files.find((f) => /-rank-0\.\d+\.pt\.trace\.json\.gz$/.test(f))!;
    assert.ok(worker.startsWith(dir));
    assert.ok(steps(await parseTraceFile(worker)).length > 0);
  });

  it('the command: --json on stdout; --profile against a server without a profiler exits 1 saying what to do; no server exits 1', async () => {
    const server = await serve();
    // Asynchronously: the server under test runs in this process's event loop.
    const run = (args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        execFile(
          process.execPath,
          ['--liftoff-only', '--import', REGISTER, MAIN, 'bench', 'serve', ...args],
          { encoding: 'utf8', timeout: 120_000 },
          (error, stdout, stderr) => resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
        );
      });
    const ok = await run(['--base-url', server.url, '--num-prompts', '3', '--random-output-len', '2', '--json']);
    assert.equal(ok.status, 0, ok.stderr);
    const json = JSON.parse(ok.stdout) as { completed: number; totalOutputTokens: number; profile: unknown };
    assert.deepEqual([json.completed, json.totalOutputTokens, json.profile], [3, 6, null]);
    const noProfiler = await run(['--base-url', server.url, '--num-prompts', '1', '--profile']);
    assert.equal(noProfiler.status, 1);
    assert.match(noProfiler.stderr, /has no \/start_profile \(404\): start it with a profiler, e\.g\. wgprof serve --profiler-config/);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const down = await run(['--port', String(port), '--num-prompts', '1']);
    assert.equal(down.status, 1);
    assert.match(down.stderr, /warm-up request to http:\/\/127\.0\.0\.1:\d+\/v1\/completions failed/);
    const bad = await run(['--request-rate', 'fast']);
    assert.equal(bad.status, 2);
  });
});
