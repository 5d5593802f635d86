// The Profiler as pure logic: a fake capture source and a fake trace output stand in for the GPU and
// the file system, so the window, step, export and failure behaviour is checked exactly.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { parseProfilerConfig } from '../../src/config/index.js';
import type { ProfilerConfigInput } from '../../src/config/index.js';
import { emptyCaptureStats, type Captured, type WindowHandle } from '../../src/instrument/instrumentation.js';
import { PROFILE_MEASURE, PROFILE_START_MARK, PROFILE_STOP_MARK, type UserTiming } from '../../src/profiler/cuda-range.js';
import type { ExportedTrace, TraceOutput } from '../../src/profiler/output.js';
import { stepCosts } from '../../src/trace/plan.js';
import { noProfiler } from '../../src/profiler/hooks.js';
import { Profiler, createProfiler, type CaptureSource, type ProfilerOptions } from '../../src/profiler/profiler.js';
import type { CaptureRecord, DispatchRecord } from '../../src/capture/model.js';
import type { LaunchNames } from '../../src/trace/launch-names.js';
import { WgprofError } from '../../src/util/errors.js';
import { setLogSink, type LogLevel } from '../../src/util/log.js';

class Clock {
  ns = 1_000_000;
  now = (): number => this.ns;
  advance(ns: number): void {
    this.ns += ns;
  }
}

class FakeSource implements CaptureSource {
  capturing = false;
  attachedTo: unknown;
  detached = false;
  flushes = 0;
  peak = 100;
  failFlush = false;
  flushErrors: Error[] = [];
  private dispatches: DispatchRecord[] = [];
  private nextId = 1;
  constructor(private readonly clock: Clock) {}
  attach(device: GPUDevice): void {
    this.attachedTo = device;
  }
  setCapturing(on: boolean): void {
    this.capturing = on;
  }
  markStep(): number {
    return (this.peak += 10);
  }
  detach(): void {
    this.detached = true;
  }
  /** A dispatch of 1 µs on the CPU and GPU at the current time (recorded only while capturing). */
  dispatch(kernel: string): void {
    const t = this.clock.now();
    this.clock.advance(1_000);
    if (!this.capturing) return;
    const id = this.nextId++;
    this.dispatches.push({
      externalId: id,
      correlation: id,
      kernel,
      launch: 'dispatchWorkgroups',
      opStartNs: t,
      opEndNs: t + 1_000,
      launchStartNs: t,
      launchEndNs: t + 1_000,
      gpuStartNs: t + 100,
      gpuEndNs: t + 900,
      workgroups: [1, 1, 1],
      cost: { flops: 1_600, bytesRead: 400, bytesWritten: 400 },
    });
  }
  /** Closes the window: its dispatches are collected later, apart from any window opened after it. */
  endWindow(): WindowHandle | undefined {
    if (!this.capturing) return undefined;
    this.capturing = false;
    const dispatches = this.dispatches;
    this.dispatches = [];
    return {
      collect: async (): Promise<Captured> => {
        this.flushes++;
        if (this.failFlush) throw new Error('flush exploded');
        const errors = this.flushErrors;
        this.flushErrors = [];
        return {
          dispatches,
          copies: [],
          memory: [],
          timestamps: { mode: 'pass-boundaries', quantized: false },
          stats: { ...emptyCaptureStats(), timedDispatches: dispatches.length },
          submits: [],
          errors,
        };
      },
    };
  }
}

class FakeOutput implements TraceOutput {
  traces: { record: CaptureRecord; workerName: string; useGzip: boolean; table: boolean; launchNames?: LaunchNames }[] = [];
  tables: { rank: number; table: string }[] = [];
  failWrite = false;
  private n = 0;
  async exportTrace(record: CaptureRecord, options: { workerName: string; useGzip: boolean; table: boolean; launchNames?: LaunchNames }): Promise<ExportedTrace> {
    if (this.failWrite) throw new Error('disk full');
    this.traces.push({ record, ...options });
    const out: ExportedTrace = { file: `/out/${options.workerName}.${++this.n}.pt.trace.json${options.useGzip ? '.gz' : ''}`, steps: stepCosts(record) };
    if (options.table) out.table = `TABLE(${record.dispatches.length} dispatches)`;
    return out;
  }
  async writeKeyAverages(rank: number, table: string): Promise<string | undefined> {
    this.tables.push({ rank, table });
    return `/out/profiler_out_${rank}.txt`;
  }
}

const fakeDevice = { label: 'fake', features: new Set<string>(), limits: {} } as unknown as GPUDevice;

interface Rig {
  profiler: Profiler;
  clock: Clock;
  source: FakeSource;
  output: FakeOutput;
  /** One engine iteration: step(), a frontend span, begin, `kernels` dispatches, end. */
  iterate(kernels?: number): void;
}

function rig(config: ProfilerConfigInput, options: ProfilerOptions = {}): Rig {
  const clock = new Clock();
  const source = new FakeSource(clock);
  const output = new FakeOutput();
  const profiler = new Profiler(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: '/out', ...config }), {
    nowNs: clock.now,
    createCaptureSource: () => source,
    output,
    workerName: 'w-rank-0',
    frontendName: 'host_1.async_llm',
    ...options,
  });
  profiler.attach(fakeDevice);
  let iteration = 0;
  const iterate = (kernels = 2): void => {
    iteration++;
    profiler.step();
    profiler.frontendSpan('schedule', () => clock.advance(500), { step: iteration });
    profiler.beginIteration(`execute_context_0(0)_generation_1(${iteration})`);
    for (let k = 0; k < kernels; k++) source.dispatch(`matmul_it${iteration}`);
    clock.advance(200);
    profiler.endIteration();
    clock.advance(300);
  };
  return { profiler, clock, source, output, iterate };
}

let logs: { level: LogLevel; message: string }[] = [];
let restoreLog: () => void = () => {};
beforeEach(() => {
  logs = [];
  restoreLog = setLogSink((level, message) => logs.push({ level, message }), 'debug');
});
afterEach(() => restoreLog());

describe('Profiler (torch mode, fake capture)', () => {
  it('delay 2, max 3: one worker trace with ProfilerStep#2..#4 = iterations 2..4, and a frontend trace', async () => {
    const r = rig({ delay_iterations: 2, max_iterations: 3, torch_profiler_with_memory: true, torch_profiler_with_flops: true });
    r.profiler.start();
    for (let i = 0; i < 8; i++) r.iterate();
    const files = await r.profiler.stop();
    assert.deepEqual(files, ['/out/w-rank-0.1.pt.trace.json.gz', '/out/profiler_out_0.txt', '/out/host_1.async_llm.2.pt.trace.json.gz']);
    const worker = r.output.traces[0]!;
    assert.equal(worker.workerName, 'w-rank-0');
    const { steps, dispatches } = worker.record;
    assert.deepEqual(steps.map((s) => s.number), [2, 3, 4]);
    assert.deepEqual(steps.map((s) => s.annotation), [2, 3, 4].map((i) => `execute_context_0(0)_generation_1(${i})`));
    assert.deepEqual([...new Set(dispatches.map((d) => d.kernel))], ['matmul_it2', 'matmul_it3', 'matmul_it4']);
    for (const d of dispatches) {
      const step = steps.find((s) => d.kernel === `matmul_it${s.number}`)!;
      assert.ok(step.startNs <= d.opStartNs && d.opEndNs <= step.endNs, 'op inside its step');
      assert.ok(step.startNs <= d.gpuStartNs! && d.gpuEndNs! <= step.endNs, 'kernel inside its step');
      assert.ok(step.annotationStartNs! <= d.opStartNs && d.opEndNs <= step.annotationEndNs!, 'op inside the annotation');
    }
    for (const s of steps) assert.ok(s.peakAllocatedBytes! > 100, 'per-step peak memory recorded');
    assert.equal(worker.record.meta.withMemory, true);
    assert.equal(worker.record.meta.adapter?.runtime, 'node');
    // Per-step costs: 2 dispatches × 1600 flops over 2 × 800 ns GPU time = 2 GFLOP/s, 1 GB/s.
    assert.deepEqual(r.profiler.lastCapture?.costs[0], {
      step: 2,
      dispatches: 2,
      estimatedDispatches: 2,
      timedDispatches: 2,
      flops: 3_200,
      bytesRead: 800,
      bytesWritten: 800,
      gpuTimeNs: 1_600,
      achievedGflopsPerSec: 2,
      achievedGBPerSec: 1,
    });
    // The frontend saw every iteration's schedule span, delay and after-auto-stop included.
    const frontend = r.output.traces[1]!;
    assert.equal(frontend.workerName, 'host_1.async_llm');
    assert.deepEqual(frontend.record.cpuSpans.map((s) => s.args?.['step']), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(frontend.record.meta.adapter, undefined, 'frontend is CPU-only');
    assert.equal(frontend.record.meta.withMemory, false);
    assert.equal(frontend.record.steps.length, 0);
    assert.equal(frontend.record.dispatches.length, 0);
  });

  it('the auto-stop detaches the capture at once and exports off the hot path', async () => {
    const r = rig({ max_iterations: 2, ignore_frontend: true });
    r.profiler.start();
    r.iterate();
    r.iterate();
    r.profiler.step(); // the 3rd step(): auto-stop
    assert.equal(r.source.capturing, false, 'capture off synchronously');
    assert.equal(r.profiler.active, false);
    assert.equal(r.output.traces.length, 0, 'nothing written inside step()');
    assert.equal(r.source.flushes, 0, 'not even flushed inside step()');
    r.profiler.beginIteration('x');
    r.profiler.endIteration();
    r.iterate(); // the engine keeps stepping
    await r.profiler.flushed();
    assert.equal(r.output.traces.length, 1);
    assert.deepEqual(r.output.traces[0]!.record.steps.map((s) => s.number), [1, 2]);
    // stop() after the auto-stop: the machine ignores it, the file written meanwhile is reported.
    assert.deepEqual(await r.profiler.stop(), ['/out/w-rank-0.1.pt.trace.json.gz', '/out/profiler_out_0.txt']);
    assert.deepEqual(await r.profiler.stop(), [], 'reported once');
  });

  it('delay 0 starts at start(); ProfilerStep numbers count from the first step() after start', async () => {
    const r = rig({ ignore_frontend: true, torch_profiler_dump_cuda_time_total: false });
    r.iterate(); // before start: not captured
    r.profiler.start();
    assert.equal(r.source.capturing, true);
    r.iterate();
    r.iterate();
    const files = await r.profiler.stop();
    assert.deepEqual(files, ['/out/w-rank-0.1.pt.trace.json.gz']);
    assert.deepEqual(r.output.traces[0]!.record.steps.map((s) => s.number), [1, 2]);
    assert.equal(r.output.tables.length, 0, 'no key-averages without dump_cuda_time_total');
  });

  it('stop() during the delay writes no worker trace (the frontend trace is still written)', async () => {
    const r = rig({ delay_iterations: 5 });
    r.profiler.start();
    r.iterate();
    r.iterate();
    assert.deepEqual(await r.profiler.stop(), ['/out/host_1.async_llm.1.pt.trace.json.gz']);
    assert.equal(r.source.capturing, false);
    assert.equal(r.source.flushes, 0);

    const quiet = rig({ delay_iterations: 5, ignore_frontend: true });
    quiet.profiler.start();
    quiet.iterate();
    assert.deepEqual(await quiet.profiler.stop(), []);
    assert.equal(quiet.output.traces.length, 0);
  });

  it('ignore_frontend: no frontend profiler, frontendSpan just runs', async () => {
    const r = rig({ ignore_frontend: true });
    r.profiler.start();
    assert.equal(r.profiler.frontendRunning, false);
    assert.equal(r.profiler.frontendSpan('tokenize', () => 'ok'), 'ok');
    r.iterate();
    await r.profiler.stop();
    assert.deepEqual(r.output.traces.map((t) => t.workerName), ['w-rank-0']);
  });

  it('use_gzip false: the writer is asked for plain JSON for both traces', async () => {
    const r = rig({ torch_profiler_use_gzip: false });
    r.profiler.start();
    r.iterate();
    const files = await r.profiler.stop();
    assert.ok(files.every((f) => !f.endsWith('.gz')));
    assert.deepEqual(r.output.traces.map((t) => t.useGzip), [false, false]);
  });

  it('duplicate start and stop are ignored', async () => {
    const r = rig({ ignore_frontend: true });
    r.profiler.start();
    r.iterate();
    r.profiler.start();
    r.iterate();
    assert.equal((await r.profiler.stop()).length, 2);
    assert.deepEqual(await r.profiler.stop(), []);
    assert.deepEqual(r.output.traces[0]!.record.steps.map((s) => s.number), [1, 2]);
  });

  it('restart right after an auto-stop: each window gets its own trace with its own dispatches', async () => {
    const r = rig({ max_iterations: 1, ignore_frontend: true, torch_profiler_dump_cuda_time_total: false });
    r.profiler.start();
    r.iterate();
    r.profiler.step(); // auto-stop; export queued, not run
    r.profiler.start(); // restart before the export flushed
    r.iterate(); // captured by window 2 (step 1 of the new window)
    const files = await r.profiler.stop();
    assert.equal(files.length, 2);
    const [first, second] = r.output.traces;
    assert.deepEqual(first!.record.dispatches.map((d) => d.kernel), ['matmul_it1', 'matmul_it1']);
    assert.deepEqual(second!.record.dispatches.map((d) => d.kernel), ['matmul_it2', 'matmul_it2']);
  });

  it('beforeExport sees each worker capture before it is written (an adapter renames its ops); a throwing one is logged and the capture written as it stands', async () => {
    const seen: number[] = [];
    const r = rig(
      { max_iterations: 1 },
      {
        beforeExport: async (record) => {
          seen.push(record.dispatches.length);
          for (const d of record.dispatches) d.opName = 'Renamed';
        },
      },
    );
    r.profiler.start();
    r.iterate(3);
    r.iterate();
    await r.profiler.stop();
    assert.deepEqual(seen, [3]);
    assert.deepEqual(r.output.traces[0]!.record.dispatches.map((d) => d.opName), ['Renamed', 'Renamed', 'Renamed']);

    const failing = rig({ max_iterations: 1 }, { beforeExport: () => { throw new Error('adapter broke'); } });
    failing.profiler.start();
    failing.iterate(2);
    failing.iterate();
    const files = await failing.profiler.stop();
    assert.ok(files.some((f) => f.includes('w-rank-0')), 'the worker trace is still written');
    assert.equal(failing.output.traces[0]!.record.dispatches.length, 2);
    assert.ok(logs.some((l) => l.level === 'warn' && /beforeExport threw: adapter broke/.test(l.message)));
  });

  it('key averages: written and printed on rank 0, written but not printed on rank 1', async () => {
    const r0 = rig({ ignore_frontend: true });
    r0.profiler.start();
    r0.iterate();
    await r0.profiler.stop();
    assert.deepEqual(r0.output.tables, [{ rank: 0, table: 'TABLE(2 dispatches)' }]);
    assert.ok(logs.some((l) => l.level === 'info' && l.message.includes('TABLE(2 dispatches)')));

    logs = [];
    const r1 = rig({ ignore_frontend: true }, { rank: 1, worldSize: 2, workerName: 'w-rank-1' });
    r1.profiler.start();
    r1.iterate();
    const files = await r1.profiler.stop();
    assert.ok(files.includes('/out/profiler_out_1.txt'));
    assert.ok(!logs.some((l) => l.message.includes('TABLE(')));
    assert.equal(r1.output.traces[0]!.record.meta.rank, 1);
    assert.equal(r1.output.traces[0]!.record.meta.worldSize, 2);
  });

  it('onTraceWritten is called per file with its kind', async () => {
    const seen: string[] = [];
    const r = rig({}, { onTraceWritten: (file, kind) => seen.push(`${kind}:${file}`) });
    r.profiler.start();
    r.iterate();
    await r.profiler.stop();
    assert.deepEqual(seen, [
      'worker:/out/w-rank-0.1.pt.trace.json.gz',
      'key_averages:/out/profiler_out_0.txt',
      'frontend:/out/host_1.async_llm.2.pt.trace.json.gz',
    ]);
  });

  it('the default worker name is vLLM v0.13\'s {5 hex}-rank-{rank}', () => {
    const p = new Profiler(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: '/out' }), { rank: 3, output: new FakeOutput() });
    assert.match(p.workerName, /^[0-9a-f]{5}-rank-3$/);
  });

  it('names launches as the option says, else as WGPROF_LAUNCH_NAMES says, else webgpu, in both traces', async () => {
    const saved = process.env['WGPROF_LAUNCH_NAMES'];
    const namesOf = async (options: ProfilerOptions): Promise<(LaunchNames | undefined)[]> => {
      const r = rig({ delay_iterations: 0, max_iterations: 1 }, options);
      r.profiler.start();
      r.iterate();
      r.iterate();
      await r.profiler.stop();
      return r.output.traces.map((t) => t.launchNames);
    };
    try {
      delete process.env['WGPROF_LAUNCH_NAMES'];
      assert.deepEqual(await namesOf({}), ['webgpu', 'webgpu']);
      assert.deepEqual(await namesOf({ launchNames: 'cuda' }), ['cuda', 'cuda']);
      process.env['WGPROF_LAUNCH_NAMES'] = 'cuda';
      assert.deepEqual(await namesOf({}), ['cuda', 'cuda'], 'a server started with the variable needs no config change');
      assert.deepEqual(await namesOf({ launchNames: 'webgpu' }), ['webgpu', 'webgpu'], 'the option wins over the environment');
    } finally {
      if (saved === undefined) delete process.env['WGPROF_LAUNCH_NAMES'];
      else process.env['WGPROF_LAUNCH_NAMES'] = saved;
    }
  });

  it('rejects a bad launch-names value, naming where it came from; a profiler that writes no trace ignores the variable', () => {
    const saved = process.env['WGPROF_LAUNCH_NAMES'];
    const config = parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: '/out' });
    const invalid = (from: RegExp) => (e: unknown) => e instanceof WgprofError && e.code === 'INVALID_LAUNCH_NAMES' && from.test(e.message) && /expected "webgpu" .* or "cuda"/.test(e.message);
    try {
      delete process.env['WGPROF_LAUNCH_NAMES'];
      assert.throws(() => new Profiler(config, { launchNames: 'hip' as LaunchNames, output: new FakeOutput() }), invalid(/^INVALID_LAUNCH_NAMES: ProfilerOptions\.launchNames is "hip"/));
      process.env['WGPROF_LAUNCH_NAMES'] = 'CUDA';
      assert.throws(() => new Profiler(config, { output: new FakeOutput() }), invalid(/the environment variable WGPROF_LAUNCH_NAMES is "CUDA"/));
      assert.doesNotThrow(() => new Profiler(parseProfilerConfig({ profiler: 'cuda' })));
      assert.doesNotThrow(() => new Profiler(parseProfilerConfig({})));
    } finally {
      if (saved === undefined) delete process.env['WGPROF_LAUNCH_NAMES'];
      else process.env['WGPROF_LAUNCH_NAMES'] = saved;
    }
  });

  it('rejects a bad rank and an unparsed config, naming the problem', () => {
    const config = parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: '/out' });
    assert.throws(() => new Profiler(config, { rank: -1 }), /"rank" must be an integer >= 0; got -1/);
    assert.throws(() => new Profiler(config, { worldSize: 0 }), /"worldSize" must be an integer >= 1; got 0/);
    assert.throws(() => new Profiler(null as never), /expects a parsed ProfilerConfig; got null/);
  });

  it('an unparsed vLLM-shaped config is parsed (lax values too), or rejected with the config error', () => {
    const p = new Profiler({ profiler: 'torch', torch_profiler_dir: '/out', max_iterations: '2' } as never, { output: new FakeOutput() });
    assert.equal(p.config.delay_iterations, 0);
    assert.equal(p.config.max_iterations, 2);
    assert.equal(p.config.torch_profiler_with_stack, true);
    assert.throws(() => new Profiler({ profiler: 'torch' } as never), /PROFILER_CONFIG_INVALID.*\n.*torch_profiler_dir must be set/);
  });

  it("stop({ interrupted }) marks the worker trace it writes (wgprof.interrupted), and only that window", async () => {
    const r = rig({ ignore_frontend: true });
    r.profiler.start();
    r.iterate();
    await r.profiler.stop({ interrupted: 'SIGINT' });
    r.profiler.start();
    r.iterate();
    await r.profiler.stop();
    assert.equal(r.output.traces.length, 2);
    assert.equal(r.output.traces[0]!.record.meta.extra?.['interrupted'], 'SIGINT');
    assert.equal(r.output.traces[0]!.record.steps.length, 1, 'what was captured is kept');
    assert.equal(r.output.traces[1]!.record.meta.extra?.['interrupted'], undefined);
  });
});

describe('Profiler failures', () => {
  it('start() without attach() is logged, not thrown; strict throws', () => {
    const config = parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: '/out', ignore_frontend: true });
    const lax = new Profiler(config, { output: new FakeOutput() });
    assert.doesNotThrow(() => lax.start());
    assert.equal(lax.running, false);
    assert.ok(logs.some((l) => l.level === 'warn' && l.message.includes('call attach(device) before start()')));
    const strict = new Profiler(config, { output: new FakeOutput(), strict: true });
    assert.throws(() => strict.start(), /NOT_ATTACHED/);
  });

  it('a failing write is logged and stop() resolves; strict rejects', async () => {
    const r = rig({ ignore_frontend: true });
    r.output.failWrite = true;
    r.profiler.start();
    r.iterate();
    assert.deepEqual(await r.profiler.stop(), []);
    assert.ok(logs.some((l) => l.level === 'warn' && l.message.includes('disk full')));

    const s = rig({ ignore_frontend: true }, { strict: true });
    s.output.failWrite = true;
    s.profiler.start();
    s.iterate();
    await assert.rejects(s.profiler.stop(), /PROFILER_EXPORT_FAILED.*disk full/);
  });

  it('a failing flush during an auto-stop never reaches the engine loop', async () => {
    const r = rig({ max_iterations: 1, ignore_frontend: true });
    r.source.failFlush = true;
    r.profiler.start();
    r.iterate();
    assert.doesNotThrow(() => r.iterate());
    assert.doesNotThrow(() => r.iterate());
    assert.deepEqual(await r.profiler.stop(), []);
    assert.ok(logs.some((l) => l.level === 'warn' && l.message.includes('flush exploded')));
  });

  it('errors collected by the instrumentation are logged and the trace is still written', async () => {
    const r = rig({ ignore_frontend: true, torch_profiler_dump_cuda_time_total: false });
    r.source.flushErrors = [new Error('READBACK_FAILED: submit 3')];
    r.profiler.start();
    r.iterate();
    assert.equal((await r.profiler.stop()).length, 1);
    assert.ok(logs.some((l) => l.level === 'warn' && l.message.includes('READBACK_FAILED: submit 3')));
  });

  it('a throwing onTraceWritten callback is logged, not fatal', async () => {
    const r = rig({ ignore_frontend: true }, {
      onTraceWritten: () => {
        throw new Error('callback bug');
      },
    });
    r.profiler.start();
    r.iterate();
    assert.equal((await r.profiler.stop()).length, 2);
    assert.ok(logs.some((l) => l.level === 'warn' && l.message.includes('callback bug')));
  });

  it('detach() during a capture exports what was captured', async () => {
    const r = rig({ ignore_frontend: true, torch_profiler_dump_cuda_time_total: false });
    r.profiler.start();
    r.iterate();
    r.profiler.detach();
    assert.equal(r.source.detached, true);
    assert.equal((await r.profiler.stop()).length, 1);
    assert.equal(r.output.traces[0]!.record.steps.length, 1);
  });
});

describe('Profiler with profiler: null', () => {
  it('createProfiler gives noProfiler for null and a Profiler otherwise', () => {
    assert.equal(createProfiler(parseProfilerConfig({})), noProfiler);
    assert.ok(createProfiler(parseProfilerConfig({ profiler: 'cuda' })) instanceof Profiler);
  });

  it('every hook is a no-op', async () => {
    const p = new Profiler(parseProfilerConfig({}));
    p.attach(fakeDevice);
    p.start();
    p.step();
    p.beginIteration('x');
    p.endIteration();
    assert.equal(p.frontendSpan('f', () => 7), 7);
    assert.equal(p.active, false);
    assert.deepEqual(await p.stop(), []);
    p.detach();
  });
});

class FakePerformance implements UserTiming {
  t = 0;
  entries: { type: 'mark' | 'measure'; name: string; start: number; end: number; detail?: unknown }[] = [];
  now(): number {
    return (this.t += 1);
  }
  mark(name: string, options?: { startTime?: number; detail?: unknown }): void {
    const at = options?.startTime ?? this.now();
    this.entries.push({ type: 'mark', name, start: at, end: at });
  }
  measure(name: string, options: { start: number; end: number; detail?: unknown }): void {
    this.entries.push({ type: 'measure', name, start: options.start, end: options.end, detail: options.detail });
  }
}

class FakeEncoder {
  constructor(readonly log: string[]) {}
  pushDebugGroup(label: string): void {
    this.log.push(`push:${label}`);
  }
  popDebugGroup(): void {
    this.log.push('pop');
  }
  finish(): string {
    this.log.push('finish');
    return 'cb';
  }
}

class FakeDevice {
  readonly label = 'fake';
  readonly features = new Set<string>();
  readonly limits = {};
  readonly log: string[] = [];
  createCommandEncoder(): FakeEncoder {
    this.log.push('create');
    return new FakeEncoder(this.log);
  }
}

describe("Profiler with profiler: 'cuda'", () => {
  function cudaRig(config: ProfilerConfigInput = {}) {
    const perf = new FakePerformance();
    const edges: string[] = [];
    const device = new FakeDevice();
    const profiler = new Profiler(parseProfilerConfig({ profiler: 'cuda', ...config }), { performance: perf, onRange: (e) => edges.push(e) });
    profiler.attach(device as unknown as GPUDevice);
    const iterate = (i: number): void => {
      profiler.step();
      profiler.beginIteration(`execute_context_0(0)_generation_1(${i})`);
      (device as unknown as GPUDevice).createCommandEncoder().finish();
      profiler.endIteration();
    };
    return { perf, edges, device, profiler, iterate };
  }

  it('delay 2, max 3: window marks at the edges, ProfilerStep measures for iterations 2..4, no files', async () => {
    const r = cudaRig({ delay_iterations: 2, max_iterations: 3 });
    r.profiler.start();
    for (let i = 1; i <= 6; i++) r.iterate(i);
    assert.deepEqual(await r.profiler.stop(), []);
    const names = r.perf.entries.map((e) => `${e.type}:${e.name}`);
    assert.deepEqual(names, [
      `mark:${PROFILE_START_MARK}`,
      'measure:ProfilerStep#2',
      'measure:execute_context_0(0)_generation_1(2)',
      'measure:ProfilerStep#3',
      'measure:execute_context_0(0)_generation_1(3)',
      'measure:ProfilerStep#4',
      'measure:execute_context_0(0)_generation_1(4)',
      `mark:${PROFILE_STOP_MARK}`,
      `measure:${PROFILE_MEASURE}`,
    ]);
    const window = r.perf.entries.at(-1)!;
    for (const e of r.perf.entries.filter((x) => x.name.startsWith('ProfilerStep#'))) {
      assert.ok(window.start <= e.start && e.end <= window.end, `${e.name} inside the window`);
    }
    assert.deepEqual(r.perf.entries[1]!.detail, { step: 2, annotation: 'execute_context_0(0)_generation_1(2)' });
    assert.deepEqual(r.edges, ['start', 'stop']);
  });

  it('debug groups wrap the encoders of captured iterations only; detach restores the device', () => {
    const r = cudaRig({ delay_iterations: 2, max_iterations: 1 });
    r.profiler.start();
    r.iterate(1);
    assert.deepEqual(r.device.log, ['create', 'finish'], 'delay: untouched');
    r.device.log.length = 0;
    r.iterate(2);
    assert.deepEqual(r.device.log, ['create', 'push:execute_context_0(0)_generation_1(2)', 'pop', 'finish']);
    r.device.log.length = 0;
    r.iterate(3);
    assert.deepEqual(r.device.log, ['create', 'finish'], 'after the auto-stop: untouched');
    assert.ok(Object.prototype.hasOwnProperty.call(r.device, 'createCommandEncoder'));
    r.profiler.detach();
    assert.ok(!Object.prototype.hasOwnProperty.call(r.device, 'createCommandEncoder'));
    assert.equal(r.device.createCommandEncoder, FakeDevice.prototype.createCommandEncoder);
  });

  it('stop() during the delay marks nothing', async () => {
    const r = cudaRig({ delay_iterations: 3 });
    r.profiler.start();
    r.iterate(1);
    assert.deepEqual(await r.profiler.stop(), []);
    assert.deepEqual(r.perf.entries, []);
    assert.deepEqual(r.edges, []);
  });

  it('explicit stop() closes the window with a stop mark and measure', async () => {
    const r = cudaRig();
    r.profiler.start();
    r.iterate(1);
    await r.profiler.stop();
    assert.deepEqual(r.perf.entries.map((e) => e.name), [PROFILE_START_MARK, 'ProfilerStep#1', 'execute_context_0(0)_generation_1(1)', PROFILE_STOP_MARK, PROFILE_MEASURE]);
  });

  it('the real performance API accepts the marks (Node perf_hooks)', async () => {
    const device = new FakeDevice();
    const profiler = new Profiler(parseProfilerConfig({ profiler: 'cuda' }));
    profiler.attach(device as unknown as GPUDevice);
    profiler.start();
    profiler.step();
    profiler.beginIteration('execute_context_1(4)_generation_0(0)');
    profiler.endIteration();
    await profiler.stop();
    const measures = performance.getEntriesByType('measure').map((e) => e.name);
    assert.ok(measures.includes('ProfilerStep#1'));
    assert.ok(measures.includes(PROFILE_MEASURE));
    assert.equal(performance.getEntriesByName(PROFILE_START_MARK, 'mark').length, 1);
    performance.clearMarks();
    performance.clearMeasures();
  });
});
