// The done-when, as a test: a tiny engine run with 4 requests × 8 tokens, profiled with
// delay 2, max 3, flops + memory + shapes, writes exactly one worker trace with ProfilerStep#2..#4,
// one frontend trace and its key-averages table; every kernel has a GPU duration inside its step; the
// matmul FLOPs equal 2·M·N·K exactly (as torch counts addmm; the fused epilogue is not counted).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { matmul, matmulBias, matmulBiasGelu } from '../../kernels/matmul.js';
import { createEngine } from '../../src/engine/index.js';
import { Profiler } from '../../src/profiler/profiler.js';
import { type KinetoTrace, type TraceEvent } from '../../src/trace/index.js';
import { checkStepTotals, parseTraceFile, validateTrace } from '../../src/report/index.js';
import { htaModel } from '../../src/report/hta.js';
import { mergeTraces } from '../../src/report/merge.js';
import { parseProfilerConfig } from '../../src/config/index.js';
import { setLogSink } from '../../src/util/log.js';

let dir: string;
let files: string[];
let worker: KinetoTrace;
let frontend: KinetoTrace;
let restoreLog: () => void = () => {};

before(async () => {
  restoreLog = setLogSink(() => undefined);
  dir = mkdtempSync(join(tmpdir(), 'wgprof-gpu-engine-'));
  // The engine's own hook-up: createEngine({ profilerConfig }) parses it and creates the Profiler.
  const profilerConfig = {
    profiler: 'torch',
    torch_profiler_dir: dir,
    delay_iterations: 2,
    max_iterations: 3,
    torch_profiler_with_flops: true,
    torch_profiler_with_memory: true,
    torch_profiler_record_shapes: true,
  };
  const engine = await createEngine({ model: 'tiny', profilerConfig, seed: 3 });
  assert.ok(engine.profiler instanceof Profiler);
  try {
    // A named caller: every dispatch's JS stack must reach it through the engine's awaits.
    async function summarizeTheNews(): Promise<string[]> {
      engine.startProfile();
      const prompts = ['The quick brown fox', 'WebGPU inference profiling', 'Once upon a time,', 'Hello, world!'];
      await engine.generate(prompts, { maxTokens: 8 });
      return engine.stopProfile();
    }
    files = await summarizeTheNews();
  } finally {
    await engine.destroy();
  }
  const workerFile = files.find((f) => /-rank-0\.\d+\.pt\.trace\.json\.gz$/.test(f))!;
  worker = await parseTraceFile(workerFile);
  frontend = await parseTraceFile(files.find((f) => f.includes('.async_llm.'))!);
});

after(() => {
  restoreLog();
  rmSync(dir, { recursive: true, force: true });
});

const steps = (t: KinetoTrace): TraceEvent[] => t.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'user_annotation' && e.name.startsWith('ProfilerStep#'));
const inside = (inner: TraceEvent, outer: TraceEvent): boolean =>
  inner.ts >= outer.ts - 0.0005 && inner.ts + (inner.dur ?? 0) <= outer.ts + (outer.dur ?? 0) + 0.0005;

describe('profiled tiny engine run (delay 2, max 3)', () => {
  it('writes exactly one worker trace, one frontend trace and the table {worker}.{time_ns}.profiler_out.txt', () => {
    assert.equal(files.length, 3, files.join(', '));
    assert.deepEqual(readdirSync(dir).sort(), files.map((f) => basename(f)).sort());
    const workerFile = files.find((f) => f.endsWith('.pt.trace.json.gz') && !f.includes('.async_llm.'))!;
    assert.ok(files.includes(workerFile.replace(/\.pt\.trace\.json\.gz$/, '.profiler_out.txt')));
    assert.deepEqual(validateTrace(worker), []);
    // What wgprof summarize says of the file agrees with the trace's own per-step totals (kernel count, GPU time).
    assert.deepEqual(checkStepTotals(worker).problems, []);
    assert.deepEqual(validateTrace(frontend), []);
  });

  it("every op's JS stack (with_stack, vLLM's default) reaches the function that called generate()", () => {
    // (The ops wgprof opens around copies, wgprof::writeBuffer & co, carry no stack: copies record none.)
    const ops = worker.traceEvents.filter((e) => e.cat === 'cpu_op' && !e.name.startsWith('wgprof::'));
    assert.ok(ops.length > 20);
    for (const op of ops) {
      const stack = String(op.args?.['Call stack'] ?? '');
      assert.match(stack, /^encodeKernel /, stack);
      assert.match(stack, /async InferenceEngine\.generate .*;async summarizeTheNews /, stack);
    }
  });

  it('has exactly ProfilerStep#2..#4 with vLLM annotations', () => {
    assert.deepEqual(
      steps(worker).map((e) => e.name),
      ['ProfilerStep#2', 'ProfilerStep#3', 'ProfilerStep#4'],
    );
    const annotations = worker.traceEvents.filter((e) => e.cat === 'user_annotation' && e.name.startsWith('execute_'));
    assert.equal(annotations.length, 3);
    for (const a of annotations) assert.match(a.name, /^execute_context_\d+\(\d+\)_generation_\d+\(\d+\)$/);
  });

  it('every kernel has a GPU duration from timestamp queries and lies inside its step', () => {
    const kernels = worker.traceEvents.filter((e) => e.cat === 'kernel');
    assert.ok(kernels.length > 0);
    const launches = new Map(worker.traceEvents.filter((e) => e.cat === 'cuda_runtime').map((e) => [e.args?.['correlation'], e]));
    const s = steps(worker);
    for (const kernel of kernels) {
      assert.ok((kernel.dur ?? 0) > 0, `${kernel.name}: GPU duration`);
      const launch = launches.get(kernel.args?.['correlation'])!;
      const step = s.find((st) => inside(launch, st));
      assert.ok(step, `${kernel.name}: launch inside a step`);
      assert.ok(inside(kernel, step), `${kernel.name} inside ${step.name}`);
    }
  });

  it("matmul FLOPs equal 2·M·N·K, the kernel descriptor's cost", () => {
    const descriptors = { matmul, matmulBias, matmulBiasGelu } as const;
    const ops = worker.traceEvents.filter((e) => e.cat === 'cpu_op' && e.name.startsWith('matmul'));
    assert.ok(ops.length > 0);
    for (const op of ops) {
      const [[m, k], [, n]] = op.args?.['Input Dims'] as [[number, number], [number, number]];
      const flops = op.args?.['flops'] as number;
      assert.equal(flops, descriptors[op.name as keyof typeof descriptors].cost!({ m, n, k }).flops, `${op.name} [${m}x${k}]·[${k}x${n}]`);
      assert.equal(flops, 2 * m * n * k, `${op.name}: ${flops} = 2·${m}·${n}·${k}`);
    }
  });

  it('with_memory: the allocated-bytes counter track has a sample at each step start, at most the step peak', () => {
    const counters = worker.traceEvents.filter((e) => e.ph === 'C' && e.name === 'GPU Memory Allocated');
    const s = steps(worker);
    for (const step of s) {
      const sample = counters.find((c) => c.ts === step.ts);
      assert.ok(sample, `${step.name}: a counter sample at its start`);
      const bytes = sample.args?.['bytes'] as number;
      // The engine allocates everything up front (weights, KV cache, activations): the level is that.
      assert.ok(bytes > 0, `${step.name}: ${bytes} bytes allocated`);
      assert.ok(bytes <= (step.args?.['peak_allocated_bytes'] as number), `${step.name}: level ≤ peak`);
    }
  });

  it('every kernel, memcpy and launch correlates to a host op; HTA finds no launch under the WebGPU names', () => {
    const ops = new Map(worker.traceEvents.filter((e) => e.cat === 'cpu_op').map((e) => [e.args?.['External id'], e]));
    const launches = new Map(worker.traceEvents.filter((e) => e.cat === 'cuda_runtime').map((e) => [e.args?.['correlation'], e]));
    const gpu = worker.traceEvents.filter((e) => e.cat === 'kernel' || e.cat === 'gpu_memcpy');
    assert.ok(gpu.some((e) => e.cat === 'gpu_memcpy') && launches.size > gpu.length, 'the engine writes buffers (no GPU interval) and copies (a memcpy)');
    for (const e of gpu) {
      const launch = launches.get(e.args?.['correlation']);
      assert.ok(launch, `${e.name}: a launch with its correlation`);
      assert.equal(launch.args?.['External id'], e.args?.['External id'], `${e.name}: its launch's External id`);
    }
    for (const launch of launches.values()) {
      const op = ops.get(launch.args?.['External id']);
      assert.ok(op, `${launch.name} (correlation ${String(launch.args?.['correlation'])}): an op with its External id`);
      assert.ok(inside(launch, op), `${launch.name} inside ${op.name}`);
      if (launch.name !== 'dispatchWorkgroups') assert.equal(op.name, `wgprof::${launch.name}`);
    }
    assert.deepEqual(validateTrace(worker, { attributed: true }), []);
    assert.equal(htaModel(worker).queueLengthLaunches, 0);
    assert.ok(validateTrace(worker, { hta: true }).some((p) => /under a name HTA's launch analyses skip/.test(p)));
  });

  it('the frontend trace holds the API-layer spans of the whole run', () => {
    const names = new Set(frontend.traceEvents.filter((e) => e.cat === 'cpu_op').map((e) => e.name));
    for (const name of ['schedule', 'detokenize']) assert.ok(names.has(name), `frontend has ${name}`);
    assert.equal(frontend.traceEvents.filter((e) => e.cat === 'kernel').length, 0);
  });
});

describe("profiled tiny engine run with vLLM main's schedule (warmup 2, active 3) and per-session bounds", () => {
  let scheduled: { files: string[]; writtenBeforeStop: boolean; worker: KinetoTrace };
  let bounded: KinetoTrace;
  const dirs: string[] = [];

  before(async () => {
    const scheduleDir = mkdtempSync(join(tmpdir(), 'wgprof-gpu-schedule-'));
    dirs.push(scheduleDir);
    const config = { profiler: 'torch', torch_profiler_dir: scheduleDir, warmup_iterations: 2, active_iterations: 3, ignore_frontend: true };
    const engine = await createEngine({ model: 'tiny', profilerConfig: config, seed: 4 });
    try {
      engine.startProfile();
      // 4 requests × 8 tokens: more than the 5 iterations the schedule needs.
      await engine.generate(['The quick brown fox', 'WebGPU', 'Once upon a time,', 'Hello'], { maxTokens: 8 });
      const profiler = engine.profiler as Profiler;
      await profiler.flushed();
      const writtenBeforeStop = profiler.lastCapture !== undefined;
      const files = await engine.stopProfile();
      scheduled = { files, writtenBeforeStop, worker: await parseTraceFile(files.find((f) => f.endsWith('.pt.trace.json.gz'))!) };
    } finally {
      await engine.destroy();
    }
    // vLLM main's per-call bounds: startProfile()'s own delay / max for one session.
    const boundedDir = mkdtempSync(join(tmpdir(), 'wgprof-gpu-bounds-'));
    dirs.push(boundedDir);
    const plain = await createEngine({ model: 'tiny', profilerConfig: { profiler: 'torch', torch_profiler_dir: boundedDir, ignore_frontend: true }, seed: 4 });
    try {
      plain.startProfile({ delayIterations: 3, maxIterations: 2 });
      await plain.generate(['The quick brown fox', 'WebGPU'], { maxTokens: 6 });
      const files = await plain.stopProfile();
      bounded = await parseTraceFile(files.find((f) => f.endsWith('.pt.trace.json.gz'))!);
    } finally {
      await plain.destroy();
    }
  });

  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('records ProfilerStep#2..#4 (iteration 1 is the warmup) and writes the trace when the active iterations end, before stop', () => {
    assert.deepEqual(validateTrace(scheduled.worker), []);
    assert.deepEqual(
      steps(scheduled.worker).map((e) => e.name),
      ['ProfilerStep#2', 'ProfilerStep#3', 'ProfilerStep#4'],
    );
    assert.equal(scheduled.writtenBeforeStop, true);
    assert.equal(scheduled.files.length, 2, scheduled.files.join(', '));
    assert.deepEqual((scheduled.worker as unknown as { wgprof: { schedule?: unknown } }).wgprof.schedule, { wait: 0, warmup: 2, active: 3 });
  });

  it('nothing of the warmup is in the trace: every launch lies inside a recorded step, with its annotation', () => {
    const s = steps(scheduled.worker);
    const launches = scheduled.worker.traceEvents.filter((e) => e.cat === 'cuda_runtime');
    assert.ok(launches.length > 0);
    for (const launch of launches)
      assert.ok(
        s.some((step) => inside(launch, step)),
        `${launch.name} at ${launch.ts} inside a step`,
      );
    const annotations = scheduled.worker.traceEvents.filter((e) => e.cat === 'user_annotation' && e.name.startsWith('execute_'));
    assert.equal(annotations.length, 3);
  });

  it('startProfile({ delayIterations: 3, maxIterations: 2 }) bounds that session: ProfilerStep#3, #4', () => {
    assert.deepEqual(
      steps(bounded).map((e) => e.name),
      ['ProfilerStep#3', 'ProfilerStep#4'],
    );
    assert.equal((bounded as unknown as { wgprof: { delay_iterations?: number } }).wgprof.delay_iterations, 3);
  });
});

describe('an unbounded window past its memory budget (max_iterations 0): segments that merge into one timeline', () => {
  let segments: KinetoTrace[];
  let merged: KinetoTrace;
  let warnings: string[];
  const dirs: string[] = [];

  before(async () => {
    const segmentDir = mkdtempSync(join(tmpdir(), 'wgprof-gpu-segments-'));
    dirs.push(segmentDir);
    warnings = [];
    const restore = setLogSink((level, message) => level === 'warn' && warnings.push(message));
    // A budget of one iteration's records: each step boundary writes the window so far as a segment.
    const profiler = new Profiler(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: segmentDir, ignore_frontend: true }), { memoryBudgetBytes: 1 });
    const engine = await createEngine({ model: 'tiny', profiler, seed: 5 });
    let files: string[];
    try {
      engine.startProfile();
      await engine.generate(['The quick brown fox', 'WebGPU'], { maxTokens: 3 });
      files = await engine.stopProfile();
    } finally {
      await engine.destroy();
      restore();
    }
    const traces = files.filter((f) => f.endsWith('.pt.trace.json.gz'));
    segments = await Promise.all(traces.map((f) => parseTraceFile(f)));
    const out = join(segmentDir, 'merged.pt.trace.json.gz');
    await mergeTraces(traces, out);
    merged = await parseTraceFile(out);
  });

  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('every segment is a complete, valid trace of its own iterations, numbered on, with its segment index', () => {
    assert.ok(segments.length >= 3, `${segments.length} segments`);
    const numbers: number[] = [];
    segments.forEach((trace, i) => {
      assert.deepEqual(validateTrace(trace), []);
      assert.equal(checkStepTotals(trace).ok, true);
      assert.equal((trace as unknown as { wgprof: { segment?: number } }).wgprof.segment, i);
      numbers.push(...steps(trace).map((e) => Number(e.name.split('#')[1])));
    });
    assert.deepEqual(
      numbers,
      numbers.map((_, i) => i + 1),
      'ProfilerStep#1..#n across the segments, none repeated or lost',
    );
    assert.equal(warnings.filter((w) => /memory budget/.test(w)).length, 1, warnings.join('\n'));
  });

  it('wgprof merge joins the segments on one host process and one GPU row, every kernel kept', () => {
    assert.deepEqual(validateTrace(merged), []);
    const kernels = (t: KinetoTrace): number => t.traceEvents.filter((e) => e.cat === 'kernel').length;
    assert.equal(
      kernels(merged),
      segments.reduce((n, t) => n + kernels(t), 0),
    );
    const pids = (cat: string): Set<unknown> => new Set(merged.traceEvents.filter((e) => e.cat === cat).map((e) => e.pid));
    assert.equal(pids('kernel').size, 1, 'one GPU row');
    assert.equal(pids('cpu_op').size, 1, 'one host process');
    assert.equal((merged as unknown as { deviceProperties: unknown[] }).deviceProperties.length, 1);
  });
});
