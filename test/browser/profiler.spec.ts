// The Profiler in headless Chromium (SwiftShader, timestamps inside passes): a matmul workload profiled
// with a CallbackSink, the trace parsed and validated in the page, and the contract fields checked;
// 'cuda' mode's User Timing marks checked through the page's own performance timeline.
//
// The page imports a small test bundle built here with esbuild from the sources (Profiler, config,
// trace reader, kernels), so this spec does not depend on which names src/browser.ts exports.

import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from './fixtures.js';
import { REPO_ROOT } from './server.js';
import type * as ConfigModule from '../../src/config/index.js';
import type * as RunnerModule from '../../src/engine/kernel-runner.js';
import type * as DeviceModule from '../../src/gpu/device.js';
import type * as MatmulModule from '../../kernels/matmul.js';
import type * as ProfilerModule from '../../src/profiler/profiler.js';
import type * as ParseModule from '../../src/report/parse.js';
import type * as SinksModule from '../../src/trace/sinks.js';
import type * as ValidateModule from '../../src/report/validate.js';
import type * as HintsModule from '../../src/instrument/hints.js';

/** What the test bundle exports (ENTRY below). */
type PageBundle = Pick<typeof ProfilerModule, 'Profiler'> &
  Pick<typeof ConfigModule, 'parseProfilerConfig'> &
  Pick<typeof SinksModule, 'CallbackSink'> &
  Pick<typeof ParseModule, 'parseTraceBytes'> &
  Pick<typeof ValidateModule, 'validateTrace'> &
  Pick<typeof DeviceModule, 'requestGpuDevice'> &
  Pick<typeof MatmulModule, 'matmul' | 'matmulParams'> &
  Pick<typeof RunnerModule, 'compileKernel' | 'createKernelBindGroup' | 'encodeKernel'> &
  Pick<typeof HintsModule, 'noteDispatch'>;

const BUNDLE_DIR = join(REPO_ROOT, 'dist/test');
const BUNDLE_URL = '/dist/test/profiler-page.js';

const ENTRY = `
export { Profiler } from './src/profiler/profiler.js';
export { parseProfilerConfig } from './src/config/index.js';
export { CallbackSink } from './src/trace/sinks.js';
export { parseTraceBytes } from './src/report/parse.js';
export { validateTrace } from './src/report/validate.js';
export { requestGpuDevice } from './src/gpu/device.js';
export { matmul, matmulParams } from './kernels/matmul.js';
export { compileKernel, createKernelBindGroup, encodeKernel } from './src/engine/kernel-runner.js';
export { noteDispatch } from './src/instrument/hints.js';
`;

test.beforeAll(async () => {
  mkdirSync(BUNDLE_DIR, { recursive: true });
  await build({
    stdin: { contents: ENTRY, resolveDir: REPO_ROOT, sourcefile: 'profiler-page-entry.ts', loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    loader: { '.wgsl': 'text' },
    outfile: join(BUNDLE_DIR, 'profiler-page.js'),
    external: ['webgpu', 'node:*'],
    logLevel: 'warning',
  });
});

test('torch mode: traces through a callback sink, inside-passes GPU times, contract fields', async ({ gpuPage }) => {
  const result = await gpuPage.evaluate(async (bundleUrl) => {
    const w = (await import(bundleUrl)) as PageBundle;
    const runtime = await w.requestGpuDevice();
    const device = runtime.device;
    const files = new Map<string, Uint8Array>();
    const config = w.parseProfilerConfig({
      profiler: 'torch',
      torch_profiler_dir: 'browser-traces',
      delay_iterations: 2,
      max_iterations: 2,
      torch_profiler_with_flops: true,
      torch_profiler_record_shapes: true,
    });
    const profiler = new w.Profiler(config, {
      sink: new w.CallbackSink((name, bytes) => void files.set(name, bytes)),
      workerName: 'page-rank-0',
      strict: true,
    });
    profiler.attach(device, runtime.facts);
    const shape = { m: 32, n: 48, k: 24 };
    const compiled = await w.compileKernel(device, w.matmul);
    const buffer = (size: number, usage: number) => device.createBuffer({ size, usage });
    const params = buffer(16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const a = buffer(4 * shape.m * shape.k, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    const b = buffer(4 * shape.k * shape.n, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    const bias = buffer(4 * shape.n, GPUBufferUsage.STORAGE);
    const c = buffer(4 * shape.m * shape.n, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    const read = buffer(4 * shape.m * shape.n, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(params, 0, w.matmulParams(shape));
    device.queue.writeBuffer(a, 0, new Float32Array(shape.m * shape.k).fill(1));
    device.queue.writeBuffer(b, 0, new Float32Array(shape.k * shape.n).fill(0.5));
    const group = w.createKernelBindGroup(compiled as never, [params, a, b, bias, c]);
    device.pushErrorScope('validation');
    profiler.start();
    let firstValue = NaN;
    for (let it = 1; it <= 5; it++) {
      profiler.step();
      profiler.frontendSpan('tokenize', () => undefined, { iteration: it });
      profiler.beginIteration(`execute_context_0(0)_generation_1(${it})`);
      const encoder = device.createCommandEncoder();
      // Two dispatches in one pass: inside-passes timing needs no pass split.
      const pass = encoder.beginComputePass({ label: 'two matmuls' });
      pass.setPipeline(compiled.pipeline);
      pass.setBindGroup(0, group);
      for (let d = 0; d < 2; d++) {
        const [x, y, z] = w.matmul.dispatch(shape);
        w.noteDispatch(device, w.matmul, shape);
        pass.dispatchWorkgroups(x, y, z);
      }
      pass.end();
      encoder.copyBufferToBuffer(c, 0, read, 0, read.size);
      device.queue.submit([encoder.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      firstValue = new Float32Array(read.getMappedRange())[0]!;
      read.unmap();
      profiler.endIteration();
    }
    const written = await profiler.stop();
    profiler.detach();
    const error = await device.popErrorScope();
    runtime.destroy();

    const traces = [...files].filter(([name]) => name.includes('.pt.trace.json'));
    const parsed = traces.map(([name, bytes]) => {
      const trace = w.parseTraceBytes(bytes, name);
      return { name, gzip: bytes[0] === 0x1f && bytes[1] === 0x8b, trace, problems: w.validateTrace(trace) };
    });
    const worker = parsed.find((p) => p.name.startsWith('page-rank-0.'))!;
    const frontend = parsed.find((p) => p.name.includes('.async_llm.'))!;
    const events = worker.trace.traceEvents;
    const steps = events.filter((e) => e.cat === 'user_annotation' && e.name.startsWith('ProfilerStep#'));
    const kernels = events.filter((e) => e.cat === 'kernel');
    const launches = new Map(events.filter((e) => e.cat === 'cuda_runtime').map((e) => [e.args?.['correlation'], e]));
    const within = (inner: { ts: number; dur?: number }, outer: { ts: number; dur?: number }) =>
      inner.ts >= outer.ts - 0.0005 && inner.ts + (inner.dur ?? 0) <= outer.ts + (outer.dur ?? 0) + 0.0005;
    const kernelsInSteps = kernels.every((k) => {
      const launch = launches.get(k.args?.['correlation']);
      const step = launch && steps.find((s) => within(launch, s));
      return Boolean(step && (k.dur ?? 0) > 0 && within(k, step));
    });
    const ops = events.filter((e) => e.cat === 'cpu_op' && e.name === 'matmul');
    return {
      validationError: error?.message ?? null,
      firstValue,
      written,
      fileNames: [...files.keys()].sort(),
      problems: parsed.map((p) => p.problems),
      gzip: parsed.map((p) => p.gzip),
      stepNames: steps.map((s) => s.name),
      kernelCount: kernels.length,
      kernelsInSteps,
      flops: ops.map((o) => o.args?.['flops']),
      inputDims: ops[0]?.args?.['Input Dims'],
      timestampMode: (worker.trace.wgprof?.timestamps as { mode?: string } | undefined)?.mode,
      schemaVersion: worker.trace.schemaVersion,
      deviceCount: worker.trace.deviceProperties.length,
      distributedInfo: worker.trace.distributedInfo,
      baseTimeNanoseconds: worker.trace.baseTimeNanoseconds,
      traceName: worker.trace.traceName,
      frontendName: frontend?.name,
      frontendSpans: frontend?.trace.traceEvents.filter((e) => e.cat === 'cpu_op').map((e) => e.args?.['iteration']),
      frontendDevices: frontend?.trace.deviceProperties.length,
    };
  }, BUNDLE_URL);

  expect(result.validationError).toBeNull();
  expect(result.firstValue).toBeCloseTo(12, 4); // 24 × 1 × 0.5
  expect(result.problems).toEqual([[], []]);
  expect(result.gzip).toEqual([true, true]);
  expect([...result.written].sort()).toEqual(result.fileNames);
  expect(result.fileNames).toHaveLength(3);
  // The key-averages table is named after its trace: {worker}.{time_ns}.profiler_out.txt.
  expect(result.fileNames).toContain(
    result.fileNames.find((n) => n.startsWith('page-rank-0.') && n.endsWith('.pt.trace.json.gz'))!.replace('.pt.trace.json.gz', '.profiler_out.txt'),
  );
  expect(result.stepNames).toEqual(['ProfilerStep#2', 'ProfilerStep#3']);
  expect(result.kernelCount).toBe(4);
  expect(result.kernelsInSteps).toBe(true);
  expect(result.flops).toEqual([2 * 32 * 48 * 24, 2 * 32 * 48 * 24, 2 * 32 * 48 * 24, 2 * 32 * 48 * 24]);
  expect(result.inputDims).toEqual([
    [32, 24],
    [24, 48],
  ]);
  expect(result.timestampMode).toBe('inside-passes');
  expect(result.schemaVersion).toBe(1);
  expect(result.deviceCount).toBe(1);
  expect(result.distributedInfo).toMatchObject({ rank: 0, world_size: 1 });
  expect(result.baseTimeNanoseconds).toBeGreaterThan(0);
  expect(result.traceName).toMatch(/^page-rank-0\.\d{19}\.pt\.trace\.json\.gz$/);
  expect(result.frontendName).toMatch(/^127\.0\.0\.1_\d+\.async_llm\.\d{19}\.pt\.trace\.json\.gz$/);
  expect(result.frontendSpans).toEqual([1, 2, 3, 4, 5]);
  expect(result.frontendDevices).toBe(0);
});

test('a device created without "timestamp-query", only inside-pass timestamps (as onnxruntime-web JSEP creates it): kernels are still timed', async ({
  gpuPage,
}) => {
  const result = await gpuPage.evaluate(async (bundleUrl) => {
    const w = (await import(bundleUrl)) as PageBundle;
    const adapter = (await navigator.gpu.requestAdapter())!;
    const inside = 'chromium-experimental-timestamp-query-inside-passes' as GPUFeatureName;
    const device = await adapter.requestDevice({ requiredFeatures: [inside] });
    const files = new Map<string, Uint8Array>();
    const profiler = new w.Profiler(w.parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: 'jsep-like', ignore_frontend: true }), {
      sink: new w.CallbackSink((name, bytes) => void files.set(name, bytes)),
      workerName: 'jsep-rank-0',
      strict: true,
    });
    profiler.attach(device);
    await profiler.ready();
    const shape = { m: 16, n: 16, k: 16 };
    const compiled = await w.compileKernel(device, w.matmul);
    const buffer = (size: number, usage: number) => device.createBuffer({ size, usage });
    const params = buffer(16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const a = buffer(4 * 256, GPUBufferUsage.STORAGE);
    const b = buffer(4 * 256, GPUBufferUsage.STORAGE);
    const bias = buffer(4 * 16, GPUBufferUsage.STORAGE);
    const c = buffer(4 * 256, GPUBufferUsage.STORAGE);
    device.queue.writeBuffer(params, 0, w.matmulParams(shape));
    const group = w.createKernelBindGroup(compiled as never, [params, a, b, bias, c]);
    device.pushErrorScope('validation');
    profiler.start();
    for (let it = 0; it < 2; it++) {
      profiler.step();
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(compiled.pipeline);
      pass.setBindGroup(0, group);
      for (let d = 0; d < 2; d++) pass.dispatchWorkgroups(...w.matmul.dispatch(shape));
      pass.end();
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
    }
    await profiler.stop();
    const error = await device.popErrorScope();
    profiler.detach();
    device.destroy();
    const [name, bytes] = [...files].find(([n]) => n.startsWith('jsep-rank-0.'))!;
    const trace = w.parseTraceBytes(bytes, name);
    const timestamps = trace.wgprof?.timestamps as { mode?: string; reason?: string } | undefined;
    return {
      features: [...device.features].sort(),
      validationError: error?.message ?? null,
      kernels: trace.traceEvents.filter((e) => e.cat === 'kernel' && (e.dur ?? 0) > 0).length,
      mode: timestamps?.mode,
      reason: timestamps?.reason ?? '',
      problems: w.validateTrace(trace),
    };
  }, BUNDLE_URL);
  expect(result.features).not.toContain('timestamp-query');
  expect(result.validationError).toBeNull();
  expect(result.mode).toBe('inside-passes');
  expect(result.reason).toMatch(/only "chromium-experimental-timestamp-query-inside-passes".*probe/);
  expect(result.kernels).toBe(4);
  expect(result.problems).toEqual([]);
});

test('cuda mode: User Timing marks the window and each captured iteration; no files', async ({ gpuPage }) => {
  const result = await gpuPage.evaluate(async (bundleUrl) => {
    const w = (await import(bundleUrl)) as PageBundle;
    const runtime = await w.requestGpuDevice();
    const profiler = new w.Profiler(w.parseProfilerConfig({ profiler: 'cuda', delay_iterations: 1, max_iterations: 2 }));
    profiler.attach(runtime.device, runtime.facts);
    runtime.device.pushErrorScope('validation');
    profiler.start();
    for (let it = 1; it <= 4; it++) {
      profiler.step();
      profiler.beginIteration(`execute_context_1(${it})_generation_0(0)`);
      // An empty command buffer: the debug group pushed on it must balance (no validation error).
      runtime.device.queue.submit([runtime.device.createCommandEncoder().finish()]);
      await runtime.device.queue.onSubmittedWorkDone();
      profiler.endIteration();
    }
    const files = await profiler.stop();
    profiler.detach();
    const error = await runtime.device.popErrorScope();
    runtime.destroy();
    return {
      files,
      validationError: error?.message ?? null,
      marks: performance
        .getEntriesByType('mark')
        .map((e) => e.name)
        .filter((n) => n.startsWith('wgprof:')),
      measures: performance.getEntriesByType('measure').map((e) => e.name),
    };
  }, BUNDLE_URL);
  expect(result.files).toEqual([]);
  expect(result.validationError).toBeNull();
  expect(result.marks).toEqual(['wgprof:profile:start', 'wgprof:profile:stop']);
  // Sorted by start time: the window opens inside the first captured step() just before its step measure.
  expect(result.measures).toEqual([
    'wgprof:profile',
    'ProfilerStep#1',
    'execute_context_1(1)_generation_0(0)',
    'ProfilerStep#2',
    'execute_context_1(2)_generation_0(0)',
  ]);
});
