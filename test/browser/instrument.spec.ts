// The instrumentation in headless Chromium (SwiftShader): inside-pass timestamps, per-dispatch GPU
// intervals inside each submit's [submit, done] bracket, results unchanged.

import { expect, test } from './fixtures.js';
import { buildPageBundle } from '../shared/page-bundle.js';
import type * as InstrumentModule from '../../src/instrument/index.js';

/** Instrumentation is the Profiler's engine room, not the package's API: the page gets it from a test bundle. */
type InstrumentBundle = Pick<typeof InstrumentModule, 'Instrumentation'>;
let bundleUrl = '';
test.beforeAll(async () => {
  bundleUrl = await buildPageBundle('instrument-page', "export { Instrumentation } from './src/instrument/index.js';\n");
});

test('Instrumentation times every dispatch inside one pass with writeTimestamp (inside-passes)', async ({ gpuPage }) => {
  const result = await gpuPage.evaluate(async (url) => {
    const { requestGpuDevice } = window.wgprof;
    const { Instrumentation } = (await import(url)) as InstrumentBundle;
    const runtime = await requestGpuDevice();
    const { device } = runtime;
    const n = 2048;
    const dispatches = 4;
    const x = Float32Array.from({ length: n }, (_, i) => i % 17);
    const y0 = Float32Array.from({ length: n }, (_, i) => (i % 5) - 2);
    // Every intermediate is a small integer or half: exact in f32, so GPU and CPU agree bit for bit.
    const expected = y0.map((y, i) => y + 2 * dispatches * 1.5 * (x[i] ?? 0));
    const inst = new Instrumentation({ withMemory: true });
    inst.attach(device);
    try {
      device.pushErrorScope('validation');
      const module = device.createShaderModule({
        label: 'saxpy',
        code: /* wgsl */ `
          @group(0) @binding(0) var<storage, read> x: array<f32>;
          @group(0) @binding(1) var<storage, read_write> y: array<f32>;
          @compute @workgroup_size(64)
          fn main(@builtin(global_invocation_id) id: vec3<u32>) {
            if (id.x < arrayLength(&y)) { y[id.x] = 1.5 * x[id.x] + y[id.x]; }
          }`,
      });
      // Unlabeled pipeline: the kernel takes the shader module's label.
      const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
      inst.setCapturing(true);
      const xBuf = device.createBuffer({ label: 'x', size: x.byteLength, usage });
      const yBuf = device.createBuffer({ label: 'y', size: y0.byteLength, usage });
      const readback = device.createBuffer({ label: 'readback', size: y0.byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(xBuf, 0, x);
      device.queue.writeBuffer(yBuf, 0, y0);
      const bindGroup = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: xBuf } },
          { binding: 1, resource: { buffer: yBuf } },
        ],
      });
      const cpuBeforeSubmits: number[] = [];
      for (let s = 0; s < 2; s++) {
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        for (let d = 0; d < dispatches; d++) pass.dispatchWorkgroups(Math.ceil(n / 64));
        pass.end();
        if (s === 1) encoder.copyBufferToBuffer(yBuf, 0, readback, 0, y0.byteLength);
        cpuBeforeSubmits.push(performance.now() * 1e6);
        device.queue.submit([encoder.finish()]);
      }
      inst.setCapturing(false);
      const captured = await inst.flush();
      const validation = await device.popErrorScope();
      await readback.mapAsync(GPUMapMode.READ);
      const output = new Float32Array(readback.getMappedRange().slice(0));
      let maxAbsError = 0;
      for (let i = 0; i < n; i++) maxAbsError = Math.max(maxAbsError, Math.abs((output[i] ?? NaN) - (expected[i] ?? NaN)));
      return {
        validationError: validation?.message ?? null,
        maxAbsError,
        captured: JSON.parse(JSON.stringify({ ...captured, errors: captured.errors.map((e) => e.message) })) as typeof captured & { errors: string[] },
        cpuBeforeSubmits,
      };
    } finally {
      inst.detach();
      runtime.destroy();
    }
  }, bundleUrl);

  expect(result.validationError).toBeNull();
  expect(result.maxAbsError).toBe(0);
  const { captured } = result;
  expect(captured.errors).toEqual([]);
  expect(captured.timestamps.mode).toBe('inside-passes');
  expect(captured.timestamps.quantized).toBe(false);
  expect(captured.stats.passSplits).toBe(0);
  expect(captured.dispatches).toHaveLength(8);
  expect(captured.stats.timedDispatches).toBe(8);
  for (const d of captured.dispatches) {
    expect(d.kernel).toBe('saxpy');
    expect(d.workgroups).toEqual([32, 1, 1]);
    expect(d.workgroupSize).toEqual([64, 1, 1]);
    expect(d.boundBufferBytes).toEqual([2048 * 4, 2048 * 4]);
  }
  const timed = captured.dispatches;
  for (let i = 0; i < timed.length; i++) {
    expect(timed[i]!.gpuEndNs!).toBeGreaterThan(timed[i]!.gpuStartNs!);
    if (i > 0) expect(timed[i]!.gpuStartNs!).toBeGreaterThanOrEqual(timed[i - 1]!.gpuEndNs!);
  }
  expect(captured.submits).toHaveLength(2);
  captured.submits.forEach((submit, s) => {
    expect(submit.cpuSubmitNs).toBeGreaterThanOrEqual(result.cpuBeforeSubmits[s]!);
    expect(submit.correlations).toHaveLength(4);
    for (const c of submit.correlations) {
      const d = captured.dispatches.find((r) => r.correlation === c)!;
      expect(d.gpuStartNs!).toBeGreaterThanOrEqual(submit.cpuSubmitNs);
      expect(d.gpuEndNs!).toBeLessThanOrEqual(submit.cpuDoneNs!);
    }
  });
  expect(captured.clock?.method).toBe('submit-completion-bracket');
  // Two workload submits and the clock pings at both window edges (8 each by default).
  expect(captured.clock?.samples).toBe(2 + 2 * 8);
  expect(captured.copies.map((c) => c.kind)).toEqual(['HtoD', 'HtoD', 'DtoH']);
  expect(captured.memory.map((m) => m.label)).toEqual(['x', 'y', 'readback']);
});
