// The measurements of test/bench/timing.ts, written once for Node (dawn.node) and Chromium (run inside a
// page): browser-safe, no Node modules. The caller hands in the API (its own imports or the page bundle)
// and the device.

import type { CaptureRecord } from '../../src/capture/model.js';
import type { createEngine as CreateEngine } from '../../src/engine/profiled.js';
import type { Instrumentation as InstrumentationClass } from '../../src/instrument/instrumentation.js';
import type { parseProfilerConfig as ParseProfilerConfig } from '../../src/config/index.js';
import type { Profiler as ProfilerClass } from '../../src/profiler/profiler.js';

export interface TimingApi {
  createEngine: typeof CreateEngine;
  Profiler: typeof ProfilerClass;
  Instrumentation: typeof InstrumentationClass;
  parseProfilerConfig: typeof ParseProfilerConfig;
}

export interface TimingRaw {
  /** Per captured window: the clock fit's half-width (ns), and the samples behind it. */
  halfWidthNs: number[];
  fitSamples: number[];
  /** The readback's CPU time per instrumented submit over those windows, ns (one value per window). */
  readbackNsPerSubmit: number[];
  /** CPU µs of one copyBufferToBuffer call while capturing minus while not, per scenario (one value per block). */
  copyBetweenPassesUs: number[];
  copyWithoutNeighbourUs: number[];
  /** Empty tick passes per copy in each scenario. */
  tickPassesPerCopyBetween: number;
  tickPassesPerCopyAlone: number;
}

const MATMUL_WGSL = `@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) { if (g.x < arrayLength(&a)) { a[g.x] = a[g.x] * 0.5 + 1.0; } }`;

export async function timingWorkload(
  api: TimingApi,
  device: GPUDevice,
  options: { windows: number; blocks: number; copiesPerBlock: number },
): Promise<TimingRaw> {
  const raw: TimingRaw = {
    halfWidthNs: [],
    fitSamples: [],
    readbackNsPerSubmit: [],
    copyBetweenPassesUs: [],
    copyWithoutNeighbourUs: [],
    tickPassesPerCopyBetween: 0,
    tickPassesPerCopyAlone: 0,
  };

  // 1. The engine, profiled in windows of 3 iterations: the clock fit of each window, and the readback per submit.
  const records: CaptureRecord[] = [];
  const profiler = new api.Profiler(
    api.parseProfilerConfig({ profiler: 'torch', torch_profiler_dir: 'timing-bench', ignore_frontend: true, max_iterations: 3 }),
    {
      output: {
        exportTrace: async (record) => {
          records.push(record);
          return { file: `window-${records.length}`, name: `window-${records.length}`, steps: [] };
        },
        writeKeyAverages: async () => undefined,
      },
    },
  );
  const engine = await api.createEngine({ model: 'tiny', profiler, device });
  try {
    await engine.generate(['warm up the pipelines'], { maxTokens: 2 });
    for (let w = 0; w < options.windows; w++) {
      const inst = api.Instrumentation.of(device)!;
      const readbackBefore = inst.readbackCpuNs;
      engine.startProfile();
      await engine.generate(['How far is the moon?', 'WebGPU timing'], { maxTokens: 6 });
      await engine.stopProfile();
      const record = records[records.length - 1]!;
      const stats = record.meta.extra?.['captureStats'] as { submits: number } | undefined;
      if (record.meta.clock) {
        raw.halfWidthNs.push(record.meta.clock.uncertaintyNs);
        raw.fitSamples.push(record.meta.clock.samples);
      }
      if (stats && stats.submits > 0) raw.readbackNsPerSubmit.push((inst.readbackCpuNs - readbackBefore) / stats.submits);
    }
  } finally {
    await engine.destroy();
  }

  // 2. The CPU cost of a copyBufferToBuffer call while capturing, between two timed passes (its ticks are
  //    the passes' own) and with no timed neighbour (an empty tick pass brackets it), minus the same call
  //    not capturing.
  const inst = new api.Instrumentation();
  inst.attach(device);
  try {
    const module = device.createShaderModule({ code: MATMUL_WGSL });
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const a = device.createBuffer({ size: 4096, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    const b = device.createBuffer({ size: 4096, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: a } }] });
    const n = options.copiesPerBlock;
    /** µs per copy call in one encoder; `between`: a timed pass on each side of every copy. */
    const block = (between: boolean): number => {
      const encoder = device.createCommandEncoder();
      let copyMs = 0;
      for (let i = 0; i < n; i++) {
        if (between) {
          const pass = encoder.beginComputePass();
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, group);
          pass.dispatchWorkgroups(16);
          pass.end();
        }
        const t0 = performance.now();
        encoder.copyBufferToBuffer(i % 2 ? b : a, 0, i % 2 ? a : b, 0, 4096);
        copyMs += performance.now() - t0;
      }
      const t0 = performance.now();
      const commands = encoder.finish();
      copyMs += performance.now() - t0; // a tick pass at finish belongs to the copies
      device.queue.submit([commands]);
      return (copyMs * 1000) / n;
    };
    for (let r = 0; r < options.blocks; r++) {
      const plain = [block(true), block(false)];
      inst.setCapturing(true);
      const timed = [block(true), block(false)];
      const handle = inst.endWindow()!;
      const captured = await handle.collect();
      raw.copyBetweenPassesUs.push(timed[0]! - plain[0]!);
      raw.copyWithoutNeighbourUs.push(timed[1]! - plain[1]!);
      raw.tickPassesPerCopyBetween = captured.stats.copyTickPasses; // both blocks together, split below
    }
    // The tick passes of one capturing block pair: `between` needs none but the last copy's closing tick at finish.
    inst.setCapturing(true);
    block(true);
    const between = (await inst.endWindow()!.collect()).stats.copyTickPasses;
    inst.setCapturing(true);
    block(false);
    const alone = (await inst.endWindow()!.collect()).stats.copyTickPasses;
    raw.tickPassesPerCopyBetween = between / n;
    raw.tickPassesPerCopyAlone = alone / n;
    a.destroy();
    b.destroy();
  } finally {
    inst.detach();
  }
  return raw;
}
