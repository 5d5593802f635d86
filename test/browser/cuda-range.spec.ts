// 'cuda' mode under Playwright: the Profiler's capture window starts and stops Chromium's own tracing
// through globalThis.wgprofCaptureRange (connectChromiumTracing), as nsys follows cudaProfilerStart/Stop.
//
// A tiny compute workload runs 5 iterations under { profiler: 'cuda', delay_iterations: 2,
// max_iterations: 2 }: the window opens inside the 2nd step() and closes inside the 4th (auto-stop).
// Each iteration also marks `app:iteration#N` itself, after captureRangeSettled() (so the tracer has
// really started/stopped, as it would have in iterations longer than the tracing latency): the trace
// must hold #2 and #3 only, and the profiler's own measures for exactly those iterations.
//
// The page imports a test bundle built here from the sources (as profiler.spec.ts does), so the
// spec tests the code under test even when dist/ is stale.

import type { Page } from '@playwright/test';
import { build } from 'esbuild';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { connectChromiumTracing } from '../../src/playwright/chromium-tracing.js';
import { expect, test } from './fixtures.js';
import { REPO_ROOT } from './server.js';
import type * as ConfigModule from '../../src/config/index.js';
import type * as CudaRangeModule from '../../src/profiler/cuda-range.js';
import type * as DeviceModule from '../../src/gpu/device.js';
import type * as ProfilerModule from '../../src/profiler/profiler.js';

type PageBundle = Pick<typeof ProfilerModule, 'Profiler'> &
  Pick<typeof ConfigModule, 'parseProfilerConfig'> &
  Pick<typeof DeviceModule, 'requestGpuDevice'> &
  Pick<typeof CudaRangeModule, 'captureRangeSettled'>;

const BUNDLE_DIR = join(REPO_ROOT, 'dist/test');
const BUNDLE_URL = '/dist/test/cuda-range-page.js';

const ENTRY = `
export { Profiler } from './src/profiler/profiler.js';
export { parseProfilerConfig } from './src/config/index.js';
export { requestGpuDevice } from './src/gpu/device.js';
export { captureRangeSettled } from './src/profiler/cuda-range.js';
`;

test.beforeAll(async () => {
  mkdirSync(BUNDLE_DIR, { recursive: true });
  await build({
    stdin: { contents: ENTRY, resolveDir: REPO_ROOT, sourcefile: 'cuda-range-page-entry.ts', loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    loader: { '.wgsl': 'text' },
    outfile: join(BUNDLE_DIR, 'cuda-range-page.js'),
    external: ['webgpu', 'node:*'],
    logLevel: 'warning',
  });
});

interface WorkloadResult {
  values: number[];
  files: string[];
  validationError: string | null;
}

/** Runs 5 iterations of `out = in * 2 + it` under a 'cuda' Profiler (delay 2, max 2) in the page. */
async function runWorkload(page: Page): Promise<WorkloadResult> {
  return page.evaluate(async (bundleUrl) => {
    const w = (await import(bundleUrl)) as PageBundle;
    const runtime = await w.requestGpuDevice();
    const device = runtime.device;
    const n = 64;
    const module = device.createShaderModule({
      code: `
        @group(0) @binding(0) var<uniform> it: f32;
        @group(0) @binding(1) var<storage, read> src: array<f32>;
        @group(0) @binding(2) var<storage, read_write> dst: array<f32>;
        @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
          dst[id.x] = src[id.x] * 2.0 + it;
        }`,
    });
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const uniform = device.createBuffer({ size: 4, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const src = device.createBuffer({ size: 4 * n, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    const dst = device.createBuffer({ size: 4 * n, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const read = device.createBuffer({ size: 4 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(
      src,
      0,
      new Float32Array(n).map((_, i) => i),
    );
    const group = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [uniform, src, dst].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });

    const profiler = new w.Profiler(w.parseProfilerConfig({ profiler: 'cuda', delay_iterations: 2, max_iterations: 2 }));
    profiler.attach(device, runtime.facts);
    device.pushErrorScope('validation');
    profiler.start();
    const values: number[] = [];
    for (let it = 1; it <= 5; it++) {
      profiler.step();
      // The hook is fire and forget; wait for the tracer here, off the profiler's path.
      await w.captureRangeSettled();
      performance.mark(`app:iteration#${it}`);
      profiler.beginIteration(`execute_context_1(${n})_generation_0(0)`);
      device.queue.writeBuffer(uniform, 0, new Float32Array([it]));
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(n / 64);
      pass.end();
      encoder.copyBufferToBuffer(dst, 0, read, 0, read.size);
      device.queue.submit([encoder.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      values.push(new Float32Array(read.getMappedRange())[5]!);
      read.unmap();
      profiler.endIteration();
    }
    const files = await profiler.stop();
    profiler.detach();
    const error = await device.popErrorScope();
    runtime.destroy();
    return { values, files, validationError: error?.message ?? null };
  }, BUNDLE_URL);
}

interface ChromeTraceEvent {
  name?: string;
  cat?: string;
  ph?: string;
}

test("cuda mode: Chromium's tracing runs exactly over the profiler's window", async ({ gpuPage, browser }, testInfo) => {
  const path = testInfo.outputPath('chrome-trace.json');
  const tracing = await connectChromiumTracing(gpuPage, browser, { path });
  const result = await runWorkload(gpuPage);
  const written = await tracing.done();

  expect(result.validationError).toBeNull();
  expect(result.values).toEqual([11, 12, 13, 14, 15]); // src[5] * 2 + it: the workload ran every iteration
  expect(result.files).toEqual([]); // no Kineto files in 'cuda' mode
  expect(written).toBe(path);
  expect(tracing.files()).toEqual([path]);
  // Only Chromium's trace in the test's folder: wgprof wrote nothing beside it.
  expect(readdirSync(dirname(path))).toEqual([basename(path)]);

  const trace = JSON.parse(readFileSync(path, 'utf8')) as { traceEvents?: ChromeTraceEvent[] };
  expect(Array.isArray(trace.traceEvents)).toBe(true);
  const userTiming = trace.traceEvents!.filter((e) => e.cat?.split(',').includes('blink.user_timing'));
  const names = new Set(userTiming.map((e) => e.name));
  expect(names.has('wgprof:profile')).toBe(true);
  expect([...names].filter((name) => name?.startsWith('ProfilerStep#')).sort()).toEqual(['ProfilerStep#2', 'ProfilerStep#3']);
  expect([...names].filter((name) => name?.startsWith('app:iteration#')).sort()).toEqual(['app:iteration#2', 'app:iteration#3']);
  expect(names.has('wgprof:profile:stop')).toBe(true);
});

test('cuda mode: a capture-range hook that throws or rejects is logged; the workload keeps running', async ({ gpuPage }) => {
  const warnings: string[] = [];
  gpuPage.on('console', (message) => {
    if (message.type() === 'warning') warnings.push(message.text());
  });
  await gpuPage.evaluate(() => {
    (globalThis as Record<string, unknown>)['wgprofCaptureRange'] = (edge: string) => {
      if (edge === 'start') throw new Error('no tracer attached');
      return Promise.reject(new Error('tracer went away'));
    };
  });
  const result = await runWorkload(gpuPage);
  expect(result.validationError).toBeNull();
  expect(result.values).toEqual([11, 12, 13, 14, 15]);
  expect(result.files).toEqual([]);
  const hookWarnings = (): string[] => warnings.filter((text) => text.includes('wgprofCaptureRange'));
  // Console events reach Node asynchronously.
  await expect.poll(() => hookWarnings().length).toBe(2);
  expect(hookWarnings()).toEqual([
    expect.stringContaining("wgprofCaptureRange('start') failed: no tracer attached"),
    expect.stringContaining("wgprofCaptureRange('stop') failed: tracer went away"),
  ]);
  // The gpuPage fixture fails the test on any page error, e.g. an unhandled rejection.
});
