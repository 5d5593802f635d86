// Trace export benchmark: a synthetic CaptureRecord of ~100k trace events (dispatch triples with
// flows, steps, copies, memory), exported the way the profiler does at stop().
//
// Reports (STYLE §14: warm-up excluded, every sample kept, min/median/max):
//   - export throughput with gzip, events/s (serialize + gzip into memory)        target >= 470k/s
//   - gzip bytes per event                                                          target <= 10 B
//   - peak heap+external growth while streaming vs JSON.stringify(buildTrace()) + gzipSync
//   - stop-to-file latency: writeTrace() to a local directory, resolve to file on disk
//
// Run: node scripts/run-ts.mjs test/bench/trace.ts [--events N] [--reps N] [--level 0-9]

import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'fflate';
import { buildTrace, CallbackSink, encodeTrace, serializeTrace, writeTrace } from '../../src/trace/index.js';
import type { GzipLevel } from '../../src/trace/index.js';
import type { CaptureRecord, DispatchRecord } from '../../src/trace/model.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Deterministic PRNG (mulberry32) so every run measures the same record. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KERNELS = ['matmul', 'matmul_bias_gelu', 'layer_norm', 'softmax', 'attention_scores', 'attention_apply', 'rope', 'add', 'embedding', 'argmax'];
const STACKS = [
  ['runLayer (model/transformer.ts:88:12)', 'forward (model/transformer.ts:140:7)', 'executeModel (engine/runner.ts:51:20)', 'step (engine/engine.ts:212:9)'],
  ['attention (model/attention.ts:40:5)', 'runLayer (model/transformer.ts:91:12)', 'forward (model/transformer.ts:140:7)', 'executeModel (engine/runner.ts:51:20)', 'step (engine/engine.ts:212:9)'],
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
    copies.push({ externalId: 1 + 2 * nDispatch + s, correlation: 1 + 2 * nDispatch + s, kind: 'HtoD', bytes: 4096, launch: 'writeBuffer', launchStartNs: copyStart, launchEndNs: copyEnd, gpuStartNs: cgs, gpuEndNs: cge });
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
        correlation: 1 + nDispatch + d,
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
        inputDims: [[1, 16, 512], [512, 512]],
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
      memory.push({ tsNs: cpu + 100, addr: 0x10000 + s * 0x100, bytes: -65536, totalAllocatedBytes: allocated, totalReservedBytes: allocated + 65536, kind: 'buffer' });
    }
    cpu += ns(1_000, 3_000);
    steps.push({ number: s + 2, startNs: stepStart, endNs: cpu + 200, annotation: `execute_context_0(0)_generation_${(s % 4) + 1}(${(s % 4) + 1})`, annotationStartNs: annStart, annotationEndNs: cpu });
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

interface Stats {
  min: number;
  median: number;
  max: number;
  samples: number[];
}
function stats(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  return { min: sorted[0]!, median: sorted[Math.floor(sorted.length / 2)]!, max: sorted[sorted.length - 1]!, samples };
}
/** Heap plus off-heap memory (`external` already includes ArrayBuffers). */
function memNow(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

export interface TraceBenchResult {
  events: number;
  gzipLevel: GzipLevel;
  /** Node's native zlib on the thread pool (writeTrace's default engine in Node), into memory. */
  exportNativeEventsPerS: Stats;
  /** Same, per CPU-second of this process (main thread + zlib threads): robust to a busy machine. */
  exportNativeEventsPerCpuS: Stats;
  /** fflate, synchronous, into memory. */
  exportEventsPerS: Stats;
  serializeOnlyEventsPerS: Stats;
  gzBytesPerEvent: number;
  /** Same record with browser-like clocks: CPU times at 5 µs, GPU ticks at 1 µs resolution. */
  gzBytesPerEventCoarseClock: number;
  rawBytesPerEvent: number;
  /** Peak live heap + external growth while streaming (serialize + gzip), sampled after a forced GC. */
  peakMemStreamingBytes: number;
  /** Same for buildTrace + JSON.stringify + gzipSync of the whole text. */
  peakMemStringifyBytes: number;
  stopToFileMs: Stats;
  stringifyBaselineMs: Stats;
  targets: { eventsPerS: number; gzBytesPerEvent: number };
}

/** Runs the benchmark; prints a table and returns the numbers. */
export async function benchTrace(opts: { events?: number; reps?: number; level?: GzipLevel; full?: boolean; print?: boolean } = {}): Promise<TraceBenchResult> {
  const nEvents = opts.events ?? 100_000;
  const reps = opts.reps ?? 5;
  const level = opts.level ?? 6;
  const record = syntheticRecord(nEvents, opts.full ?? false);

  const exportOnce = (gzip: boolean): { ms: number; bytes: number; events: number } => {
    gc();
    const t0 = performance.now();
    const chunks = serializeTrace(record);
    let bytes = 0;
    for (const data of encodeTrace(chunks, { gzip, level })) bytes += data.length;
    return { ms: performance.now() - t0, bytes, events: chunks.stats.events };
  };
  // Peak live memory (sampled after a forced GC at every chunk, so garbage is not counted). Native
  // memory of earlier runs (zlib handles) is freed by finalizers after a GC: settle it first.
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  const streamingPeakLive = async (): Promise<number> => {
    await settle();
    const before = memNow();
    let peak = 0;
    for (const data of encodeTrace(serializeTrace(record), { gzip: true, level })) {
      void data;
      gc();
      peak = Math.max(peak, memNow() - before);
    }
    return peak;
  };
  const stringifyPeakLive = async (): Promise<number> => {
    await settle();
    const before = memNow();
    const trace = buildTrace(record);
    gc();
    let peak = memNow() - before;
    const jsonText = JSON.stringify(trace);
    gc();
    peak = Math.max(peak, memNow() - before);
    const gz = gzipSync(new TextEncoder().encode(jsonText), { level, mtime: 0 });
    gc();
    peak = Math.max(peak, memNow() - before);
    void [trace.traceEvents.length, jsonText.length, gz.length];
    return peak;
  };
  const serializeOnce = (): number => {
    const t0 = performance.now();
    let chars = 0;
    for (const chunk of serializeTrace(record)) chars += chunk.length;
    void chars;
    return performance.now() - t0;
  };

  const exportNative = async (): Promise<{ ms: number; cpuMs: number; bytes: number; events: number }> => {
    gc();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let bytes = 0;
    const written = await writeTrace(record, {
      sink: new CallbackSink((_name, data) => {
        bytes = data.length;
      }),
      gzipEngine: 'node-zlib',
      gzipLevel: level,
      timeNs: 1_795_829_617_000_000_000n,
    });
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    return { ms, cpuMs: (cpu.user + cpu.system) / 1000, bytes, events: written.events };
  };

  exportOnce(true); // warm-up (JIT)
  await exportNative();
  const nativeRuns: { ms: number; cpuMs: number; bytes: number; events: number }[] = [];
  for (let r = 0; r < reps; r++) nativeRuns.push(await exportNative());
  const exportRuns = Array.from({ length: reps }, () => exportOnce(true));
  const events = exportRuns[0]!.events;
  const raw = exportOnce(false);
  serializeOnce();
  const serializeRuns = Array.from({ length: reps }, () => serializeOnce());

  // Baseline: the whole object, one JSON string, one gzip call.
  const stringifyRuns: number[] = [];
  for (let r = 0; r < Math.min(reps, 3); r++) {
    gc();
    const t0 = performance.now();
    const gz = gzipSync(new TextEncoder().encode(JSON.stringify(buildTrace(record))), { level, mtime: 0 });
    stringifyRuns.push(performance.now() - t0);
    void gz;
  }
  const peakStreaming = await streamingPeakLive();
  const peakStringify = await stringifyPeakLive();

  // Browser-like clocks (performance.now() coarsened to 5 µs, GPU ticks to 1 µs): fewer random digits.
  const coarse = syntheticRecord(nEvents, opts.full ?? false);
  const q = (ns: number, step: number): number => Math.floor(ns / step) * step;
  for (const d of coarse.dispatches) {
    d.opStartNs = q(d.opStartNs, 5000);
    d.opEndNs = q(d.opEndNs, 5000);
    d.launchStartNs = q(d.launchStartNs, 5000);
    d.launchEndNs = q(d.launchEndNs, 5000);
    d.gpuStartNs = q(d.gpuStartNs!, 1000);
    d.gpuEndNs = q(d.gpuEndNs!, 1000);
  }
  let coarseBytes = 0;
  await writeTrace(coarse, { sink: new CallbackSink((_n, data) => void (coarseBytes = data.length)), gzipLevel: level, gzipEngine: 'node-zlib', timeNs: 1_795_829_617_000_000_000n });

  const dir = join(process.cwd(), '.wgprof-tmp', 'trace-bench');
  mkdirSync(dir, { recursive: true });
  const fileRuns: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const written = await writeTrace(record, { dir, gzipLevel: level, timeNs: BigInt(1_795_829_617_000_000_000 + r) });
    fileRuns.push(performance.now() - t0);
    rmSync(written.path);
  }
  rmSync(dir, { recursive: true, force: true });

  const result: TraceBenchResult = {
    events,
    gzipLevel: level,
    exportNativeEventsPerS: stats(nativeRuns.map((r) => (r.events / r.ms) * 1000)),
    exportNativeEventsPerCpuS: stats(nativeRuns.map((r) => (r.events / r.cpuMs) * 1000)),
    exportEventsPerS: stats(exportRuns.map((r) => (r.events / r.ms) * 1000)),
    serializeOnlyEventsPerS: stats(serializeRuns.map((ms) => (events / ms) * 1000)),
    gzBytesPerEvent: nativeRuns[0]!.bytes / events,
    gzBytesPerEventCoarseClock: coarseBytes / events,
    rawBytesPerEvent: raw.bytes / events,
    peakMemStreamingBytes: peakStreaming,
    peakMemStringifyBytes: peakStringify,
    stopToFileMs: stats(fileRuns),
    stringifyBaselineMs: stats(stringifyRuns),
    targets: { eventsPerS: 470_000, gzBytesPerEvent: 10 },
  };
  if (opts.print ?? true) {
    const k = (x: number): string => `${(x / 1000).toFixed(0)}k`;
    const mb = (x: number): string => `${(x / 1048576).toFixed(1)} MiB`;
    const rows: [string, string, string][] = [
      ['events', String(events), ''],
      ['export+gzip events/s, node zlib (min/med/max)', `${k(result.exportNativeEventsPerS.min)} / ${k(result.exportNativeEventsPerS.median)} / ${k(result.exportNativeEventsPerS.max)}`, `target >= ${k(470_000)}`],
      ['  same, per CPU-second (median)', k(result.exportNativeEventsPerCpuS.median), ''],
      ['export+gzip events/s, fflate (min/med/max)', `${k(result.exportEventsPerS.min)} / ${k(result.exportEventsPerS.median)} / ${k(result.exportEventsPerS.max)}`, ''],
      [`fflate gzip bytes/event (level ${level})`, (exportRuns[0]!.bytes / events).toFixed(2), ''],
      ['serialize only events/s (median)', k(result.serializeOnlyEventsPerS.median), ''],
      [`node zlib gzip bytes/event (level ${level})`, result.gzBytesPerEvent.toFixed(2), 'target <= 10'],
      ['  same, browser-like clocks (5 µs CPU, 1 µs GPU)', result.gzBytesPerEventCoarseClock.toFixed(2), ''],
      ['raw JSON bytes/event', result.rawBytesPerEvent.toFixed(1), ''],
      ['peak live memory, streaming (after GC)', mb(result.peakMemStreamingBytes), ''],
      ['peak live memory, JSON.stringify baseline', mb(result.peakMemStringifyBytes), `${(result.peakMemStringifyBytes / Math.max(1, result.peakMemStreamingBytes)).toFixed(1)}x streaming`],
      ['stop-to-file ms (min/med/max)', `${result.stopToFileMs.min.toFixed(0)} / ${result.stopToFileMs.median.toFixed(0)} / ${result.stopToFileMs.max.toFixed(0)}`, ''],
      ['stringify+gzipSync baseline ms (median)', result.stringifyBaselineMs.median.toFixed(0), `${(result.stringifyBaselineMs.median / result.stopToFileMs.median).toFixed(2)}x stop-to-file`],
    ];
    const w0 = Math.max(...rows.map((r) => r[0].length));
    const w1 = Math.max(...rows.map((r) => r[1].length));
    process.stdout.write(`wgprof trace export bench (node ${process.version}, ${reps} reps after 1 warm-up)\n`);
    for (const [a, b, c] of rows) process.stdout.write(`  ${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}\n`);
  }
  return result;
}

const isMain = process.argv[1] !== undefined && /bench[\\/]trace\.ts$/.test(process.argv[1]);
if (isMain) {
  const arg = (name: string): number | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 && process.argv[i + 1] !== undefined ? Number(process.argv[i + 1]) : undefined;
  };
  const level = arg('level');
  await benchTrace({
    ...(arg('events') !== undefined ? { events: arg('events')! } : {}),
    ...(arg('reps') !== undefined ? { reps: arg('reps')! } : {}),
    ...(level !== undefined ? { level: level as GzipLevel } : {}),
    full: process.argv.includes('--full'),
  });
}
