// The WorkerProfiler state machine, case by case against vLLM's tests/v1/worker/test_gpu_profiler.py
// (latest main: the auto-stop at max_iterations fully resets).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { WorkerProfiler, type CaptureStopReason, type WorkerProfilerOptions } from '../../src/profiler/worker-profiler.js';
import { setLogSink, type LogLevel } from '../../src/util/log.js';

class Driver {
  startCalls = 0;
  stopCalls: CaptureStopReason[] = [];
  /** Every driver call in order, for the schedule tests. */
  calls: string[] = [];
  failStart = false;
  failStop = false;
  startCapture(): void {
    if (this.failStart) throw new Error('Simulated start failure');
    this.startCalls += 1;
    this.calls.push('startCapture');
  }
  stopCapture(reason: CaptureStopReason): void {
    this.stopCalls.push(reason);
    this.calls.push(`stopCapture:${reason}`);
    if (this.failStop) throw new Error('Simulated stop failure');
  }
  startWarmup(): void {
    this.calls.push('startWarmup');
  }
  cancelWarmup(): void {
    this.calls.push('cancelWarmup');
  }
}

function make(options: Partial<WorkerProfilerOptions> = {}): { p: WorkerProfiler; d: Driver } {
  const d = new Driver();
  const p = new WorkerProfiler(d, { delayIterations: 0, maxIterations: 0, ...options });
  return { p, d };
}

let logs: { level: LogLevel; message: string }[] = [];
let restore: () => void = () => {};
beforeEach(() => {
  logs = [];
  restore = setLogSink((level, message) => logs.push({ level, message }), 'debug');
});
afterEach(() => restore());

describe('WorkerProfiler (vLLM semantics)', () => {
  it('test_immediate_start_stop: delay 0 starts at start(), stop() stops', () => {
    const { p, d } = make();
    p.start();
    assert.equal(p.running, true);
    assert.equal(p.active, true);
    assert.equal(d.startCalls, 1);
    p.stop();
    assert.equal(p.running, false);
    assert.equal(p.active, false);
    assert.deepEqual(d.stopCalls, ['stop']);
  });

  it('test_delayed_start: delay 2 starts inside the 2nd step()', () => {
    const { p, d } = make({ delayIterations: 2 });
    p.start();
    assert.equal(p.active, true);
    assert.equal(p.running, false);
    assert.equal(d.startCalls, 0);
    p.step();
    assert.equal(p.running, false);
    p.step();
    assert.equal(p.running, true);
    assert.equal(d.startCalls, 1);
    assert.equal(p.profilingForIters, 1, 'the iteration that starts the capture is captured');
  });

  it('delay 1 starts at the first step(), not at start()', () => {
    const { p, d } = make({ delayIterations: 1 });
    p.start();
    assert.equal(d.startCalls, 0);
    p.step();
    assert.equal(d.startCalls, 1);
    assert.equal(p.running, true);
  });

  it('test_max_iterations: max 2 records 2 steps, stops inside the 3rd step() and fully resets', () => {
    const { p, d } = make({ maxIterations: 2 });
    p.start();
    assert.equal(p.running, true);
    p.step();
    assert.equal(p.running, true);
    p.step();
    assert.equal(p.running, true);
    assert.equal(d.stopCalls.length, 0);
    p.step();
    assert.equal(p.running, false);
    assert.deepEqual(d.stopCalls, ['max_iterations']);
    assert.deepEqual(p.state(), { active: false, running: false, activeIterationCount: 0, profilingForIters: 0 });
  });

  it('test_restart_after_max_iterations: a start() after the auto-stop starts again', () => {
    const { p, d } = make({ maxIterations: 2 });
    p.start();
    p.step();
    p.step();
    p.step();
    assert.equal(p.running, false);
    assert.equal(d.startCalls, 1);
    p.start();
    assert.equal(p.active, true);
    assert.equal(p.running, true);
    assert.equal(d.startCalls, 2);
    p.step();
    assert.equal(p.running, true);
  });

  it('test_delayed_start_and_max_iters: delay 2, max 2 captures steps 2..3, stops in step 4', () => {
    const { p, d } = make({ delayIterations: 2, maxIterations: 2 });
    p.start();
    p.step();
    assert.equal(p.running, false);
    assert.equal(p.active, true);
    p.step();
    assert.equal(p.profilingForIters, 1);
    assert.equal(p.running, true);
    p.step();
    assert.equal(p.profilingForIters, 2);
    assert.equal(p.running, true);
    p.step();
    assert.equal(p.running, false);
    assert.deepEqual(d.stopCalls, ['max_iterations']);
  });

  it('delay 2, max 3: running exactly during iterations 2, 3, 4', () => {
    const { p } = make({ delayIterations: 2, maxIterations: 3 });
    p.start();
    const capturedIterations: number[] = [];
    for (let iteration = 1; iteration <= 8; iteration++) {
      p.step();
      if (p.running) capturedIterations.push(iteration);
    }
    assert.deepEqual(capturedIterations, [2, 3, 4]);
  });

  it('test_idempotency: duplicate start and stop are ignored', () => {
    const { p, d } = make();
    p.start();
    p.start();
    assert.equal(d.startCalls, 1);
    p.stop();
    p.stop();
    assert.equal(d.stopCalls.length, 1);
    assert.ok(logs.some((l) => l.level === 'debug' && l.message.includes('already active')));
    assert.ok(logs.some((l) => l.level === 'debug' && l.message.includes('not active')));
  });

  it('duplicate start during the delay does not restart the count', () => {
    const { p, d } = make({ delayIterations: 3 });
    p.start();
    p.step();
    p.step();
    p.start();
    assert.equal(p.activeIterationCount, 2);
    p.step();
    assert.equal(d.startCalls, 1);
  });

  it('test_step_inactive: step() before start() does nothing', () => {
    const { p, d } = make({ delayIterations: 2 });
    p.step();
    p.step();
    assert.equal(d.startCalls, 0);
    assert.equal(p.activeIterationCount, 0);
  });

  it('test_mixed_delay_and_stop: stop() during the delay writes nothing, later steps start nothing', () => {
    const { p, d } = make({ delayIterations: 5 });
    p.start();
    p.step();
    p.step();
    p.stop();
    assert.equal(p.active, false);
    p.step();
    p.step();
    p.step();
    assert.equal(d.startCalls, 0);
    assert.equal(d.stopCalls.length, 0);
  });

  it('max 0 = unlimited', () => {
    const { p, d } = make({ maxIterations: 0 });
    p.start();
    for (let i = 0; i < 1000; i++) p.step();
    assert.equal(p.running, true);
    assert.equal(p.profilingForIters, 1000);
    assert.equal(d.stopCalls.length, 0);
  });

  it('explicit stop() before max is reached stops with reason "stop"', () => {
    const { p, d } = make({ maxIterations: 5 });
    p.start();
    p.step();
    p.stop();
    assert.deepEqual(d.stopCalls, ['stop']);
    p.step();
    assert.deepEqual(d.stopCalls, ['stop']);
  });

  it('stop() after the auto-stop is ignored', () => {
    const { p, d } = make({ maxIterations: 1 });
    p.start();
    p.step();
    p.step();
    assert.deepEqual(d.stopCalls, ['max_iterations']);
    p.stop();
    assert.deepEqual(d.stopCalls, ['max_iterations']);
  });

  it('test_shutdown: shutdown stops only when running', () => {
    const { p, d } = make();
    p.shutdown();
    assert.equal(d.stopCalls.length, 0);
    p.start();
    p.shutdown();
    assert.deepEqual(d.stopCalls, ['shutdown']);
    assert.equal(p.active, false);
  });

  it('test_start_failure: a failing start is logged, not thrown; active but not running', () => {
    const { p, d } = make();
    d.failStart = true;
    assert.doesNotThrow(() => p.start());
    assert.equal(p.running, false);
    assert.equal(p.active, true);
    assert.equal(d.startCalls, 0);
    assert.ok(logs.some((l) => l.level === 'warn' && l.message.includes('Failed to start profiler: Simulated start failure')));
  });

  it('a failing delayed start is logged, not thrown from step()', () => {
    const { p, d } = make({ delayIterations: 1 });
    d.failStart = true;
    p.start();
    assert.doesNotThrow(() => p.step());
    assert.equal(p.running, false);
    assert.ok(logs.some((l) => l.level === 'warn'));
  });

  it('a failing stop is logged, not thrown, and leaves the machine stopped', () => {
    const { p, d } = make({ maxIterations: 1 });
    d.failStop = true;
    p.start();
    p.step();
    assert.doesNotThrow(() => p.step());
    assert.equal(p.running, false);
    assert.equal(p.active, false);
    assert.ok(logs.some((l) => l.level === 'warn' && l.message.includes('Failed to stop profiler: Simulated stop failure')));
  });

  it('strict rethrows start failures and drops the request (a retry works)', () => {
    const { p, d } = make({ strict: true });
    d.failStart = true;
    assert.throws(() => p.start(), /Simulated start failure/);
    assert.equal(p.active, false);
    d.failStart = false;
    p.start();
    assert.equal(p.running, true);
  });

  it('strict rethrows delayed-start and stop failures', () => {
    const delayed = make({ delayIterations: 1, strict: true });
    delayed.d.failStart = true;
    delayed.p.start();
    assert.throws(() => delayed.p.step(), /Simulated start failure/);
    assert.equal(delayed.p.active, false);

    const stopping = make({ strict: true });
    stopping.d.failStop = true;
    stopping.p.start();
    assert.throws(() => stopping.p.stop(), /Simulated stop failure/);
    assert.equal(stopping.p.running, false);
  });

  it('strict: the stops the machine makes itself never throw (auto-stop, schedule end, shutdown), as vLLM; they are logged', () => {
    const auto = make({ maxIterations: 1, strict: true });
    auto.d.failStop = true;
    auto.p.start();
    auto.p.step();
    assert.doesNotThrow(() => auto.p.step(), 'the auto-stop inside step()');
    assert.deepEqual(auto.d.stopCalls, ['max_iterations']);
    assert.equal(auto.p.active, false);
    assert.equal(auto.p.running, false);

    const scheduled = make({ warmupIterations: 1, activeIterations: 1, strict: true });
    scheduled.d.failStop = true;
    scheduled.p.start();
    scheduled.p.step(); // recorded
    assert.doesNotThrow(() => scheduled.p.step(), "the schedule's end inside step()");
    assert.deepEqual(scheduled.d.stopCalls, ['schedule']);

    const shut = make({ strict: true });
    shut.d.failStop = true;
    shut.p.start();
    assert.doesNotThrow(() => shut.p.shutdown());
    assert.deepEqual(shut.d.stopCalls, ['shutdown']);
    assert.equal(shut.p.running, false);
    assert.equal(logs.filter((l) => l.level === 'warn' && l.message.includes('Failed to stop profiler: Simulated stop failure')).length, 2);
    assert.ok(logs.some((l) => l.level === 'warn' && /schedule step failed: Simulated stop failure/.test(l.message)));
  });

  it('rejects negative or fractional counts, naming the field', () => {
    assert.throws(() => make({ delayIterations: -1 }), /delayIterations must be an integer >= 0 \(got -1\)/);
    assert.throws(() => make({ maxIterations: 1.5 }), /maxIterations must be an integer >= 0 \(got 1.5\)/);
  });

  it('rejects bad schedule counts: active_iterations must be >= 1', () => {
    assert.throws(() => make({ activeIterations: 0, warmupIterations: 1 }), /activeIterations must be an integer >= 1 \(got 0\)/);
    assert.throws(() => make({ waitIterations: -1 }), /waitIterations must be an integer >= 0/);
  });
});

describe('WorkerProfiler: per-call bounds (vLLM main)', () => {
  it('test_session_bounds_override_and_reset_to_defaults', () => {
    const { p } = make({ delayIterations: 3, maxIterations: 4 });
    p.start(1, 2);
    assert.equal(p.delayIterations, 1);
    assert.equal(p.maxIterations, 2);
    p.stop();
    p.start();
    assert.equal(p.delayIterations, 3);
    assert.equal(p.maxIterations, 4);
    p.stop();
  });

  it('the overrides drive the session: delay 1 starts in the 1st step(), max 2 stops in the 3rd', () => {
    const { p, d } = make({ delayIterations: 5, maxIterations: 0 });
    p.start(1, 2);
    assert.equal(d.startCalls, 0);
    p.step();
    assert.equal(d.startCalls, 1);
    p.step();
    p.step();
    assert.deepEqual(d.stopCalls, ['max_iterations']);
    assert.equal(p.active, false);
  });

  it('a duplicate start() keeps the first bounds; bad overrides are rejected', () => {
    const { p } = make({ delayIterations: 2 });
    p.start(4, 1);
    p.start(0, 9);
    assert.equal(p.delayIterations, 4);
    assert.equal(p.maxIterations, 1);
    p.stop();
    assert.throws(() => p.start(-1), /delayIterations must be an integer >= 0/);
    assert.throws(() => p.start(0, 1.5), /maxIterations must be an integer >= 0/);
  });
});

describe('WorkerProfiler: torch.profiler.schedule (warmup/wait/active, vLLM main)', () => {
  it('no schedule without warmup or wait: active_iterations alone changes nothing', () => {
    const { p, d } = make({ activeIterations: 2 });
    assert.equal(p.schedule, undefined);
    p.start();
    for (let i = 0; i < 5; i++) p.step();
    assert.equal(p.profilingForIters, 5);
    assert.deepEqual(d.calls, ['startCapture']);
  });

  it('test_torch_profiler_rebuilds_one_shot_profiler_each_round: warmup 2 does not annotate or count at first, every round', () => {
    const { p, d } = make({ warmupIterations: 2 });
    for (let round = 0; round < 2; round++) {
      p.start();
      assert.equal(p.running, true);
      assert.equal(p.shouldAnnotate, false, 'warming up');
      p.step();
      assert.equal(p.profilingForIters, 0, 'a warmup step does not count');
      assert.equal(p.phase, 'warmup');
      p.stop();
    }
    assert.deepEqual(d.calls, ['startWarmup', 'cancelWarmup', 'startWarmup', 'cancelWarmup'], 'nothing recorded, nothing written');
  });

  it('warmup 2, active 3: warmup, then 3 recorded iterations, then the trace is written; later steps count toward max', () => {
    const { p, d } = make({ warmupIterations: 2, activeIterations: 3 });
    p.start();
    const seen: [string | undefined, boolean, number][] = [];
    for (let i = 0; i < 6; i++) {
      p.step();
      seen.push([p.phase, p.recording, p.profilingForIters]);
    }
    // Schedule step 0 (start() .. first step()) and step 1 (iteration 1) warm up; iterations 2-4 record.
    assert.deepEqual(seen, [
      ['warmup', false, 0],
      ['record', true, 1],
      ['record', true, 2],
      ['record', true, 3],
      ['done', false, 4],
      ['done', false, 5],
    ]);
    assert.deepEqual(d.calls, ['startWarmup', 'startCapture', 'stopCapture:schedule']);
    p.stop();
    assert.deepEqual(d.calls.length, 3, 'stop() after the schedule is done writes nothing more');
    assert.equal(p.running, false);
  });

  it('wait 2, warmup 1, active 2: the profiler is off while waiting', () => {
    const { p, d } = make({ waitIterations: 2, warmupIterations: 1, activeIterations: 2 });
    p.start();
    assert.equal(p.phase, 'wait');
    assert.deepEqual(d.calls, [], 'waiting: no driver call, zero overhead');
    const phases: (string | undefined)[] = [];
    for (let i = 0; i < 5; i++) {
      p.step();
      phases.push(p.phase);
    }
    assert.deepEqual(phases, ['wait', 'warmup', 'record', 'record', 'done']);
    assert.deepEqual(d.calls, ['startWarmup', 'startCapture', 'stopCapture:schedule']);
    assert.equal(p.profilingForIters, 3, 'vLLM counts the steps after wait + warmup - 1');
  });

  it('warmup 1: step 0 is the warmup, so the first iteration is recorded; max applies to recorded steps', () => {
    const { p, d } = make({ warmupIterations: 1, maxIterations: 2 });
    p.start();
    p.step();
    assert.equal(p.recording, true);
    p.step();
    p.step();
    assert.deepEqual(d.calls, ['startWarmup', 'startCapture', 'stopCapture:max_iterations']);
    assert.equal(p.active, false);
  });

  it('delay and schedule together: the schedule starts at the delayed start', () => {
    const { p, d } = make({ delayIterations: 2, warmupIterations: 2, activeIterations: 1 });
    p.start();
    p.step();
    assert.deepEqual(d.calls, []);
    p.step(); // the delayed start (schedule step 0) and schedule step 1 in one step(), as vLLM does
    assert.deepEqual(d.calls, ['startWarmup']);
    assert.equal(p.profilingForIters, 0);
    p.step();
    assert.deepEqual(d.calls, ['startWarmup', 'startCapture']);
    p.step();
    assert.deepEqual(d.calls, ['startWarmup', 'startCapture', 'stopCapture:schedule']);
  });

  it('stop() while recording writes what was recorded; shutdown() in the wait writes nothing', () => {
    const recording = make({ warmupIterations: 1, activeIterations: 5 });
    recording.p.start();
    recording.p.step();
    recording.p.stop();
    assert.deepEqual(recording.d.calls, ['startWarmup', 'startCapture', 'stopCapture:stop']);
    const waiting = make({ waitIterations: 3 });
    waiting.p.start();
    waiting.p.step();
    waiting.p.shutdown();
    assert.deepEqual(waiting.d.calls, []);
    assert.equal(waiting.p.running, false);
  });

  it('a driver without warmup support still follows the schedule (warmup iterations are simply not recorded)', () => {
    const calls: string[] = [];
    const p = new WorkerProfiler(
      { startCapture: () => calls.push('start'), stopCapture: (r) => calls.push(`stop:${r}`) },
      { delayIterations: 0, maxIterations: 0, warmupIterations: 2, activeIterations: 1 },
    );
    p.start();
    p.step();
    p.step();
    p.step();
    assert.deepEqual(calls, ['start', 'stop:schedule']);
  });

  it('a failing schedule transition is logged and records nothing more; strict rethrows', () => {
    const lax = make({ warmupIterations: 1 });
    lax.d.failStart = true;
    lax.p.start();
    assert.doesNotThrow(() => lax.p.step());
    assert.equal(lax.p.phase, 'done');
    assert.ok(logs.some((l) => l.level === 'warn' && /schedule step failed: Simulated start failure/.test(l.message)));
    const strict = make({ warmupIterations: 1, strict: true });
    strict.d.failStart = true;
    strict.p.start();
    assert.throws(() => strict.p.step(), /Simulated start failure/);
  });
});
