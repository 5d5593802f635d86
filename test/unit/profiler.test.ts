// The Profiler as pure logic: a fake capture source and a fake trace output stand in for the GPU and
// the file system, so the window, step, export and failure behaviour is checked exactly.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { parseProfilerConfig } from '../../src/config/index.js';
import type { ProfilerConfigInput } from '../../src/config/index.js';
import { emptyCaptureStats, type Captured, type InstrumentationOptions, type WindowHandle } from '../../src/instrument/instrumentation.js';
import { PROFILE_MEASURE, PROFILE_START_MARK, PROFILE_STOP_MARK, type UserTiming } from '../../src/profiler/cuda-range.js';
import type { ExportedTrace, TraceOutput } from '../../src/profiler/output.js';
import { stepCosts } from '../../src/trace/plan.js';
import { noProfiler } from '../../src/profiler/hooks.js';
import { ProfilerExportError } from '../../src/profiler/failures.js';
import { Profiler, createProfiler, type CaptureSource, type ProfilerOptions } from '../../src/profiler/profiler.js';
import { TraceSinkError } from '../../src/trace/sinks.js';
import type { CaptureRecord, DispatchRecord } from '../../src/capture/model.js';
import type { LaunchNames } from '../../src/trace/launch-names.js';
import { WgprofError } from '../../src/util/errors.js';
import { setLogSink, type LogLevel } from '../../src/util/log.js';
import { injectEnospc } from './helpers/enospc.js';

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
  /** endWindow() throws (a stop that fails synchronously). */
  failEnd = false;
  flushErrors: Error[] = [];
  /** The heap a captured dispatch is reported to hold (capturedBytes), bytes. */
  bytesPerDispatch = 1_000;
  /** Windows closed, in order: 'kept' when collected for a trace; every collect() counts in flushes. */
  windowsEnded = 0;
  private dispatches: DispatchRecord[] = [];
  private nextId = 1;
  constructor(private readonly clock: Clock) {}
  attach(device: GPUDevice): void {
    this.attachedTo = device;
  }
  /** setCapturing(true) throws (a window that cannot be opened). */
  failCapture = false;
  setCapturing(on: boolean): void {
    if (on && this.failCapture) throw new Error('capture refused');
    this.capturing = on;
  }
  markStep(): number {
    return (this.peak += 10);
  }
  get capturedBytes(): number {
    return this.dispatches.length * this.bytesPerDispatch;
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
    if (this.failEnd) throw new Error('end exploded');
    if (!this.capturing) return undefined;
    this.capturing = false;
    this.windowsEnded++;
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
  tables: { name: string; table: string }[] = [];
  /** Fails every trace write (a plain Error), or only those whose worker name matches. */
  failWrite: boolean | RegExp = false;
  /** Fails the table writes with this error. */
  failTable: Error | undefined;
  private n = 0;
  async exportTrace(
    record: CaptureRecord,
    options: { workerName: string; useGzip: boolean; table: boolean; launchNames?: LaunchNames },
  ): Promise<ExportedTrace> {
    if (this.failWrite === true || (this.failWrite instanceof RegExp && this.failWrite.test(options.workerName))) throw new Error('disk full');
    this.traces.push({ record, ...options });
    const name = `${options.workerName}.${++this.n}.pt.trace.json${options.useGzip ? '.gz' : ''}`;
    const out: ExportedTrace = { file: `/out/${name}`, name, steps: stepCosts(record) };
    if (options.table) out.table = `TABLE(${record.dispatches.length} dispatches)`;
    return out;
  }
  async writeKeyAverages(name: string, table: string): Promise<string | undefined> {
    if (this.failTable) throw this.failTable;
    this.tables.push({ name, table });
    return `/out/${name}`;
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
    assert.deepEqual(files, ['/out/w-rank-0.1.pt.trace.json.gz', '/out/w-rank-0.1.profiler_out.txt', '/out/host_1.async_llm.2.pt.trace.json.gz']);
    const worker = r.output.traces[0]!;
    assert.equal(worker.workerName, 'w-rank-0');
    const { steps, dispatches } = worker.record;
    assert.deepEqual(
      steps.map((s) => s.number),
      [2, 3, 4],
    );
    assert.deepEqual(
      steps.map((s) => s.annotation),
      [2, 3, 4].map((i) => `execute_context_0(0)_generation_1(${i})`),
    );
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
    assert.deepEqual(
      frontend.record.cpuSpans.map((s) => s.args?.['step']),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
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
    assert.deepEqual(
      r.output.traces[0]!.record.steps.map((s) => s.number),
      [1, 2],
    );
    // stop() after the auto-stop: the machine ignores it, the file written meanwhile is reported.
    assert.deepEqual(await r.profiler.stop(), ['/out/w-rank-0.1.pt.trace.json.gz', '/out/w-rank-0.1.profiler_out.txt']);
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
    assert.deepEqual(
      r.output.traces[0]!.record.steps.map((s) => s.number),
      [1, 2],
    );
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
    assert.equal(
      r.profiler.frontendSpan('tokenize', () => 'ok'),
      'ok',
    );
    r.iterate();
    await r.profiler.stop();
    assert.deepEqual(
      r.output.traces.map((t) => t.workerName),
      ['w-rank-0'],
    );
  });

  it('use_gzip false: the writer is asked for plain JSON for both traces', async () => {
    const r = rig({ torch_profiler_use_gzip: false });
    r.profiler.start();
    r.iterate();
    const files = await r.profiler.stop();
    assert.ok(files.every((f) => !f.endsWith('.gz')));
    assert.deepEqual(
      r.output.traces.map((t) => t.useGzip),
      [false, false],
    );
  });

  it('duplicate start and stop are ignored', async () => {
    const r = rig({ ignore_frontend: true });
    r.profiler.start();
    r.iterate();
    r.profiler.start();
    r.iterate();
    assert.equal((await r.profiler.stop()).length, 2);
    assert.deepEqual(await r.profiler.stop(), []);
    assert.deepEqual(
      r.output.traces[0]!.record.steps.map((s) => s.number),
      [1, 2],
    );
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
    assert.deepEqual(
      first!.record.dispatches.map((d) => d.kernel),
      ['matmul_it1', 'matmul_it1'],
    );
    assert.deepEqual(
      second!.record.dispatches.map((d) => d.kernel),
      ['matmul_it2', 'matmul_it2'],
    );
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
    assert.deepEqual(
      r.output.traces[0]!.record.dispatches.map((d) => d.opName),
      ['Renamed', 'Renamed', 'Renamed'],
    );

    const failing = rig(
      { max_iterations: 1 },
      {
        beforeExport: () => {
          throw new Error('adapter broke');
        },
      },
    );
    failing.profiler.start();
    failing.iterate(2);
    failing.iterate();
    const files = await failing.profiler.stop();
    assert.ok(
      files.some((f) => f.includes('w-rank-0')),
      'the worker trace is still written',
    );
    assert.equal(failing.output.traces[0]!.record.dispatches.length, 2);
    assert.ok(logs.some((l) => l.level === 'warn' && /beforeExport threw: adapter broke/.test(l.message)));
  });

  it('key averages: written and printed on rank 0, written but not printed on rank 1', async () => {
    const r0 = rig({ ignore_frontend: true });
    r0.profiler.start();
    r0.iterate();
    await r0.profiler.stop();
    assert.deepEqual(r0.output.tables, [{ name: 'w-rank-0.1.profiler_out.txt', table: 'TABLE(2 dispatches)' }]);
    assert.ok(logs.some((l) => l.level === 'info' && l.message.includes('TABLE(2 dispatches)')));

    logs = [];
    const r1 = rig({ ignore_frontend: true }, { rank: 1, worldSize: 2, workerName: 'w-rank-1' });
    r1.profiler.start();
    r1.iterate();
    const files = await r1.profiler.stop();
    assert.ok(files.includes('/out/w-rank-1.1.profiler_out.txt'));
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
      'key_averages:/out/w-rank-0.1.profiler_out.txt',
      'frontend:/out/host_1.async_llm.2.pt.trace.json.gz',
    ]);
  });

  it("the default worker name is vLLM v0.13's {5 hex}-rank-{rank}", () => {
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
    const invalid = (from: RegExp) => (e: unknown) =>
      e instanceof WgprofError && e.code === 'INVALID_LAUNCH_NAMES' && from.test(e.message) && /expected "webgpu" .* or "cuda"/.test(e.message);
    try {
      delete process.env['WGPROF_LAUNCH_NAMES'];
      assert.throws(
        () => new Profiler(config, { launchNames: 'hip' as LaunchNames, output: new FakeOutput() }),
        invalid(/^INVALID_LAUNCH_NAMES: ProfilerOptions\.launchNames is "hip"/),
      );
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

  it('stop({ interrupted }) marks the worker trace it writes (wgprof.interrupted), and only that window', async () => {
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

describe('Profiler: each stop() reports its own windows', () => {
  it('stop() not awaited, then start(): each stop() resolves to exactly the files of the window it stopped, tables included', async () => {
    const r = rig({});
    r.profiler.start();
    r.iterate();
    const first = r.profiler.stop();
    r.profiler.start();
    r.iterate();
    r.iterate();
    const second = r.profiler.stop();
    // Awaited in the other order, so the later stop() settles first.
    assert.deepEqual(await second, ['/out/w-rank-0.3.pt.trace.json.gz', '/out/w-rank-0.3.profiler_out.txt', '/out/host_1.async_llm.4.pt.trace.json.gz']);
    assert.deepEqual(await first, ['/out/w-rank-0.1.pt.trace.json.gz', '/out/w-rank-0.1.profiler_out.txt', '/out/host_1.async_llm.2.pt.trace.json.gz']);
    assert.deepEqual(
      r.output.tables.map((t) => t.name),
      ['w-rank-0.1.profiler_out.txt', 'w-rank-0.3.profiler_out.txt'],
      'one table per window',
    );
    assert.deepEqual(
      r.output.traces[2]!.record.steps.map((s) => s.number),
      [1, 2],
    );
  });

  it("a window auto-stopped before a stop() is that stop()'s, even when a new window is open by then", async () => {
    const r = rig({ max_iterations: 1, ignore_frontend: true, torch_profiler_dump_cuda_time_total: false });
    r.profiler.start();
    r.iterate();
    r.profiler.step(); // auto-stop of window 1
    r.profiler.start();
    r.iterate();
    assert.deepEqual(await r.profiler.stop(), ['/out/w-rank-0.1.pt.trace.json.gz', '/out/w-rank-0.2.pt.trace.json.gz']);
  });
});

describe('Profiler: the memory budget cuts a window into segments', () => {
  it('an unbounded window past its budget is written in segments at step boundaries, steps numbered on, warned once', async () => {
    // 2 dispatches of 1000 B per iteration, budget 3000 B: a segment every 2 iterations.
    const r = rig({ ignore_frontend: true, torch_profiler_dump_cuda_time_total: false }, { memoryBudgetBytes: 3_000 });
    r.profiler.start();
    for (let i = 0; i < 5; i++) r.iterate();
    assert.equal(r.source.windowsEnded, 2, 'two segments closed inside step()');
    assert.equal(r.source.capturing, true, 'capture goes on');
    const files = await r.profiler.stop();
    assert.equal(files.length, 3, files.join());
    const records = r.output.traces.map((t) => t.record);
    assert.deepEqual(
      records.map((rec) => rec.steps.map((s) => s.number)),
      [[1, 2], [3, 4], [5]],
    );
    assert.deepEqual(
      records.map((rec) => rec.meta.extra?.['segment']),
      [0, 1, 2],
    );
    assert.deepEqual(
      records.map((rec) => rec.dispatches.length),
      [4, 4, 2],
      'every dispatch in exactly one segment',
    );
    for (const rec of records) {
      for (const d of rec.dispatches)
        assert.ok(
          rec.steps.some((s) => d.kernel === `matmul_it${s.number}`),
          `${d.kernel} in its own segment`,
        );
    }
    const warnings = logs.filter((l) => l.level === 'warn' && /memory budget/.test(l.message));
    assert.equal(warnings.length, 1, 'warned once, not per segment');
    assert.match(warnings[0]!.message, /max_iterations 0.*wgprof merge.*memoryBudgetBytes/);
  });

  it('a bounded window past its budget: segments logged at info, the auto-stop still counts all its iterations', async () => {
    const r = rig({ max_iterations: 4, ignore_frontend: true, torch_profiler_dump_cuda_time_total: false }, { memoryBudgetBytes: 3_000 });
    r.profiler.start();
    for (let i = 0; i < 6; i++) r.iterate();
    await r.profiler.flushed();
    assert.deepEqual(
      r.output.traces.map((t) => t.record.steps.map((s) => s.number)),
      [
        [1, 2],
        [3, 4],
      ],
    );
    assert.equal(r.profiler.active, false, 'auto-stopped after 4 iterations in all');
    assert.equal(logs.filter((l) => l.level === 'warn').length, 0);
    assert.equal(logs.filter((l) => l.level === 'info' && /segment 0 written/.test(l.message)).length, 1);
  });

  it('under budget (the default: 256 MiB) the window is one trace with no segment field', async () => {
    const r = rig({ ignore_frontend: true, torch_profiler_dump_cuda_time_total: false });
    r.profiler.start();
    for (let i = 0; i < 5; i++) r.iterate();
    await r.profiler.stop();
    assert.equal(r.output.traces.length, 1);
    assert.equal(r.output.traces[0]!.record.meta.extra?.['segment'], undefined);
  });

  it('a bad memoryBudgetBytes is refused, naming the option and the value', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => rig({}, { memoryBudgetBytes: bad }),
        (e: unknown) => e instanceof WgprofError && e.code === 'INVALID_OPTION' && e.message.includes('"memoryBudgetBytes"') && e.message.includes(String(bad)),
      );
    }
    assert.doesNotThrow(() => rig({}, { memoryBudgetBytes: Infinity }));
  });
});

describe('Profiler: schedule (warmup / active / wait), activities, per-session bounds', () => {
  it('warmup 2, active 3: ProfilerStep#2..#4 recorded, the warmup window captured and dropped, the trace written when the active iterations end', async () => {
    const r = rig({ warmup_iterations: 2, active_iterations: 3 });
    r.profiler.start();
    assert.equal(r.source.capturing, true, 'warmup captures (one-time costs are paid here)');
    r.iterate(); // iteration 1: warmup
    assert.equal(r.profiler.recording, false);
    for (let i = 2; i <= 4; i++) {
      r.iterate();
      assert.equal(r.profiler.recording, true, `iteration ${i} is recorded`);
    }
    r.iterate(); // iteration 5: the schedule is done, the trace is written (stop reason 'schedule')
    r.iterate();
    assert.equal(r.source.capturing, false);
    assert.equal(r.profiler.running, true, 'running, recording nothing, until stop() (vLLM)');
    await r.profiler.flushed();
    assert.equal(r.output.traces.length, 1, 'written before stop()');
    const { steps, dispatches } = r.output.traces[0]!.record;
    assert.deepEqual(
      steps.map((s) => s.number),
      [2, 3, 4],
    );
    assert.deepEqual(
      steps.map((s) => s.annotation),
      [2, 3, 4].map((i) => `execute_context_0(0)_generation_1(${i})`),
    );
    assert.deepEqual([...new Set(dispatches.map((d) => d.kernel))], ['matmul_it2', 'matmul_it3', 'matmul_it4'], 'nothing of the warmup');
    assert.equal(r.source.flushes, 2, 'the warmup window was collected (its readbacks released) and dropped');
    assert.deepEqual(r.output.traces[0]!.record.meta.extra?.['schedule'], { wait: 0, warmup: 2, active: 3 });
    const files = await r.profiler.stop();
    assert.deepEqual(files, ['/out/w-rank-0.1.pt.trace.json.gz', '/out/w-rank-0.1.profiler_out.txt', '/out/host_1.async_llm.2.pt.trace.json.gz']);
    assert.deepEqual(
      r.output.traces[1]!.record.cpuSpans.map((s) => s.args?.['step']),
      [1, 2, 3, 4, 5, 6],
      'the frontend covers start..stop',
    );
  });

  it('wait 2, warmup 1, active 2: nothing captured while waiting; ProfilerStep#3, #4', async () => {
    const r = rig({ wait_iterations: 2, warmup_iterations: 1, active_iterations: 2, ignore_frontend: true });
    r.profiler.start();
    const capturing: boolean[] = [];
    for (let i = 1; i <= 6; i++) {
      r.profiler.step();
      capturing.push(r.source.capturing);
      r.profiler.beginIteration(`it${i}`);
      r.source.dispatch(`k${i}`);
      r.profiler.endIteration();
    }
    assert.deepEqual(capturing, [false, true, true, true, false, false]);
    await r.profiler.stop();
    const { steps, dispatches } = r.output.traces[0]!.record;
    assert.deepEqual(
      steps.map((s) => [s.number, s.annotation]),
      [
        [3, 'it3'],
        [4, 'it4'],
      ],
    );
    assert.deepEqual(
      dispatches.map((d) => d.kernel),
      ['k3', 'k4'],
    );
  });

  it('delay 2 with a schedule: the schedule starts at the delayed start (warmup 2, active 1 → ProfilerStep#3)', async () => {
    const r = rig({ delay_iterations: 2, warmup_iterations: 2, active_iterations: 1, ignore_frontend: true });
    r.profiler.start();
    for (let i = 0; i < 6; i++) r.iterate();
    await r.profiler.stop();
    assert.deepEqual(
      r.output.traces[0]!.record.steps.map((s) => s.number),
      [3],
    );
  });

  it('stop() during the warmup writes no worker trace and drops the warmup window', async () => {
    const r = rig({ warmup_iterations: 3 });
    r.profiler.start();
    r.iterate();
    assert.deepEqual(await r.profiler.stop(), ['/out/host_1.async_llm.1.pt.trace.json.gz']);
    assert.equal(r.source.capturing, false);
    assert.equal(r.source.flushes, 1, 'collected and dropped');
    assert.deepEqual(
      r.output.traces.map((t) => t.workerName),
      ['host_1.async_llm'],
    );
  });

  it("'cuda' mode has no schedule (vLLM's CudaProfilerWrapper): warmup_iterations changes nothing", async () => {
    const perf = new FakePerformance();
    const profiler = new Profiler(parseProfilerConfig({ profiler: 'cuda', warmup_iterations: 2 }), { performance: perf });
    profiler.start();
    profiler.step();
    profiler.beginIteration('a');
    profiler.endIteration();
    await profiler.stop();
    assert.deepEqual(
      perf.entries.map((e) => e.name),
      [PROFILE_START_MARK, 'ProfilerStep#1', 'a', PROFILE_STOP_MARK, PROFILE_MEASURE],
    );
  });

  it("torch_profiler_activities: without 'CUDA' no GPU timestamps; without 'CPU' no frontend trace and no JS stacks; ['CPU'] alone writes the table anyway", async () => {
    const cases = [
      { activities: null, timestamps: undefined, withStack: true, frontend: true, tables: 0 },
      { activities: ['CPU', 'CUDA'], timestamps: undefined, withStack: true, frontend: true, tables: 0 },
      { activities: ['CUDA'], timestamps: undefined, withStack: false, frontend: false, tables: 0 },
      { activities: ['CPU'], timestamps: false, withStack: true, frontend: true, tables: 1 },
    ] as const;
    for (const c of cases) {
      let options: InstrumentationOptions | undefined;
      const clock = new Clock();
      const source = new FakeSource(clock);
      const output = new FakeOutput();
      const config = parseProfilerConfig({
        profiler: 'torch',
        torch_profiler_dir: '/out',
        torch_profiler_activities: c.activities === null ? null : [...c.activities],
        torch_profiler_dump_cuda_time_total: false,
      });
      const p = new Profiler(config, { output, nowNs: clock.now, createCaptureSource: (o) => ((options = o), source) });
      p.attach(fakeDevice);
      p.start();
      assert.equal(p.frontendRunning, c.frontend, String(c.activities));
      p.step();
      source.dispatch('k');
      p.endIteration();
      await p.stop();
      assert.equal(options?.timestamps, c.timestamps, String(c.activities));
      assert.equal(options?.withStack, c.withStack, String(c.activities));
      const worker = output.traces[0]!.record;
      assert.equal(worker.meta.withStack, c.withStack);
      assert.deepEqual(worker.meta.extra?.['activities'], c.activities ?? ['CPU', 'CUDA']);
      assert.equal(output.traces.length, c.frontend ? 2 : 1);
      assert.equal(output.tables.length, c.tables, `${String(c.activities)}: vLLM's dump_cpu_time_total`);
    }
  });

  it('start({ delayIterations, maxIterations }) bounds this session only; the next start() uses the config; bad bounds are INVALID_OPTION', async () => {
    const r = rig({ delay_iterations: 0, max_iterations: 0, ignore_frontend: true, torch_profiler_dump_cuda_time_total: false });
    r.profiler.start({ delayIterations: 2, maxIterations: 1 });
    for (let i = 0; i < 4; i++) r.iterate();
    assert.equal(r.profiler.active, false, 'stopped on its own after 1 iteration');
    r.profiler.start();
    r.iterate();
    r.iterate();
    await r.profiler.stop();
    const [bounded, plain] = r.output.traces.map((t) => t.record);
    assert.deepEqual(
      bounded!.steps.map((s) => s.number),
      [2],
    );
    assert.equal(bounded!.meta.extra?.['delay_iterations'], 2);
    assert.equal(bounded!.meta.extra?.['max_iterations'], 1);
    assert.deepEqual(
      plain!.steps.map((s) => s.number),
      [1, 2],
    );
    assert.equal(plain!.meta.extra?.['max_iterations'], 0);
    assert.throws(
      () => r.profiler.start({ delayIterations: -1 }),
      /INVALID_OPTION: profiler\.start\(\{ delayIterations \}\) must be an integer >= 0 \(0 = start at once\); got -1/,
    );
    assert.throws(
      () => r.profiler.start({ maxIterations: 1.5 }),
      /INVALID_OPTION: profiler\.start\(\{ maxIterations \}\) must be an integer >= 0 \(0 = no limit\); got 1\.5/,
    );
    assert.equal(r.profiler.active, false);
  });
});

describe('Profiler failures', () => {
  it('start() before attach() throws NOT_ATTACHED naming attach(device), strict or not; nothing starts, and after attach() it works', () => {
    const config = parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: '/out' });
    for (const strict of [false, true]) {
      const source = new FakeSource(new Clock());
      const p = new Profiler(config, { output: new FakeOutput(), strict, createCaptureSource: () => source });
      assert.throws(
        () => p.start(),
        (e: unknown) => (e as { code?: string }).code === 'NOT_ATTACHED' && /Call profiler\.attach\(device\) before start\(\)/.test((e as Error).message),
      );
      assert.equal(p.active, false, 'the request is dropped');
      assert.equal(p.frontendRunning, false, 'the frontend did not start either');
      p.attach(fakeDevice);
      p.start();
      assert.equal(p.running, true);
      assert.equal(source.capturing, true);
    }
  });

  it('a trace that could not be written: stop() rejects with ProfilerExportError naming each file and its cause, with the files that were written', async () => {
    for (const strict of [false, true]) {
      const r = rig({}, { strict });
      r.output.failWrite = /async_llm/; // the frontend trace fails, the worker trace and its table are written
      r.profiler.start();
      r.iterate();
      const error = await r.profiler.stop().then(
        () => assert.fail('stop() resolved'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof ProfilerExportError, String(error));
      assert.equal(error.code, 'PROFILER_EXPORT_FAILED');
      assert.deepEqual(error.files, ['/out/w-rank-0.1.pt.trace.json.gz', '/out/w-rank-0.1.profiler_out.txt']);
      assert.deepEqual(error.failures, [
        {
          kind: 'frontend',
          file: 'host_1.async_llm.*.pt.trace.json.gz',
          code: 'PROFILER_EXPORT_FAILED',
          message: 'host_1.async_llm.*.pt.trace.json.gz was not written: disk full',
          fallback: null,
        },
      ]);
      assert.match(
        error.message,
        /1 profile file\(s\) could not be written \(2 were\):\n {2}frontend trace: host_1\.async_llm\.\*\.pt\.trace\.json\.gz was not written: disk full/,
      );
      assert.ok(logs.some((l) => l.level === 'warn' && l.message.includes('frontend trace not written')));
      assert.deepEqual(await r.profiler.stop(), [], 'reported once');
    }
  });

  it('a table that could not be written (a sink error) is a failure naming the table, its code and the cause', async () => {
    const r = rig({ ignore_frontend: true });
    r.output.failTable = new TraceSinkError('TRACE_DISK_FULL', 'could not write /out/w-rank-0.1.profiler_out.txt: no space left (ENOSPC).', {
      file: '/out/w-rank-0.1.profiler_out.txt',
      errno: 'ENOSPC',
    });
    r.profiler.start();
    r.iterate();
    await assert.rejects(r.profiler.stop(), (e: unknown) => {
      assert.ok(e instanceof ProfilerExportError);
      assert.deepEqual(e.files, ['/out/w-rank-0.1.pt.trace.json.gz']);
      assert.deepEqual(
        e.failures.map((f) => [f.kind, f.file, f.code]),
        [['key_averages', '/out/w-rank-0.1.profiler_out.txt', 'TRACE_DISK_FULL']],
      );
      return true;
    });
  });

  it('a failing flush during an auto-stop never reaches the engine loop; the next stop() rejects naming the lost worker trace', async () => {
    for (const strict of [false, true]) {
      const r = rig({ max_iterations: 1, ignore_frontend: true }, { strict });
      r.source.failFlush = true;
      r.profiler.start();
      r.iterate();
      assert.doesNotThrow(() => r.iterate());
      assert.doesNotThrow(() => r.iterate());
      await assert.rejects(r.profiler.stop(), (e: unknown) => {
        assert.ok(e instanceof ProfilerExportError);
        assert.deepEqual(
          e.failures.map((f) => [f.kind, f.file]),
          [['worker', 'w-rank-0.*.pt.trace.json.gz']],
        );
        assert.match(e.failures[0]!.message, /flush exploded/);
        return true;
      });
    }
  });

  it('strict: a failing auto-stop is not thrown from step() and a failing shutdown not from detach() (vLLM swallows both); the next stop() reports them', async () => {
    const auto = rig({ max_iterations: 1, ignore_frontend: true }, { strict: true });
    auto.profiler.start();
    auto.iterate();
    auto.source.failEnd = true;
    assert.doesNotThrow(() => auto.profiler.step(), 'the auto-stop in the 2nd step()');
    assert.equal(auto.profiler.active, false);
    await assert.rejects(
      auto.profiler.stop(),
      (e: unknown) => e instanceof ProfilerExportError && /end exploded/.test(e.message) && e.failures[0]?.kind === 'worker',
    );

    const shut = rig({ ignore_frontend: true }, { strict: true });
    shut.profiler.start();
    shut.iterate();
    shut.source.failEnd = true;
    assert.doesNotThrow(() => shut.profiler.detach());
    assert.equal(shut.source.detached, true, 'detach() went on');
    await assert.rejects(shut.profiler.stop(), /end exploded/);

    // An explicit stop() is the caller's: strict rethrows its failure there (as vLLM's _propagate_errors).
    const explicit = rig({ ignore_frontend: true }, { strict: true });
    explicit.profiler.start();
    explicit.source.failEnd = true;
    await assert.rejects(explicit.profiler.stop(), /end exploded/);
  });

  it('a window that could not be opened: logged, never thrown into step(); the next stop() rejects naming the lost worker trace', async () => {
    const r = rig({ delay_iterations: 2, ignore_frontend: true });
    r.source.failCapture = true;
    r.profiler.start();
    assert.doesNotThrow(() => r.iterate(), 'the delayed start fails inside the 2nd step()');
    assert.doesNotThrow(() => r.iterate());
    await assert.rejects(r.profiler.stop(), (e: unknown) => {
      assert.ok(e instanceof ProfilerExportError);
      assert.deepEqual(
        e.failures.map((f) => [f.kind, f.file, f.message]),
        [['worker', 'w-rank-0.*.pt.trace.json.gz', 'w-rank-0.*.pt.trace.json.gz was not written: capture refused']],
      );
      return true;
    });

    // strict: start() itself throws it (vLLM's _propagate_errors), and the next stop() does not report it again.
    const s = rig({}, { strict: true });
    s.source.failCapture = true;
    assert.throws(() => s.profiler.start(), /capture refused/);
    assert.equal(s.profiler.active, false);
    assert.equal(s.profiler.frontendRunning, false, 'nothing of the failed start keeps running');
    assert.deepEqual(await s.profiler.stop(), []);
  });

  it('strict: a failure that costs no file (a readback) makes stop() reject with PROFILER_FAILED; without strict it is logged and stop() resolves', async () => {
    const s = rig({ ignore_frontend: true, torch_profiler_dump_cuda_time_total: false }, { strict: true });
    s.source.flushErrors = [new Error('READBACK_FAILED: submit 3')];
    s.profiler.start();
    s.iterate();
    await assert.rejects(s.profiler.stop(), (e: unknown) => {
      assert.ok(e instanceof ProfilerExportError);
      assert.equal(e.code, 'PROFILER_FAILED');
      assert.deepEqual(e.failures, []);
      assert.deepEqual(e.files, ['/out/w-rank-0.1.pt.trace.json.gz'], 'the trace was written');
      assert.match(e.message, /READBACK_FAILED: submit 3/);
      return true;
    });
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
    const r = rig(
      { ignore_frontend: true },
      {
        onTraceWritten: () => {
          throw new Error('callback bug');
        },
      },
    );
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

describe('Profiler with the real trace writer (fake capture): files and failures', () => {
  const roots: string[] = [];
  after(() => {
    for (const dir of roots) rmSync(dir, { recursive: true, force: true });
  });
  function tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'wgprof-profiler-unit-'));
    roots.push(dir);
    return dir;
  }
  /** One window of two iterations into `dir` (a config object that is not re-parsed: any dir reaches the sink). */
  async function profileInto(dir: string, extra: ProfilerConfigInput = {}): Promise<{ profiler: Profiler; result: Promise<string[]> }> {
    const clock = new Clock();
    const source = new FakeSource(clock);
    const config = {
      ...parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: '/placeholder', ignore_frontend: true, ...extra }),
      torch_profiler_dir: dir,
    };
    const profiler = new Profiler(config, { nowNs: clock.now, createCaptureSource: () => source, workerName: 'real-rank-0' });
    profiler.attach(fakeDevice);
    profiler.start();
    for (let i = 0; i < 2; i++) {
      profiler.step();
      profiler.beginIteration(`it${i}`);
      source.dispatch('matmul');
      profiler.endIteration();
    }
    return { profiler, result: profiler.stop() };
  }

  it('two windows of one worker keep two key-averages tables, each named after its trace', async () => {
    const dir = tempDir();
    const first = await (await profileInto(dir)).result;
    const second = await (await profileInto(dir)).result;
    for (const files of [first, second]) {
      const [trace, table] = files;
      assert.match(basename(trace!), /^real-rank-0\.\d+\.pt\.trace\.json\.gz$/);
      assert.equal(basename(table!), basename(trace!).replace('.pt.trace.json.gz', '.profiler_out.txt'));
      assert.match(readFileSync(table!, 'utf8'), /matmul/);
    }
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.profiler_out.txt')).length, 2);
  });

  it('a path longer than the system allows (ENAMETOOLONG): stop() rejects with TRACE_PATH_TOO_LONG naming it; nothing is left', async () => {
    const parent = tempDir();
    const dir = join(parent, 'x'.repeat(300));
    const { result } = await profileInto(dir);
    await assert.rejects(result, (e: unknown) => {
      assert.ok(e instanceof ProfilerExportError, String(e));
      assert.deepEqual(
        e.failures.map((f) => [f.kind, f.code]),
        [['worker', 'TRACE_PATH_TOO_LONG']],
      );
      assert.ok(e.failures[0]!.message.includes(dir.slice(0, 40)), e.failures[0]!.message);
      return true;
    });
    assert.deepEqual(readdirSync(parent), []);
  });

  it('a full disk (ENOSPC injected at the file handle): TRACE_DISK_FULL naming the file; no temp file left', async () => {
    const dir = tempDir();
    const restore = await injectEnospc(dir);
    let outcome: unknown;
    try {
      outcome = await (await profileInto(dir)).result.catch((e: unknown) => e);
    } finally {
      restore();
    }
    assert.ok(outcome instanceof ProfilerExportError, String(outcome));
    const [failure] = outcome.failures;
    assert.equal(failure?.code, 'TRACE_DISK_FULL');
    assert.match(failure!.file, new RegExp(`^${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/real-rank-0\\.\\d+\\.pt\\.trace\\.json\\.gz$`));
    assert.ok(outcome.message.includes(failure!.file), 'the message names the file');
    assert.deepEqual(readdirSync(dir), [], 'no temp file, no partial trace');
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
    assert.equal(
      p.frontendSpan('f', () => 7),
      7,
    );
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
    assert.deepEqual(
      r.perf.entries.map((e) => e.name),
      [PROFILE_START_MARK, 'ProfilerStep#1', 'execute_context_0(0)_generation_1(1)', PROFILE_STOP_MARK, PROFILE_MEASURE],
    );
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
