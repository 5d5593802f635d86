// 'cuda' mode's page-global hook: without an explicit onRange, the window edges call
// globalThis.wgprofCaptureRange(edge) (fire and forget); failures are logged, never thrown.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { parseProfilerConfig } from '../../src/config/index.js';
import { CAPTURE_RANGE_HOOK, CudaRangeMarker, PROFILE_MEASURE, captureRangeSettled, type UserTiming } from '../../src/profiler/cuda-range.js';
import { Profiler } from '../../src/profiler/profiler.js';
import { setLogSink, type LogLevel } from '../../src/util/log.js';

class FakePerformance implements UserTiming {
  t = 0;
  names: string[] = [];
  now(): number {
    return (this.t += 1);
  }
  mark(name: string): void {
    this.names.push(`mark:${name}`);
  }
  measure(name: string): void {
    this.names.push(`measure:${name}`);
  }
}

const globals = globalThis as Record<string, unknown>;

function installHook(hook: unknown): void {
  globals[CAPTURE_RANGE_HOOK] = hook;
}

describe('globalThis.wgprofCaptureRange (default onRange)', () => {
  let logs: { level: LogLevel; message: string }[];
  let restoreLog: () => void;
  beforeEach(() => {
    logs = [];
    restoreLog = setLogSink((level, message) => void logs.push({ level, message }), 'debug');
  });
  afterEach(() => {
    delete globals[CAPTURE_RANGE_HOOK];
    restoreLog();
  });

  function cudaProfiler(config: { delay_iterations?: number; max_iterations?: number }, onRange?: (edge: 'start' | 'stop') => void) {
    const perf = new FakePerformance();
    const options: ConstructorParameters<typeof Profiler>[1] = { performance: perf };
    if (onRange) options.onRange = onRange;
    const profiler = new Profiler(parseProfilerConfig({ profiler: 'cuda', ...config }), options);
    return { perf, profiler };
  }

  it("is called with 'start' inside the delay-th step() and 'stop' inside the (delay+max)-th", async () => {
    const calls: string[] = [];
    let iteration = 0;
    // Installed after the Profiler exists: the hook is looked up at each edge.
    const { perf, profiler } = cudaProfiler({ delay_iterations: 2, max_iterations: 2 });
    installHook((edge: string) => {
      calls.push(`${edge}@${iteration}`);
      return Promise.resolve();
    });
    profiler.start();
    for (iteration = 1; iteration <= 5; iteration++) {
      profiler.step();
      profiler.beginIteration(`it${iteration}`);
      profiler.endIteration();
    }
    assert.deepEqual(calls, ['start@2', 'stop@4']);
    assert.deepEqual(await profiler.stop(), []);
    assert.deepEqual(calls, ['start@2', 'stop@4'], 'stop() after the auto-stop: no second stop edge');
    assert.ok(perf.names.includes(`measure:${PROFILE_MEASURE}`));
    assert.deepEqual(
      logs.filter((l) => l.level === 'warn'),
      [],
    );
  });

  it('the start edge comes after the start mark, the stop edge after the window measure', () => {
    const perf = new FakePerformance();
    installHook((edge: string) => void perf.names.push(`hook:${edge}`));
    const marker = new CudaRangeMarker({ performance: perf });
    marker.startRange();
    marker.beginStep(1);
    marker.endIteration();
    marker.stopRange();
    assert.deepEqual(perf.names, [
      'mark:wgprof:profile:start',
      'hook:start',
      'measure:ProfilerStep#1',
      'mark:wgprof:profile:stop',
      `measure:${PROFILE_MEASURE}`,
      'hook:stop',
    ]);
  });

  it('an explicit onRange takes precedence; onRange: null calls nothing', () => {
    const hookCalls: string[] = [];
    installHook((edge: string) => void hookCalls.push(edge));
    const explicit: string[] = [];
    const { profiler } = cudaProfiler({}, (edge) => explicit.push(edge));
    profiler.start();
    profiler.step();
    void profiler.stop();
    assert.deepEqual(explicit, ['start', 'stop']);
    const silent = new CudaRangeMarker({ performance: new FakePerformance(), onRange: null });
    silent.startRange();
    silent.stopRange();
    assert.deepEqual(hookCalls, []);
  });

  it('a hook that is not a function is ignored', () => {
    installHook('not a function');
    const marker = new CudaRangeMarker({ performance: new FakePerformance() });
    marker.startRange();
    marker.stopRange();
    assert.deepEqual(
      logs.filter((l) => l.level === 'warn'),
      [],
    );
  });

  it('a rejecting hook is logged once per failed call, not thrown; the profiler carries on', async () => {
    const calls: string[] = [];
    installHook((edge: string) => {
      calls.push(edge);
      return edge === 'start' ? Promise.reject(new Error('tracing already running')) : Promise.resolve();
    });
    const { perf, profiler } = cudaProfiler({ delay_iterations: 1, max_iterations: 1 });
    profiler.start();
    for (let i = 1; i <= 3; i++) {
      profiler.step();
      profiler.endIteration();
    }
    await captureRangeSettled();
    assert.deepEqual(calls, ['start', 'stop']);
    const warnings = logs.filter((l) => l.level === 'warn');
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0]!.message, /wgprofCaptureRange\('start'\) failed: tracing already running/);
    assert.ok(perf.names.includes('measure:ProfilerStep#1'), 'the window is still marked');
    assert.deepEqual(await profiler.stop(), []);
  });

  it('a hook that throws synchronously is logged and the window still opens and closes', () => {
    installHook(() => {
      throw new TypeError('hook exploded');
    });
    const perf = new FakePerformance();
    const marker = new CudaRangeMarker({ performance: perf });
    assert.doesNotThrow(() => marker.startRange());
    assert.equal(marker.inWindow, true);
    assert.doesNotThrow(() => marker.stopRange());
    assert.equal(marker.inWindow, false);
    const warnings = logs.filter((l) => l.level === 'warn').map((l) => l.message);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /\('start'\) failed: hook exploded/);
    assert.match(warnings[1]!, /\('stop'\) failed: hook exploded/);
  });

  it('captureRangeSettled() waits for the hook promises in flight and never rejects', async () => {
    const resolvers: (() => void)[] = [];
    let settledEdges = 0;
    installHook(
      () =>
        new Promise<void>((resolve) =>
          resolvers.push(() => {
            settledEdges += 1;
            resolve();
          }),
        ),
    );
    const marker = new CudaRangeMarker({ performance: new FakePerformance() });
    marker.startRange();
    let done = false;
    const waiting = captureRangeSettled().then(() => (done = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(done, false, 'still in flight');
    resolvers[0]!();
    await waiting;
    assert.equal(settledEdges, 1);
    installHook(() => Promise.reject(new Error('late failure')));
    marker.stopRange();
    await captureRangeSettled();
    assert.equal(logs.filter((l) => l.level === 'warn').length, 1);
  });
});
