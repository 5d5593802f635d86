// The Profiler end to end on dawn.node (SwiftShader) with the real Instrumentation and trace writer:
// a hand-made matmul workload, profiled under different ProfilerConfigs; every written trace is read
// back with parseTraceFile and checked with validateTrace, and each config field's effect is checked
// both ways (on / off).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { matmul, matmulParams, type MatmulShape } from '../../kernels/matmul.js';
import { parseProfilerConfig, type ProfilerConfigInput } from '../../src/config/index.js';
import { compileKernel, createKernelBindGroup, encodeKernel, type CompiledKernel } from '../../src/engine/kernel-runner.js';
import { requestGpuDevice, type GpuRuntime } from '../../src/gpu/device.js';
import { ProfilerExportError } from '../../src/profiler/failures.js';
import { Profiler } from '../../src/profiler/profiler.js';
import { type KinetoTrace, type TraceEvent } from '../../src/trace/index.js';
import { parseTraceFile, validateTrace } from '../../src/report/index.js';
import { setLogSink } from '../../src/util/log.js';

const SHAPE: MatmulShape = { m: 32, n: 48, k: 24 };
const U = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 };

let runtime: GpuRuntime;
let device: GPUDevice;
let compiled: CompiledKernel<MatmulShape>;
const dirs: string[] = [];
/** Warnings and the key-averages tables go here, not to the test output. */
const logged: string[] = [];
let restoreLog: () => void = () => {};

before(async () => {
  restoreLog = setLogSink((level, message) => logged.push(`${level}: ${message}`));
  runtime = await requestGpuDevice();
  device = runtime.device;
  compiled = await compileKernel(device, matmul);
});

after(() => {
  restoreLog();
  runtime?.destroy();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function cpuMatmul(a: Float32Array, b: Float32Array, { m, n, k }: MatmulShape): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += a[i * k + p]! * b[p * n + j]!;
      c[i * n + j] = sum;
    }
  return c;
}

interface Run {
  dir: string;
  files: string[];
  /** Per iteration: the annotation given to beginIteration. */
  annotations: string[];
}

/**
 * Runs `iterations` iterations of the workload under a profiler with `config` (torch, into a fresh
 * dir), started before the first iteration and stopped after the last. Each iteration: step(),
 * a frontend span, beginIteration, writeBuffer A, a scratch buffer created and destroyed, two matmuls,
 * a readback checked against the CPU, endIteration. No validation error may fire.
 */
async function profileWorkload(config: ProfilerConfigInput, iterations: number): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'wgprof-gpu-profiler-'));
  dirs.push(dir);
  const profiler = new Profiler(parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: dir, ...config }), { strict: true, workerName: 'gpu-rank-0' });
  profiler.attach(device, runtime.facts);
  const { m, n, k } = SHAPE;
  const buffer = (size: number, usage: number, label: string) => device.createBuffer({ size, usage, label });
  const params = buffer(16, U.UNIFORM | U.COPY_DST, 'params');
  const a = buffer(4 * m * k, U.STORAGE | U.COPY_DST, 'a');
  const b = buffer(4 * k * n, U.STORAGE | U.COPY_DST, 'b');
  const bias = buffer(4 * n, U.STORAGE, 'bias');
  const c = buffer(4 * m * n, U.STORAGE | U.COPY_SRC, 'c');
  const read = buffer(4 * m * n, U.MAP_READ | U.COPY_DST, 'read');
  const bValues = Float32Array.from({ length: k * n }, (_, i) => ((i * 7) % 11) / 11 - 0.5);
  device.queue.writeBuffer(params, 0, matmulParams(SHAPE));
  device.queue.writeBuffer(b, 0, bValues);
  const bindGroup = createKernelBindGroup(compiled as CompiledKernel<unknown>, [params, a, b, bias, c]);
  const annotations: string[] = [];
  device.pushErrorScope('validation');
  profiler.start();
  try {
    for (let it = 1; it <= iterations; it++) {
      profiler.step();
      const aValues = profiler.frontendSpan('tokenize', () => Float32Array.from({ length: m * k }, (_, i) => ((i + it) % 5) - 2), { iteration: it });
      const annotation = `execute_context_0(0)_generation_1(${it})`;
      annotations.push(annotation);
      profiler.beginIteration(annotation);
      device.queue.writeBuffer(a, 0, aValues);
      const scratch = buffer(4096, U.STORAGE, 'scratch');
      const encoder = device.createCommandEncoder({ label: `iteration ${it}` });
      encodeKernel(encoder, compiled, SHAPE, bindGroup);
      encodeKernel(encoder, compiled, SHAPE, bindGroup);
      encoder.copyBufferToBuffer(c, 0, read, 0, read.size);
      device.queue.submit([encoder.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      const got = new Float32Array(read.getMappedRange().slice(0));
      read.unmap();
      scratch.destroy();
      profiler.endIteration();
      const want = cpuMatmul(aValues, bValues, SHAPE);
      const worst = got.reduce((w, v, i) => Math.max(w, Math.abs(v - want[i]!)), 0);
      assert.ok(worst < 1e-3, `iteration ${it}: GPU matmul differs from the CPU by ${worst}`);
    }
  } finally {
    const files = await profiler.stop();
    profiler.detach();
    const error = await device.popErrorScope();
    assert.equal(error, null, `validation error: ${error?.message}`);
    for (const buf of [params, a, b, bias, c, read]) buf.destroy();
    // eslint-disable-next-line no-unsafe-finally
    return { dir, files, annotations };
  }
}

async function readTrace(path: string): Promise<KinetoTrace> {
  const trace = await parseTraceFile(path);
  assert.deepEqual(validateTrace(trace), [], `${basename(path)} is a valid Kineto trace`);
  return trace;
}

const steps = (t: KinetoTrace): TraceEvent[] => t.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'user_annotation' && e.name.startsWith('ProfilerStep#'));
const ofCat = (t: KinetoTrace, cat: string): TraceEvent[] => t.traceEvents.filter((e) => e.cat === cat);
const inside = (inner: TraceEvent, outer: TraceEvent): boolean =>
  inner.ts >= outer.ts - 0.0005 && inner.ts + (inner.dur ?? 0) <= outer.ts + (outer.dur ?? 0) + 0.0005;

describe('Profiler on dawn.node: every option on (delay 2, max 3)', () => {
  let run: Run;
  let worker: KinetoTrace;
  let workerFile: string;

  before(async () => {
    run = await profileWorkload(
      {
        delay_iterations: 2,
        max_iterations: 3,
        torch_profiler_with_stack: true,
        torch_profiler_with_flops: true,
        torch_profiler_record_shapes: true,
        torch_profiler_with_memory: true,
        torch_profiler_use_gzip: true,
        torch_profiler_dump_cuda_time_total: true,
        ignore_frontend: false,
      },
      6,
    );
    workerFile = run.files.find((f) => basename(f).startsWith('gpu-rank-0.'))!;
    worker = await readTrace(workerFile);
  });

  it('writes the worker trace, the frontend trace and the key-averages table named after the trace, and reports exactly them', () => {
    assert.equal(run.files.length, 3, run.files.join(', '));
    assert.deepEqual(readdirSync(run.dir).sort(), run.files.map((f) => basename(f)).sort());
    assert.match(basename(workerFile), /^gpu-rank-0\.\d{19}\.pt\.trace\.json\.gz$/);
    assert.ok(
      run.files.some((f) => /^[^.]+_\d+\.async_llm\.\d{19}\.pt\.trace\.json\.gz$/.test(basename(f))),
      'frontend file name',
    );
    assert.ok(existsSync(workerFile.replace(/\.pt\.trace\.json\.gz$/, '.profiler_out.txt')));
  });

  it('use_gzip: the files are gzip (magic 1f 8b)', () => {
    for (const f of run.files.filter((x) => x.endsWith('.gz'))) {
      const bytes = readFileSync(f);
      assert.deepEqual([bytes[0], bytes[1]], [0x1f, 0x8b], basename(f));
    }
  });

  it('delay 2 / max 3: exactly ProfilerStep#2..#4, annotated with iterations 2..4', () => {
    const s = steps(worker);
    assert.deepEqual(
      s.map((e) => e.name),
      ['ProfilerStep#2', 'ProfilerStep#3', 'ProfilerStep#4'],
    );
    const annotations = ofCat(worker, 'user_annotation').filter((e) => e.name.startsWith('execute_'));
    assert.deepEqual(
      annotations.map((e) => e.name),
      run.annotations.slice(1, 4),
    );
    for (const [i, annotation] of annotations.entries()) assert.ok(inside(annotation, s[i]!), `${annotation.name} inside ${s[i]!.name}`);
  });

  it('every kernel has a GPU duration and lies inside its step (by correlation)', () => {
    const kernels = ofCat(worker, 'kernel');
    assert.equal(kernels.length, 6, 'two matmuls in each of three steps');
    const launches = new Map(ofCat(worker, 'cuda_runtime').map((e) => [e.args?.['correlation'], e]));
    const s = steps(worker);
    for (const kernel of kernels) {
      assert.ok((kernel.dur ?? 0) > 0, `${kernel.name} has a GPU duration`);
      const launch = launches.get(kernel.args?.['correlation']);
      assert.ok(launch, 'kernel has its launch');
      const step = s.find((st) => inside(launch, st));
      assert.ok(step, 'launch inside a step');
      assert.ok(inside(kernel, step), `kernel [${kernel.ts}, +${kernel.dur}] inside ${step.name} [${step.ts}, +${step.dur}]`);
    }
    assert.equal(worker.wgprof?.timestamps && (worker.wgprof.timestamps as { mode: string }).mode, 'pass-boundaries');
  });

  it('with_flops: FLOPs on the matmul op = 2·M·N·K; per-step totals and achieved rates on the step', () => {
    const ops = ofCat(worker, 'cpu_op').filter((e) => e.name === 'matmul');
    assert.equal(ops.length, 6);
    for (const op of ops) assert.equal(op.args?.['flops'], 2 * SHAPE.m * SHAPE.n * SHAPE.k);
    for (const step of steps(worker)) {
      assert.equal(step.args?.['flops'], 2 * 2 * SHAPE.m * SHAPE.n * SHAPE.k);
      assert.ok((step.args?.['achieved_gflop_per_s'] as number) > 0);
      assert.ok((step.args?.['achieved_gb_per_s'] as number) > 0);
    }
    assert.equal(worker.with_flops, 1);
  });

  it('record_shapes: Input Dims / Input type on the op', () => {
    const op = ofCat(worker, 'cpu_op').find((e) => e.name === 'matmul')!;
    assert.deepEqual(op.args?.['Input Dims'], [
      [SHAPE.m, SHAPE.k],
      [SHAPE.k, SHAPE.n],
    ]);
    assert.deepEqual(op.args?.['Input type'], ['float', 'float']);
    assert.equal(worker.record_shapes, 1);
  });

  it('with_stack: a JS call stack on the op', () => {
    const op = ofCat(worker, 'cpu_op').find((e) => e.name === 'matmul')!;
    assert.match(String(op.args?.['Call stack']), /encodeKernel/);
    assert.equal(worker.with_stack, 1);
  });

  it('with_memory: [memory] events for the scratch buffer of each captured iteration, and a per-step peak', () => {
    const memory = worker.traceEvents.filter((e) => e.name === '[memory]');
    const allocs = memory.filter((e) => e.args?.['Bytes'] === 4096);
    const frees = memory.filter((e) => e.args?.['Bytes'] === -4096);
    assert.equal(allocs.length, 3);
    assert.equal(frees.length, 3);
    for (const step of steps(worker)) assert.ok((step.args?.['peak_allocated_bytes'] as number) >= 4096);
    assert.equal(worker.profile_memory, 1);
  });

  it('the frontend trace: CPU-only spans of every iteration (not limited by delay/max)', async () => {
    const frontend = await readTrace(run.files.find((f) => f.includes('.async_llm.'))!);
    const spans = ofCat(frontend, 'cpu_op').filter((e) => e.name === 'tokenize');
    assert.deepEqual(
      spans.map((e) => e.args?.['iteration']),
      [1, 2, 3, 4, 5, 6],
    );
    assert.equal(ofCat(frontend, 'kernel').length, 0);
    assert.equal(frontend.deviceProperties.length, 0, 'no device entries in a CPU-only trace');
  });

  it('dump_cuda_time_total: {worker}.{time_ns}.profiler_out.txt is the key-averages table sorted by self GPU time', () => {
    const table = readFileSync(workerFile.replace(/\.pt\.trace\.json\.gz$/, '.profiler_out.txt'), 'utf8');
    assert.match(table, /Self GPU/);
    assert.match(table, /matmul/);
    assert.match(table, /Self GPU time total/);
    assert.ok(
      logged.some((line) => line.startsWith('info: gpu-rank-0 key averages') && line.includes('matmul')),
      'printed on rank 0',
    );
  });
});

describe('Profiler on dawn.node: every option off (delay 0, max 0)', () => {
  let run: Run;
  let worker: KinetoTrace;

  before(async () => {
    run = await profileWorkload(
      {
        torch_profiler_with_stack: false,
        torch_profiler_with_flops: false,
        torch_profiler_record_shapes: false,
        torch_profiler_with_memory: false,
        torch_profiler_use_gzip: false,
        torch_profiler_dump_cuda_time_total: false,
        ignore_frontend: true,
      },
      3,
    );
    worker = await readTrace(run.files[0]!);
  });

  it('ignore_frontend + no dump: only the worker trace, plain JSON (.json, starts with "{")', () => {
    assert.equal(run.files.length, 1, run.files.join(', '));
    assert.match(basename(run.files[0]!), /^gpu-rank-0\.\d{19}\.pt\.trace\.json$/);
    assert.equal(readFileSync(run.files[0]!, 'utf8')[0], '{');
    assert.ok(!readdirSync(run.dir).some((f) => f.endsWith('.txt')), 'no table');
  });

  it('delay 0 / max 0: every iteration is a step', () => {
    assert.deepEqual(
      steps(worker).map((e) => e.name),
      ['ProfilerStep#1', 'ProfilerStep#2', 'ProfilerStep#3'],
    );
    assert.equal(ofCat(worker, 'kernel').length, 6);
  });

  it('no FLOPs, no shapes, no stack, no [memory] events, no option flags', () => {
    for (const op of ofCat(worker, 'cpu_op')) {
      assert.equal(op.args?.['flops'], undefined);
      assert.equal(op.args?.['Input Dims'], undefined);
      assert.equal(op.args?.['Call stack'], undefined);
    }
    assert.equal(worker.traceEvents.filter((e) => e.name === '[memory]').length, 0);
    assert.equal(worker.with_stack, undefined);
    assert.equal(worker.with_flops, undefined);
    assert.equal(worker.record_shapes, undefined);
    assert.equal(worker.profile_memory, undefined);
  });
});

describe('Profiler on dawn.node: windows', () => {
  it('max 2 without delay captures iterations 1..2; stop() during a delay writes no worker trace', async () => {
    const limited = await profileWorkload({ max_iterations: 2, ignore_frontend: true, torch_profiler_dump_cuda_time_total: false }, 4);
    assert.equal(limited.files.length, 1);
    assert.deepEqual(
      steps(await readTrace(limited.files[0]!)).map((e) => e.name),
      ['ProfilerStep#1', 'ProfilerStep#2'],
    );

    const delayed = await profileWorkload({ delay_iterations: 5, torch_profiler_dump_cuda_time_total: true }, 2);
    assert.equal(delayed.files.length, 1, 'only the frontend trace');
    assert.ok(delayed.files[0]!.includes('.async_llm.'));
    assert.ok(!readdirSync(delayed.dir).some((f) => f.endsWith('.txt')), 'no table');
  });
});

describe('Profiler on dawn.node: the device destroyed before the capture was read back', () => {
  it('the readback failure says the device was destroyed or lost (no empty reason); strict stop() rejects with it, the trace is still written', async () => {
    const own = await requestGpuDevice();
    const dir = mkdtempSync(join(tmpdir(), 'wgprof-gpu-destroyed-'));
    dirs.push(dir);
    const config = parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: dir, ignore_frontend: true, torch_profiler_dump_cuda_time_total: false });
    const profiler = new Profiler(config, { strict: true, workerName: 'lost-rank-0' });
    profiler.attach(own.device, own.facts);
    const kernel = await compileKernel(own.device, matmul);
    const { m, n, k } = SHAPE;
    const make = (size: number, usage: number) => own.device.createBuffer({ size, usage });
    const bindGroup = createKernelBindGroup(kernel as CompiledKernel<unknown>, [
      make(16, U.UNIFORM | U.COPY_DST),
      make(4 * m * k, U.STORAGE),
      make(4 * k * n, U.STORAGE),
      make(4 * n, U.STORAGE),
      make(4 * m * n, U.STORAGE),
    ]);
    profiler.start();
    profiler.step();
    profiler.beginIteration('execute_context_0(0)_generation_1(1)');
    const encoder = own.device.createCommandEncoder();
    encodeKernel(encoder, kernel, SHAPE, bindGroup);
    own.device.queue.submit([encoder.finish()]);
    profiler.endIteration();
    // Destroyed while the submit's timestamps are still being mapped: their mapAsync is aborted.
    own.device.destroy();
    const error = await profiler.stop().then(
      () => assert.fail('stop() resolved'),
      (e: unknown) => e,
    );
    profiler.detach();
    assert.ok(error instanceof ProfilerExportError, String(error));
    assert.equal(error.code, 'PROFILER_FAILED');
    assert.match(error.message, /READBACK_FAILED: timestamp readback of submit \d+ failed: \w+ with no message: the device was destroyed or lost/);
    assert.doesNotMatch(error.message, /failed: ;/);
    assert.deepEqual(
      error.files.map((f) => basename(f).replace(/\d{19}/, 'N')),
      ['lost-rank-0.N.pt.trace.json.gz'],
    );
    assert.deepEqual(validateTrace(await parseTraceFile(error.files[0]!)), []);
  });
});
