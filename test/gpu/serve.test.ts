// Issue 10's done-when, end to end: `wgprof serve` as a user starts it (a child process from the
// sources, tiny model on SwiftShader, a torch profiler config, an API key), driven with concurrent
// streamed and unstreamed completions; /start_profile, more load, /stop_profile gives valid traces
// whose ProfilerSteps are exactly the engine iterations between start and stop (max_iterations 0);
// every answer equals the same request run directly through an engine with the same seeds; a wrong
// key is 401; SIGTERM with a request in flight and a profile active lets the request finish, writes
// the profile and exits 0.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createEngine, type Engine } from '../../src/engine/engine.js';
import type { SamplingParams } from '../../src/engine/requests.js';
import { parseTraceFile, validateTrace } from '../../src/report/index.js';
import type { KinetoTrace } from '../../src/trace/index.js';
import { authHeaders, metric, post, spawnServe, stream, type ServeChild } from '../shared/serve-client.js';

const KEY = 'test-key-0123456789';
let dir: string;
let server: ServeChild;
let reference: Engine;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wgprof-serve-'));
  const config = { profiler: 'torch', torch_profiler_dir: join(dir, 'traces') };
  [server, reference] = await Promise.all([spawnServe(['--profiler-config', JSON.stringify(config), '--api-key', KEY]), createEngine({ model: 'tiny' })]);
});

after(async () => {
  if (server.child.exitCode === null) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
  await reference?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** An OpenAI body → the engine's params (the names the server maps). */
function paramsOf(body: Record<string, unknown>): SamplingParams {
  const p: SamplingParams = {};
  if (body['max_tokens'] !== undefined) p.maxTokens = body['max_tokens'] as number;
  if (body['temperature'] !== undefined) p.temperature = body['temperature'] as number;
  if (body['top_k'] !== undefined) p.topK = body['top_k'] as number;
  if (body['seed'] !== undefined) p.seed = body['seed'] as number;
  if (body['stop'] !== undefined) p.stop = body['stop'] as string[];
  return p;
}

interface Expected {
  text: string;
  finishReason: string;
  stopReason: string | null;
  tokens: number;
}

async function expected(prompt: string, body: Record<string, unknown>): Promise<Expected> {
  const r = await reference.generate(prompt, paramsOf(body));
  return { text: r.text, finishReason: r.finishReason, stopReason: r.stopReason ?? null, tokens: r.tokenIds.length };
}

/**
 * A mix of requests, half streamed, all with explicit seeds (so each answer is independent of how the
 * engine batched it): sampled, greedy, top-k, a stop string taken from the text the request would
 * otherwise produce (so it does stop there), and one request with two prompts.
 */
async function workload(seedBase: number): Promise<{ body: Record<string, unknown>; prompts: string[] }[]> {
  const probe = await reference.generate('Once upon a time,', { maxTokens: 12, temperature: 0.9, seed: seedBase + 3 });
  const stop = [...probe.text].slice(4, 6).join('');
  return [
    { prompts: ['The quick brown fox'], body: { max_tokens: 8, temperature: 0.8, top_k: 40, seed: seedBase } },
    { prompts: ['The quick brown fox'], body: { max_tokens: 8, temperature: 0.8, top_k: 40, seed: seedBase, stream: true } },
    { prompts: ['WebGPU inference profiling'], body: { max_tokens: 6, temperature: 0, seed: seedBase + 1 } },
    {
      prompts: ['WebGPU inference profiling'],
      body: { max_tokens: 10, temperature: 1, seed: seedBase + 2, stream: true, stream_options: { include_usage: true } },
    },
    { prompts: ['Once upon a time,'], body: { max_tokens: 12, temperature: 0.9, seed: seedBase + 3, stop: [stop] } },
    {
      prompts: ['Once upon a time,'],
      body: { max_tokens: 12, temperature: 0.9, seed: seedBase + 3, stop: [stop], stream: true, stream_options: { include_usage: true } },
    },
    { prompts: ['Hello, world!', 'Tell me about'], body: { max_tokens: 5, temperature: 0.7, seed: seedBase + 4 } },
  ];
}

/** Sends the workload concurrently and checks every answer against the reference engine. */
async function driveAndCheck(seedBase: number): Promise<void> {
  const jobs = await workload(seedBase);
  const answers = await Promise.all(
    jobs.map(async ({ body, prompts }) => {
      const full = { ...body, prompt: prompts.length === 1 ? prompts[0] : prompts, model: 'tiny' };
      return body['stream'] ? { streamed: await stream(server.url, full, KEY) } : { whole: await post(`${server.url}/v1/completions`, full, KEY) };
    }),
  );
  for (const [i, { body, prompts }] of jobs.entries()) {
    const want = await Promise.all(prompts.map((p) => expected(p, body)));
    const answer = answers[i]!;
    const label = `request ${i} ${JSON.stringify(body)}`;
    if (answer.streamed) {
      const s = answer.streamed;
      assert.equal(s.status, 200, label);
      assert.equal(s.done, true, `${label}: ends with [DONE]`);
      assert.equal(s.error, undefined, label);
      assert.equal(s.text[0], want[0]!.text, `${label}: streamed text`);
      assert.equal(s.finishReason[0], want[0]!.finishReason, label);
      assert.equal(s.stopReason[0], want[0]!.stopReason, label);
      if (body['stream_options']) assert.equal(s.usage?.completion_tokens, want[0]!.tokens, `${label}: usage`);
      else assert.equal(s.usage, undefined, `${label}: no usage chunk unless asked`);
    } else {
      const { status, body: response } = answer.whole!;
      assert.equal(status, 200, `${label}: ${JSON.stringify(response)}`);
      const choices = response['choices'] as { index: number; text: string; finish_reason: string; stop_reason: string | null }[];
      assert.equal(choices.length, prompts.length, label);
      for (const [k, choice] of choices.entries()) {
        assert.equal(choice.index, k);
        assert.equal(choice.text, want[k]!.text, `${label}: choice ${k} text`);
        assert.equal(choice.finish_reason, want[k]!.finishReason, label);
        assert.equal(choice.stop_reason, want[k]!.stopReason, label);
      }
      const usage = response['usage'] as { completion_tokens: number; prompt_tokens: number };
      assert.equal(
        usage.completion_tokens,
        want.reduce((n, w) => n + w.tokens, 0),
        `${label}: usage`,
      );
      assert.equal(response['object'], 'text_completion');
      assert.equal(response['model'], 'tiny');
    }
  }
  // The stop-string requests really stopped there (the workload is built so that they do).
  assert.equal((await expected('Once upon a time,', jobs[4]!.body)).finishReason, 'stop');
}

const profilerSteps = (trace: KinetoTrace): string[] =>
  trace.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'user_annotation' && e.name.startsWith('ProfilerStep#')).map((e) => e.name);

describe('wgprof serve (child process, tiny on SwiftShader, torch profiler, API key)', { timeout: 300_000 }, () => {
  it('answers concurrent streamed and unstreamed completions exactly as the engine does', async () => {
    await driveAndCheck(100);
  });

  it('/start_profile, more load, /stop_profile: valid traces whose ProfilerSteps are the iterations in between', async () => {
    const stepsBefore = await metric(server.url, 'wgprof_step_duration_seconds_count', KEY);
    const started = await post(`${server.url}/start_profile`, undefined, KEY);
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.equal(await metric(server.url, 'wgprof_profiler_active', KEY), 1);
    await driveAndCheck(200);
    const stepsAfter = await metric(server.url, 'wgprof_step_duration_seconds_count', KEY);
    const stopped = await post(`${server.url}/stop_profile`, undefined, KEY);
    assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
    assert.equal(await metric(server.url, 'wgprof_profiler_active', KEY), 0);
    const files = stopped.body['files'] as string[];
    assert.deepEqual(stopped.body['failures'], []);
    const worker = files.filter((f) => /-rank-0\.\d+\.pt\.trace\.json\.gz$/.test(f));
    const frontend = files.filter((f) => f.includes('.async_llm.'));
    assert.equal(worker.length, 1, files.join(', '));
    assert.equal(frontend.length, 1, files.join(', '));
    assert.ok(files.includes(worker[0]!.replace(/\.pt\.trace\.json\.gz$/, '.profiler_out.txt')), 'the table, named after its trace');
    const trace = await parseTraceFile(worker[0]!);
    assert.deepEqual(validateTrace(trace), []);
    assert.deepEqual(validateTrace(await parseTraceFile(frontend[0]!)), []);
    const iterations = stepsAfter - stepsBefore;
    assert.ok(iterations >= 5, `the load ran ${iterations} iterations`);
    assert.deepEqual(
      profilerSteps(trace),
      Array.from({ length: iterations }, (_, i) => `ProfilerStep#${i + 1}`),
    );
    assert.ok(
      trace.traceEvents.some((e) => e.cat === 'kernel'),
      'kernels with GPU time',
    );
  });

  it('needs the API key on every route but /health: missing or wrong → 401', async () => {
    const routes: [string, string][] = [
      ['POST', '/v1/completions'],
      ['GET', '/metrics'],
      ['POST', '/start_profile'],
      ['POST', '/stop_profile'],
      ['GET', '/v1/models'],
    ];
    for (const [method, path] of routes) {
      for (const headers of [{}, authHeaders('wrong-key'), authHeaders(`${KEY}x`), { authorization: KEY }]) {
        const response = await fetch(`${server.url}${path}`, {
          method,
          headers: { 'content-type': 'application/json', ...headers },
          ...(method === 'POST' ? { body: '{"prompt":"x"}' } : {}),
        });
        assert.equal(response.status, 401, `${method} ${path} with ${JSON.stringify(headers)}`);
        assert.equal(response.headers.get('www-authenticate'), 'Bearer');
        const body = (await response.json()) as { error: { code: string } };
        assert.equal(body.error.code, 'UNAUTHORIZED');
      }
    }
    assert.equal((await fetch(`${server.url}/health`)).status, 200);
    assert.equal((await fetch(`${server.url}/v1/models`, { headers: authHeaders(KEY) })).status, 200);
  });

  it('SIGTERM with a request in flight and a profile active: the request finishes, the profile is written, exit 0', async () => {
    assert.equal((await post(`${server.url}/start_profile`, undefined, KEY)).status, 200);
    const response = await fetch(`${server.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeaders(KEY) },
      body: JSON.stringify({ prompt: 'Hello', max_tokens: 100, temperature: 0, seed: 5, stream: true, stream_options: { include_usage: true } }),
    });
    const reader = response.body!.getReader();
    let raw = new TextDecoder().decode((await reader.read()).value);
    // The first token is out: the request is in flight now.
    server.child.kill('SIGTERM');
    for (let r = await reader.read(); !r.done; r = await reader.read()) raw += new TextDecoder().decode(r.value);
    assert.match(raw, /data: \[DONE\]\n\n$/);
    const usage = raw
      .split('\n\n')
      .map((e) => e.slice(6))
      .filter((d) => d.includes('"usage"'))
      .map((d) => JSON.parse(d) as { usage: { completion_tokens: number } });
    assert.equal(usage[0]?.usage.completion_tokens, 100, 'all 100 tokens were generated');
    assert.equal(await server.exited, 0, server.stderr());
    const traces = [...server.stdout().matchAll(/^wgprof serve: trace (.+)$/gm)].map((m) => m[1]!);
    const worker = traces.find((f) => /-rank-0\.\d+\.pt\.trace\.json\.gz$/.test(f));
    assert.ok(worker, `the shutdown wrote the worker trace; stdout:\n${server.stdout()}`);
    const trace = await parseTraceFile(worker);
    assert.deepEqual(validateTrace(trace), []);
    assert.ok(profilerSteps(trace).length >= 99, `the in-flight request's iterations were captured (${profilerSteps(trace).length})`);
    assert.match(server.stderr(), /SIGTERM: finishing 1 request\(s\) in flight and writing the active profile/);
  });
});
