// The synthetic capture the trace benchmarks export (Node: test/bench/trace.ts; Chromium:
// test/bench/trace-browser.ts). Pure and browser-safe: no Node modules.

import type { CaptureRecord, DispatchRecord } from '../../src/capture/model.js';
import { mulberry32 as rng } from '../../src/engine/weights.js';

const KERNELS = ['matmul', 'matmul_bias_gelu', 'layer_norm', 'softmax', 'attention_scores', 'attention_apply', 'rope', 'add', 'embedding', 'argmax'];
const STACKS = [
  ['runLayer (model/transformer.ts:88:12)', 'forward (model/transformer.ts:140:7)', 'executeModel (engine/runner.ts:51:20)', 'step (engine/engine.ts:212:9)'],
  [
    'attention (model/attention.ts:40:5)',
    'runLayer (model/transformer.ts:91:12)',
    'forward (model/transformer.ts:140:7)',
    'executeModel (engine/runner.ts:51:20)',
    'step (engine/engine.ts:212:9)',
  ],
];

/**
 * ~`events` trace events shaped like a transformer decode loop, with vLLM's default options
 * (with_stack on; shapes, flops, memory off) unless `full`: each step runs the same 100 dispatches
 * (10 kernels in turn, each with its own fixed grid and typical duration ±5% jitter), and each
 * dispatch is 5 events (cpu_op, launch, ac2g s, kernel, ac2g f). Times have ns resolution (the worst
 * case for compression; browsers coarsen CPU times to 5-100 µs), as Node's performance.now() and
 * un-quantized GPU ticks do.
 */
export function syntheticRecord(events: number, full = false): CaptureRecord {
  const rand = rng(42);
  const dispatchesPerStep = 100;
  const nDispatch = Math.round(events / 5.04);
  const nSteps = Math.max(1, Math.ceil(nDispatch / dispatchesPerStep));
  const ns = (lo: number, hi: number): number => Math.floor(lo + rand() * (hi - lo));
  const jitter = (base: number): number => Math.floor(base * (0.95 + 0.1 * rand()));
  const kernelGpuNs = KERNELS.map((_, k) => 4_000 + ((k * 37_931) % 90_000));
  const kernelGrid = KERNELS.map((_, k): [number, number, number] => [1 + ((k * 13) % 64), 1 + ((k * 7) % 16), 1]);
  let cpu = 5_000_000;
  let gpuFree = 0;
  const steps: CaptureRecord['steps'] = [];
  const dispatches: DispatchRecord[] = [];
  const copies: CaptureRecord['copies'] = [];
  const memory: CaptureRecord['memory'] = [];
  let allocated = 1 << 20;
  for (let s = 0, d = 0; s < nSteps; s++) {
    const stepStart = cpu;
    cpu += ns(2_000, 6_000);
    const annStart = cpu;
    const copyStart = cpu + ns(500, 1_500);
    const copyEnd = copyStart + ns(2_000, 5_000);
    const cgs = Math.max(gpuFree, copyEnd + ns(10_000, 30_000));
    const cge = cgs + ns(1_000, 8_000);
    gpuFree = cge;
    copies.push({
      externalId: 1 + 2 * nDispatch + s,
      correlation: 1 + 2 * nDispatch + s,
      kind: 'HtoD',
      bytes: 4096,
      launch: 'writeBuffer',
      launchStartNs: copyStart,
      launchEndNs: copyEnd,
      gpuStartNs: cgs,
      gpuEndNs: cge,
    });
    cpu = copyEnd + ns(500, 2_000);
    if (full) {
      allocated += 65536;
      memory.push({ tsNs: cpu, addr: 0x10000 + s * 0x100, bytes: 65536, totalAllocatedBytes: allocated, totalReservedBytes: allocated, kind: 'buffer' });
    }
    for (let k = 0; k < dispatchesPerStep && d < nDispatch; k++, d++) {
      const kind = d % KERNELS.length;
      const opStart = cpu + jitter(1_500);
      const launchStart = opStart + jitter(2_000);
      const launchEnd = launchStart + jitter(3_500);
      const opEnd = launchEnd + jitter(1_200);
      const gpuStart = Math.max(gpuFree + jitter(600), launchEnd + jitter(25_000));
      const gpuEnd = gpuStart + jitter(kernelGpuNs[kind]!);
      gpuFree = gpuEnd;
      const kernel = KERNELS[kind]!;
      const dispatch: DispatchRecord = {
        externalId: 1 + d,
        // The instrumentation gives a dispatch one id for both (External id and correlation).
        correlation: 1 + d,
        kernel,
        launch: 'dispatchWorkgroups',
        opStartNs: opStart,
        opEndNs: opEnd,
        launchStartNs: launchStart,
        launchEndNs: launchEnd,
        gpuStartNs: gpuStart,
        gpuEndNs: gpuEnd,
        workgroups: kernelGrid[kind]!,
        workgroupSize: [64, 1, 1],
        boundBufferBytes: [65536, 65536, 4096],
        inputDims: [
          [1, 16, 512],
          [512, 512],
        ],
        inputTypes: ['float32', 'float32'],
        stack: STACKS[kind % 2]!,
      };
      // argmax has no cost model: its cost stays unknown (absent), never 0.
      if (kernel !== 'argmax') dispatch.cost = { flops: 2 * 16 * 512 * 512, bytesRead: 4 * (16 * 512 + 512 * 512), bytesWritten: 4 * 16 * 512 };
      dispatches.push(dispatch);
      cpu = opEnd;
    }
    if (full) {
      allocated -= 65536;
      memory.push({
        tsNs: cpu + 100,
        addr: 0x10000 + s * 0x100,
        bytes: -65536,
        totalAllocatedBytes: allocated,
        totalReservedBytes: allocated + 65536,
        kind: 'buffer',
      });
    }
    cpu += ns(1_000, 3_000);
    steps.push({
      number: s + 2,
      startNs: stepStart,
      endNs: cpu + 200,
      annotation: `execute_context_0(0)_generation_${(s % 4) + 1}(${(s % 4) + 1})`,
      annotationStartNs: annStart,
      annotationEndNs: cpu,
    });
    cpu += 300;
  }
  return {
    meta: {
      workerName: 'bench-rank-0',
      pid: 4242,
      tid: 1,
      timeOriginEpochNs: 1_795_829_617_000_000_000n,
      rank: 0,
      worldSize: 1,
      deviceIndex: 0,
      streamId: 7,
      withStack: true,
      recordShapes: full,
      withMemory: full,
      withFlops: full,
      timestamps: { mode: 'pass-boundaries', quantized: false },
    },
    steps,
    cpuSpans: [],
    dispatches,
    copies,
    memory,
  };
}
