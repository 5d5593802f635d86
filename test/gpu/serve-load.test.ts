// Issue 10's load test: 64 concurrent streams against `wgprof serve` (tiny on SwiftShader, real
// timestamp queries) while /start_profile and /stop_profile toggle 20 times. Every trace is valid,
// every stream is answered in full, and the GPU objects come back to the idle count.
//
// Counting GPU objects honestly: before any device exists, the test wraps the native prototype
// methods that create and destroy them (GPUDevice.createBuffer / createQuerySet, GPUBuffer.destroy,
// GPUQuerySet.destroy; the classes come from a throwaway device). Every path goes through them: the
// engine's own calls, the instrumentation's own-property wrappers (they call the prototype), and its
// pools (created through the prototype). "Idle" is the count after the server's warm-up request,
// before any profile. While attached, the instrumentation keeps its query sets and readback buffers
// pooled for the next window (by design); so after the load the profiler is detached, which frees
// the pools, and the count must then be exactly the idle count: nothing created during 20 windows
// and 64 streams is left behind. The pooled objects are reported with t.diagnostic.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseProfilerConfig } from '../../src/config/index.js';
import { requestGpuDevice } from '../../src/gpu/device.js';
import { Instrumentation } from '../../src/instrument/instrumentation.js';
import { parseTraceFile, validateTrace } from '../../src/report/index.js';
import { startServer, type WgprofServer } from '../../src/server/server.js';
import { setLogSink } from '../../src/util/log.js';
import { metric, post, stream, type Streamed } from '../shared/serve-client.js';

const STREAMS = 64;
const TOGGLES = 20;
const MAX_TOKENS = 12;

const liveBuffers = new Set<object>();
const liveQuerySets = new Set<object>();
const restore: (() => void)[] = [];

/** Wraps `proto[name]` (restored after the file) so that `track(this, result)` sees every call. */
function wrap(proto: object, name: string, track: (self: object, result: unknown) => void): void {
  const original = (proto as Record<string, (...args: unknown[]) => unknown>)[name]!;
  (proto as Record<string, unknown>)[name] = function (this: object, ...args: unknown[]) {
    const result = original.apply(this, args);
    track(this, result);
    return result;
  };
  restore.push(() => {
    (proto as Record<string, unknown>)[name] = original;
  });
}

let dir: string;
let server: WgprofServer;
let restoreLog: () => void = () => {};

before(async () => {
  restoreLog = setLogSink(() => undefined);
  const probe = await requestGpuDevice();
  const deviceProto = Object.getPrototypeOf(probe.device) as object;
  const bufferProto = Object.getPrototypeOf(probe.device.createBuffer({ size: 16, usage: 8 /* COPY_DST */ })) as object;
  const querySetProto = Object.getPrototypeOf(probe.device.createQuerySet({ type: 'timestamp', count: 2 })) as object;
  probe.destroy();
  wrap(deviceProto, 'createBuffer', (_device, buffer) => liveBuffers.add(buffer as object));
  wrap(deviceProto, 'createQuerySet', (_device, set) => liveQuerySets.add(set as object));
  wrap(bufferProto, 'destroy', (buffer) => liveBuffers.delete(buffer));
  wrap(querySetProto, 'destroy', (set) => liveQuerySets.delete(set));
  dir = mkdtempSync(join(tmpdir(), 'wgprof-serve-load-'));
  server = await startServer({ model: 'tiny', port: 0, maxSlots: 16, profilerConfig: parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: dir }) });
});

after(async () => {
  await server?.close();
  for (const undo of restore.reverse()) undo();
  restoreLog();
  rmSync(dir, { recursive: true, force: true });
});

describe(`load: ${STREAMS} concurrent streams, ${TOGGLES} start/stop toggles`, { timeout: 600_000 }, () => {
  it('every trace valid, no request lost, GPU buffers and query sets back to the idle count', async (t) => {
    const warm = await post(`${server.url}/v1/completions`, { prompt: 'warm up', max_tokens: 2 });
    assert.equal(warm.status, 200);
    const idle = { buffers: liveBuffers.size, querySets: liveQuerySets.size };
    assert.ok(idle.buffers > 0, "the engine's buffers are counted");
    assert.equal(idle.querySets, 0, 'no query set outside a capture window');
    const instrumentation = Instrumentation.of(server.engine.device!);
    assert.ok(instrumentation, 'the server attached the instrumentation to its device');

    // 64 clients, each streaming one request after another until the toggles are done: 64 streams
    // are in flight (or queued for a slot) during every window.
    let toggling = true;
    const outcomes: { body: Record<string, unknown>; answer: Streamed }[] = [];
    let sent = 0;
    const clients = Array.from({ length: STREAMS }, async (_, c) => {
      for (let k = 0; toggling || k === 0; k++) {
        const body = {
          prompt: `client ${c} request ${k}`,
          max_tokens: MAX_TOKENS,
          temperature: 0.8,
          seed: c * 1000 + k,
          stream_options: { include_usage: true },
        };
        sent++;
        outcomes.push({ body, answer: await stream(server.url, body) });
      }
    });

    const windows: { files: string[]; iterations: number }[] = [];
    for (let i = 0; i < TOGGLES; i++) {
      const started = await post(`${server.url}/start_profile`, undefined);
      assert.equal(started.status, 200, JSON.stringify(started.body));
      // At least two iterations inside every window.
      const from = server.engine.stats.steps;
      while (server.engine.stats.steps < from + 2) await new Promise((resolve) => setTimeout(resolve, 2));
      const stopped = await post(`${server.url}/stop_profile`, undefined);
      assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
      windows.push({ files: stopped.body['files'] as string[], iterations: server.engine.stats.steps - from });
    }
    toggling = false;
    await Promise.all(clients);

    // No request lost: each stream ended with [DONE] after all its tokens.
    assert.equal(outcomes.length, sent);
    assert.ok(sent >= STREAMS);
    for (const { body, answer } of outcomes) {
      const label = JSON.stringify(body);
      assert.equal(answer.status, 200, label);
      assert.equal(answer.done, true, label);
      assert.equal(answer.error, undefined, label);
      assert.equal(answer.finishReason[0], 'length', label);
      assert.equal(answer.usage?.completion_tokens, MAX_TOKENS, label);
    }
    assert.equal(await metric(server.url, 'wgprof_requests_total{outcome="length"'), sent + 1);
    assert.equal(await metric(server.url, 'wgprof_requests_total{outcome="error"').catch(() => 0), 0);

    // Every window wrote a valid worker trace (with its iterations) and a valid frontend trace.
    assert.equal(windows.length, TOGGLES);
    for (const [i, w] of windows.entries()) {
      const worker = w.files.filter((f) => /-rank-0\.\d+\.pt\.trace\.json\.gz$/.test(f));
      const frontend = w.files.filter((f) => f.includes('.async_llm.'));
      assert.equal(worker.length, 1, `window ${i}: ${w.files.join(', ')}`);
      assert.equal(frontend.length, 1, `window ${i}`);
      const trace = await parseTraceFile(worker[0]!);
      assert.deepEqual(validateTrace(trace), [], `window ${i}`);
      assert.deepEqual(validateTrace(await parseTraceFile(frontend[0]!)), [], `window ${i} frontend`);
      const steps = trace.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'user_annotation' && e.name.startsWith('ProfilerStep#'));
      assert.ok(steps.length >= 2, `window ${i}: ${steps.length} steps`);
      assert.ok(
        trace.traceEvents.some((e) => e.cat === 'kernel'),
        `window ${i}: kernels with GPU time`,
      );
    }

    // GPU objects: the pools hold what they made (none lost, none in use), then detaching frees them
    // and the count is the idle count again.
    assert.equal(server.profile?.active, false);
    assert.equal(liveQuerySets.size, instrumentation.querySetsCreated, 'every query set made is alive in the pool, none leaked elsewhere');
    t.diagnostic(
      `requests ${sent}, windows ${TOGGLES}; pooled while attached: ${liveBuffers.size - idle.buffers} buffers, ${liveQuerySets.size} query sets; idle: ${idle.buffers} buffers`,
    );
    server.engine.profiler.detach();
    assert.equal(liveQuerySets.size, idle.querySets, 'query sets back to idle');
    assert.equal(liveBuffers.size, idle.buffers, 'buffers back to idle');
    // The engine still serves.
    assert.equal((await post(`${server.url}/v1/completions`, { prompt: 'after', max_tokens: 3 })).status, 200);
    assert.equal(liveBuffers.size, idle.buffers);
  });
});
