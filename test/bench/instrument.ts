// Instrumentation micro-benchmark: the CPU cost of encoding and submitting one command encoder, on
// Dawn's null backend (no GPU work, so the numbers are the CPU side only), for two shapes of work:
//   split      1 pass with 4 dispatches (pass-boundaries mode splits it into 4 passes)
//   engine     25 passes with 1 dispatch each, like the tiny engine's forward (one pass per kernel)
// and these variants:
//   detached        no instrumentation on the device
//   off-window      attached, not capturing (the wrapped methods only check a flag)
//   capture         capturing, Instrumentation defaults (timestamps, pass splitting, no stack)
//   capture-stack   capturing with withStack (what the profiler does with vLLM's defaults)
//   capture-all     capturing with shapes, stack, memory and flops
// Each variant has its own device (one instrumentation per device). Blocks of a few iterations run
// interleaved and rotated, many rounds, so drift of a shared machine hits all alike; a capturing
// variant flushes after each block (untimed), as a profiler's window would. Reported per shape:
// per-iteration µs (p10, median, p90 of block means; warm-up excluded, every sample kept), the extra µs
// per dispatch at p10 and the median of paired block ratios to 'detached'.
// Then the heap a capture window holds (issue: ≤ 200 B per trace event): per capturing variant, the live
// heap growth (after a forced GC) over a window of 8,000 dispatches of the engine shape on a device
// with timestamps (SwiftShader unless a GPU is present), per dispatch
// and per trace event the window becomes, beside Instrumentation.capturedBytes (the estimate the
// profiler's memory budget is checked against).
//
//   node scripts/run-ts.mjs test/bench/instrument.ts [--rounds 60] [--block 10]

import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { CaptureRecord } from '../../src/capture/model.js';
import { serializeTraceBytes } from '../../src/trace/serialize.js';
import { requestGpuDevice, type AdapterFacts, type GpuRuntime } from '../../src/gpu/device.js';
import { Instrumentation, noteDispatch, type InstrumentationOptions } from '../../src/instrument/index.js';
import { ceilDiv, defineKernel } from '../../kernels/define.js';
import { distribution, formatNumber, formatRatio, formatTable, pairedRatios, type Distribution } from './util.js';

export type InstrumentVariant = 'detached' | 'off-window' | 'capture' | 'capture-stack' | 'capture-all';
const VARIANTS: readonly InstrumentVariant[] = ['detached', 'off-window', 'capture', 'capture-stack', 'capture-all'];

export interface InstrumentShape {
  name: string;
  passes: number;
  dispatchesPerPass: number;
}

export const SHAPES: readonly InstrumentShape[] = [
  { name: 'split', passes: 1, dispatchesPerPass: 4 },
  { name: 'engine', passes: 25, dispatchesPerPass: 1 },
];

export interface BenchInstrumentOptions {
  /** Interleaved rounds (default 60). */
  rounds?: number;
  /** Iterations per variant per round (default 10). */
  block?: number;
  shapes?: readonly InstrumentShape[];
  onProgress?: (line: string) => void;
}

export interface InstrumentVariantResult {
  variant: InstrumentVariant;
  /** Per-iteration encode + submit time, µs: one sample per block (its mean). */
  iterationUs: Distribution;
  /** Median of the paired block ratios to 'detached'. */
  ratioToDetached: number;
  /** (p10 of this variant − p10 of 'detached') / dispatches per iteration, µs. */
  extraUsPerDispatch: number;
}

export interface InstrumentShapeResult extends InstrumentShape {
  variants: InstrumentVariantResult[];
}

/** The heap one capturing variant's window holds. */
export interface CaptureHeapResult {
  variant: InstrumentVariant;
  dispatches: number;
  /** Trace events the window becomes. */
  events: number;
  /** Live heap growth (after a forced GC) while the window is open, bytes. */
  heapBytes: number;
  heapBytesPerDispatch: number;
  heapBytesPerEvent: number;
  /** Instrumentation.capturedBytes at the same point ÷ heapBytes (1: the budget's estimate is exact). */
  estimateRatio: number;
}

export interface BenchInstrumentResult {
  adapter: AdapterFacts;
  backend: 'null';
  shapes: InstrumentShapeResult[];
  heap: CaptureHeapResult[];
  targets: { heapBytesPerEvent: number };
  table: string;
}

/** The goal for the heap a capture holds per trace event, bytes. */
const HEAP_BYTES_PER_EVENT_TARGET = 200;

const WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> data: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < arrayLength(&data)) { data[id.x] = data[id.x] + 1.0; }
}`;

/** A hint like the engine's kernels give (noteDispatch before each dispatch). */
const addOne = defineKernel<{ n: number }>({
  name: 'bench_add_one',
  label: 'bench_add_one',
  source: WGSL,
  entryPoint: 'main',
  workgroupSize: [64, 1, 1],
  dispatch: ({ n }) => [ceilDiv(n, 64), 1, 1],
  cost: ({ n }) => ({ flops: n, bytesRead: 4 * n, bytesWritten: 4 * n }),
  inputs: ({ n }) => ({ dims: [[n]], types: ['float'] }),
});

interface Rig {
  variant: InstrumentVariant;
  runtime: GpuRuntime;
  inst?: Instrumentation;
  iterate(): void;
}

function optionsOf(variant: InstrumentVariant): InstrumentationOptions {
  if (variant === 'capture-all') return { recordShapes: true, withStack: true, withMemory: true, withFlops: true };
  if (variant === 'capture-stack') return { withStack: true };
  return {};
}

async function makeRig(variant: InstrumentVariant, shape: InstrumentShape, backend: 'null' | 'auto' = 'null'): Promise<Rig> {
  const runtime = await requestGpuDevice({ backend });
  const { device } = runtime;
  let inst: Instrumentation | undefined;
  if (variant !== 'detached') {
    inst = new Instrumentation(optionsOf(variant));
    inst.attach(device);
    if (variant !== 'off-window') inst.setCapturing(true);
  }
  const module = device.createShaderModule({ label: 'bench_add_one', code: WGSL });
  const pipeline = device.createComputePipeline({ label: 'bench_add_one', layout: 'auto', compute: { module, entryPoint: 'main' } });
  const buffer = device.createBuffer({ size: 4096, usage: GPUBufferUsage.STORAGE });
  const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer } }] });
  const n = 1024;
  const rig: Rig = {
    variant,
    runtime,
    iterate() {
      const encoder = device.createCommandEncoder();
      for (let p = 0; p < shape.passes; p++) {
        const pass = encoder.beginComputePass({ label: 'bench_add_one' });
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        for (let d = 0; d < shape.dispatchesPerPass; d++) {
          noteDispatch(device, addOne, { n });
          pass.dispatchWorkgroups(ceilDiv(n, 64));
        }
        pass.end();
      }
      device.queue.submit([encoder.finish()]);
    },
  };
  if (inst) rig.inst = inst;
  return rig;
}

/** Nearest-rank quantile. */
function quantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

async function benchShape(
  shape: InstrumentShape,
  rounds: number,
  block: number,
  progress: (line: string) => void,
): Promise<{ result: InstrumentShapeResult; adapter: AdapterFacts }> {
  const rigs: Rig[] = [];
  const samples = new Map<InstrumentVariant, number[]>(VARIANTS.map((v) => [v, []]));
  try {
    for (const v of VARIANTS) rigs.push(await makeRig(v, shape));
    // Warm-up: JIT, Dawn's caches, the pools.
    for (let i = 0; i < 5; i++) {
      for (const rig of rigs) for (let j = 0; j < block; j++) rig.iterate();
      for (const rig of rigs) await rig.inst?.flush();
    }
    for (let round = 0; round < rounds; round++) {
      // Rotate the order each round.
      for (let j = 0; j < rigs.length; j++) {
        const rig = rigs[(j + round) % rigs.length]!;
        const t0 = performance.now();
        for (let i = 0; i < block; i++) rig.iterate();
        samples.get(rig.variant)!.push(((performance.now() - t0) * 1000) / block);
        // Drain readbacks outside the timed region, as a profiler's flush would.
        await rig.inst?.flush();
      }
      if (round % 20 === 19) progress(`instrument bench (${shape.name}): round ${round + 1}/${rounds}`);
    }
    const base = samples.get('detached')!;
    const dispatches = shape.passes * shape.dispatchesPerPass;
    const variants = VARIANTS.map((variant) => {
      const s = samples.get(variant)!;
      return {
        variant,
        iterationUs: distribution(s, 'us'),
        ratioToDetached: distribution(pairedRatios(s, base), 'ratio').median,
        extraUsPerDispatch: (quantile(s, 0.1) - quantile(base, 0.1)) / dispatches,
      };
    });
    return { result: { ...shape, variants }, adapter: rigs[0]!.runtime.facts };
  } finally {
    for (const rig of rigs) {
      rig.inst?.detach();
      rig.runtime.destroy();
    }
  }
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function settledHeap(): Promise<number> {
  // Mapped readbacks land on later ticks; then two collections (weak references are cleared on the second).
  await new Promise((resolve) => setTimeout(resolve, 50));
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** The heap a window of `iterations` engine-shaped iterations holds, for one capturing variant. */
async function benchCaptureHeap(variant: InstrumentVariant, iterations: number): Promise<CaptureHeapResult> {
  const shape = SHAPES.find((s) => s.name === 'engine')!;
  // A device with timestamps (SwiftShader here), so the window holds GPU times and becomes kernels and flows too.
  const rig = await makeRig(variant, shape, 'auto');
  const inst = rig.inst!;
  try {
    // One-time costs (pipelines, pools, JIT) outside the measured window.
    for (let i = 0; i < 20; i++) rig.iterate();
    await inst.flush();
    const before = await settledHeap();
    for (let i = 0; i < iterations; i++) rig.iterate();
    const heapBytes = (await settledHeap()) - before;
    const estimate = inst.capturedBytes;
    const captured = await inst.endWindow()!.collect();
    const o = optionsOf(variant);
    const record: CaptureRecord = {
      meta: {
        workerName: 'bench',
        pid: 1,
        tid: 1,
        timeOriginEpochNs: 1_795_829_617_000_000_000n,
        rank: 0,
        worldSize: 1,
        deviceIndex: 0,
        streamId: 7,
        withStack: o.withStack ?? false,
        recordShapes: o.recordShapes ?? false,
        withMemory: o.withMemory ?? false,
        withFlops: o.withFlops ?? false,
      },
      // One step over the whole window, as a profiled iteration would be.
      steps: [{ number: 1, startNs: captured.dispatches[0]!.opStartNs - 1, endNs: captured.dispatches.at(-1)!.opEndNs + 1 }],
      cpuSpans: [],
      dispatches: captured.dispatches,
      copies: captured.copies,
      memory: captured.memory,
    };
    const chunks = serializeTraceBytes(record);
    for (const chunk of chunks) void chunk;
    const dispatches = captured.dispatches.length;
    const events = chunks.stats.events;
    return {
      variant,
      dispatches,
      events,
      heapBytes,
      heapBytesPerDispatch: heapBytes / dispatches,
      heapBytesPerEvent: heapBytes / events,
      estimateRatio: estimate / heapBytes,
    };
  } finally {
    inst.detach();
    rig.runtime.destroy();
  }
}

export async function benchInstrument(options: BenchInstrumentOptions = {}): Promise<BenchInstrumentResult> {
  const rounds = options.rounds ?? 60;
  const block = options.block ?? 10;
  const progress = options.onProgress ?? (() => undefined);
  const shapes: InstrumentShapeResult[] = [];
  let adapter: AdapterFacts | undefined;
  for (const shape of options.shapes ?? SHAPES) {
    const run = await benchShape(shape, rounds, block, progress);
    shapes.push(run.result);
    adapter ??= run.adapter;
  }
  const heap: CaptureHeapResult[] = [];
  for (const variant of ['capture', 'capture-stack', 'capture-all'] as const) {
    progress(`instrument bench: heap of a capture window (${variant})`);
    heap.push(await benchCaptureHeap(variant, 320));
  }
  const targets = { heapBytesPerEvent: HEAP_BYTES_PER_EVENT_TARGET };
  return { adapter: adapter!, backend: 'null', shapes, heap, targets, table: formatInstrumentBench({ shapes, heap, targets }) };
}

export function formatInstrumentBench(result: Pick<BenchInstrumentResult, 'shapes' | 'heap' | 'targets'>): string {
  const heapRows = result.heap.map((h) => [
    h.variant,
    String(h.dispatches),
    String(h.events),
    formatNumber(h.heapBytes / 1024),
    formatNumber(h.heapBytesPerDispatch),
    formatNumber(h.heapBytesPerEvent),
    formatRatio(h.estimateRatio),
  ]);
  const heap =
    `heap held by an open capture window (engine shape; goal ≤ ${result.targets.heapBytesPerEvent} B per trace event)\n` +
    formatTable(['variant', 'dispatches', 'trace events', 'heap KiB', 'B/dispatch', 'B/event', 'capturedBytes ÷ heap'], heapRows);
  return `${formatTimeTables(result)}\n\n${heap}`;
}

function formatTimeTables(result: Pick<BenchInstrumentResult, 'shapes'>): string {
  return result.shapes
    .map((shape) => {
      const rows = shape.variants.map((v) => [
        v.variant,
        formatNumber(quantile(v.iterationUs.samples, 0.1)),
        formatNumber(v.iterationUs.median),
        formatNumber(v.iterationUs.p90),
        formatRatio(v.ratioToDetached),
        v.variant === 'detached' ? '' : formatNumber(v.extraUsPerDispatch),
      ]);
      return (
        `${shape.name}: encode + submit of ${shape.passes} pass(es) × ${shape.dispatchesPerPass} dispatch(es) (null backend, µs per iteration)\n` +
        formatTable(['variant', 'p10', 'median', 'p90', 'vs detached', '+µs/dispatch (p10)'], rows)
      );
    })
    .join('\n\n');
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const opts: BenchInstrumentOptions = { onProgress: (line) => process.stderr.write(`${line}\n`) };
  const rounds = arg('rounds');
  const block = arg('block');
  if (rounds !== undefined) opts.rounds = rounds;
  if (block !== undefined) opts.block = block;
  const result = await benchInstrument(opts);
  process.stdout.write(`${result.table}\n`);
}
