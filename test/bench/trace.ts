// Trace export benchmark: a synthetic CaptureRecord of ~100k trace events (dispatch triples with
// flows, steps, copies, memory), exported the way the profiler does at stop().
//
// Reports (STYLE §14: warm-up excluded, every sample kept, min/median/max; ratios from one run):
//   - export throughput with gzip, events/s: writeTrace into memory with Node's zlib (the default in
//     Node: parallel deflate on the thread pool) and with fflate (the default in pages)   target >= 470k/s
//   - gzip bytes per event, with ns-resolution clocks and with browser-like clocks          target <= 10 B
//   - the gzip level / strategy trade-off: size and speed for levels 1-9
//   - peak heap+external growth while streaming vs JSON.stringify(buildTrace()) + gzipSync
//   - stop-to-file latency: writeTrace() to a local directory, resolved with the file on disk; the first
//     export of the process (cold JIT, as a profiler's single stop() sees it) and warm repeats
//
// Run: npm run bench -- trace, or node scripts/run-ts.mjs test/bench/trace.ts [--events N] [--reps N] [--level 0-9] [--full]

import { mkdirSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { constants as zlibConstants, deflateRawSync } from 'node:zlib';
import { gzipSync } from 'fflate';
import { buildTrace, CallbackSink, concatBytes, encodeTrace, serializeTraceBytes, writeTrace } from '../../src/trace/index.js';
import type { GzipLevel } from '../../src/trace/index.js';
import { distribution, formatNumber, formatTable } from './util.js';
import type { Distribution } from './util.js';
import { syntheticRecord } from './synthetic-record.js';
import { benchTraceBrowser, formatTraceBrowser, type TraceBrowserResult } from './trace-browser.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap plus off-heap memory (`external` already includes ArrayBuffers). */
function memNow(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** One row of the gzip level table. */
export interface GzipLevelRow {
  level: GzipLevel;
  strategy: 'default' | 'filtered';
  gzBytesPerEvent: number;
  /** Deflate alone, one thread, whole text (deflateRawSync), MB of JSON per second: best of 2. */
  deflateMBPerS: number;
  /** writeTrace with node zlib at this level (default strategy only), median events/s. */
  exportEventsPerS?: number;
}

export interface TraceBenchResult {
  bench: 'trace';
  events: number;
  gzipLevel: GzipLevel;
  /** The same export in Chromium (fflate vs CompressionStream); an error when Chromium could not be used. */
  browser?: TraceBrowserResult | { error: string };
  environment: { node: string; cores: number; uvThreadpoolSize: string; loadAverageStart: number[]; loadAverageEnd: number[] };
  /** writeTrace with Node's zlib (the Node default: parallel deflate jobs on the thread pool), into memory. */
  exportNodeZlibEventsPerS: Distribution;
  /** Same, per CPU-second of this process (main thread + zlib threads + GC): robust to a busy machine. */
  exportNodeZlibEventsPerCpuS: Distribution;
  /** writeTrace with fflate (the default in pages), into memory. */
  exportFflateEventsPerS: Distribution;
  /** serializeTraceBytes alone (what writeTrace consumes): JSON bytes, no compression. */
  serializeEventsPerS: Distribution;
  gzBytesPerEvent: number;
  fflateGzBytesPerEvent: number;
  /** Same record with browser-like clocks: CPU times at 5 µs, GPU ticks at 1 µs resolution. */
  gzBytesPerEventCoarseClock: number;
  rawBytesPerEvent: number;
  levels: GzipLevelRow[];
  /** Peak live heap + external growth while streaming (serialize + fflate gzip), sampled after a forced GC. */
  peakMemStreamingBytes: number;
  /** Same for buildTrace + JSON.stringify + gzipSync of the whole text. */
  peakMemStringifyBytes: number;
  /** The first writeTrace of the process to a directory (cold JIT), ms. */
  firstStopToFileMs: number;
  /** Longest the event loop waited for a turn during an export, ms: the first export, then the worst of 2 warm ones per engine. */
  maxEventLoopStallMs: { first: number; nodeZlib: number; fflate: number };
  stopToFileMs: Distribution;
  stringifyBaselineMs: Distribution;
  targets: { eventsPerS: number; gzBytesPerEvent: number };
}

const LEVELS: readonly GzipLevel[] = [1, 3, 4, 5, 6, 7, 9];
const TIME_NS = 1_795_829_617_000_000_000n;

/**
 * Runs `work` while a 1 ms timer measures the longest wait for an event-loop turn (a timer, not a
 * setImmediate chain: that would spin the main thread and steal the cores the export runs on).
 */
async function stallDuring<T>(work: () => Promise<T>): Promise<{ result: T; maxStallMs: number }> {
  let last = performance.now();
  let maxStallMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxStallMs = Math.max(maxStallMs, now - last);
    last = now;
  }, 1);
  try {
    const result = await work();
    return { result, maxStallMs: Math.max(maxStallMs, performance.now() - last) };
  } finally {
    clearInterval(timer);
  }
}

/** Runs the benchmark and returns the numbers (printed with formatTraceBench). */
export async function benchTrace(
  opts: {
    events?: number;
    reps?: number;
    level?: GzipLevel;
    full?: boolean;
    levelTable?: boolean;
    browser?: boolean;
    print?: boolean;
    progress?: (line: string) => void;
  } = {},
): Promise<TraceBenchResult> {
  const nEvents = opts.events ?? 100_000;
  const reps = opts.reps ?? 7;
  const level = opts.level ?? 6;
  const progress = opts.progress ?? (() => undefined);
  const loadAverageStart = loadavg();
  const record = syntheticRecord(nEvents, opts.full ?? false);
  const dir = join(process.cwd(), '.wgprof-tmp', 'trace-bench');
  mkdirSync(dir, { recursive: true });

  const toFile = async (r: number): Promise<number> => {
    const t0 = performance.now();
    const written = await writeTrace(record, { dir, gzipLevel: level, timeNs: TIME_NS + BigInt(r) });
    const ms = performance.now() - t0;
    rmSync(written.path);
    return ms;
  };
  // First, before anything else has run the trace code: what a profiler's one stop() sees.
  const first = await stallDuring(() => toFile(0));
  const firstStopToFileMs = first.result;

  const exportWith = async (
    gzipEngine: 'node-zlib' | 'fflate',
    gzipLevel: GzipLevel = level,
  ): Promise<{ ms: number; cpuMs: number; bytes: number; events: number }> => {
    gc();
    let bytes = 0;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const written = await writeTrace(record, { sink: new CallbackSink((_name, data) => void (bytes = data.length)), gzipEngine, gzipLevel, timeNs: TIME_NS });
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    return { ms, cpuMs: (cpu.user + cpu.system) / 1000, bytes, events: written.events };
  };
  const serializeOnce = (): { ms: number; bytes: number } => {
    gc();
    const t0 = performance.now();
    let bytes = 0;
    for (const chunk of serializeTraceBytes(record)) bytes += chunk.length;
    return { ms: performance.now() - t0, bytes };
  };

  // Two warm-up rounds: V8 needs a couple of exports to optimize the writer.
  progress('warm-up');
  for (let r = 0; r < 2; r++) {
    await exportWith('node-zlib');
    await exportWith('fflate');
    serializeOnce();
  }
  // Interleaved, so that a busy machine slows every variant alike.
  progress(`${reps} reps`);
  const nativeRuns: { ms: number; cpuMs: number; bytes: number; events: number }[] = [];
  const fflateRuns: { ms: number; bytes: number; events: number }[] = [];
  const serializeRuns: { ms: number; bytes: number }[] = [];
  for (let r = 0; r < reps; r++) {
    nativeRuns.push(await exportWith('node-zlib'));
    fflateRuns.push(await exportWith('fflate'));
    serializeRuns.push(serializeOnce());
  }
  const events = nativeRuns[0]!.events;
  // Event-loop stalls, on separate runs so that the probe's timer never slows the timed ones.
  const stalls = { nodeZlib: 0, fflate: 0 };
  for (let r = 0; r < 2; r++) {
    stalls.nodeZlib = Math.max(stalls.nodeZlib, (await stallDuring(() => exportWith('node-zlib'))).maxStallMs);
    stalls.fflate = Math.max(stalls.fflate, (await stallDuring(() => exportWith('fflate'))).maxStallMs);
  }

  // The level table: deflate alone on the whole JSON text, and writeTrace at each level.
  const levels: GzipLevelRow[] = [];
  if (opts.levelTable ?? true) {
    progress('gzip levels');
    const text = concatBytes([...serializeTraceBytes(record)]);
    for (const lv of LEVELS) {
      for (const strategy of ['default', 'filtered'] as const) {
        let best = Infinity;
        let size = 0;
        for (let r = 0; r < 2; r++) {
          const t0 = performance.now();
          size =
            deflateRawSync(text, { level: lv, strategy: strategy === 'filtered' ? zlibConstants.Z_FILTERED : zlibConstants.Z_DEFAULT_STRATEGY }).length + 18;
          best = Math.min(best, performance.now() - t0);
        }
        const row: GzipLevelRow = { level: lv, strategy, gzBytesPerEvent: size / events, deflateMBPerS: text.length / 1e3 / best };
        if (strategy === 'default') {
          const runs: number[] = [];
          for (let r = 0; r < 3; r++) {
            const run = await exportWith('node-zlib', lv);
            runs.push((run.events / run.ms) * 1000);
          }
          row.exportEventsPerS = distribution(runs, 'events/s').median;
        }
        levels.push(row);
      }
    }
  }

  // Peak live memory (sampled after a forced GC at every chunk, so garbage is not counted). Native
  // memory of earlier runs (zlib handles) is freed by finalizers after a GC: settle it first.
  progress('memory');
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await settle();
  let before = memNow();
  let peakStreaming = 0;
  for (const data of encodeTrace(serializeTraceBytes(record), { gzip: true, level })) {
    void data;
    gc();
    peakStreaming = Math.max(peakStreaming, memNow() - before);
  }
  await settle();
  before = memNow();
  const trace = buildTrace(record);
  gc();
  let peakStringify = memNow() - before;
  const jsonText = JSON.stringify(trace);
  gc();
  peakStringify = Math.max(peakStringify, memNow() - before);
  const gz = gzipSync(new TextEncoder().encode(jsonText), { level, mtime: 0 });
  gc();
  peakStringify = Math.max(peakStringify, memNow() - before);
  void [trace.traceEvents.length, jsonText.length, gz.length];

  // Baseline: the whole object, one JSON string, one gzip call.
  progress('baselines');
  const stringifyRuns: number[] = [];
  for (let r = 0; r < Math.min(reps, 3); r++) {
    gc();
    const t0 = performance.now();
    void gzipSync(new TextEncoder().encode(JSON.stringify(buildTrace(record))), { level, mtime: 0 });
    stringifyRuns.push(performance.now() - t0);
  }

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
  await writeTrace(coarse, {
    sink: new CallbackSink((_n, data) => void (coarseBytes = data.length)),
    gzipLevel: level,
    gzipEngine: 'node-zlib',
    timeNs: TIME_NS,
  });

  // The same export in Chromium (fflate vs CompressionStream), unless asked not to.
  let browser: TraceBrowserResult | { error: string } | undefined;
  if (opts.browser ?? true) {
    try {
      browser = await benchTraceBrowser({ events: nEvents, reps: Math.max(3, Math.min(reps, 5)), progress });
    } catch (error) {
      browser = { error: String(error instanceof Error ? error.message : error).split('\n')[0]! };
    }
  }

  progress('stop-to-file');
  const fileRuns: number[] = [];
  for (let r = 1; r <= reps; r++) fileRuns.push(await toFile(r));
  rmSync(dir, { recursive: true, force: true });

  const result: TraceBenchResult = {
    bench: 'trace',
    events,
    gzipLevel: level,
    environment: {
      node: process.version,
      cores: availableParallelism(),
      uvThreadpoolSize: process.env['UV_THREADPOOL_SIZE'] ?? '4 (default)',
      loadAverageStart,
      loadAverageEnd: loadavg(),
    },
    exportNodeZlibEventsPerS: distribution(
      nativeRuns.map((r) => (r.events / r.ms) * 1000),
      'events/s',
    ),
    exportNodeZlibEventsPerCpuS: distribution(
      nativeRuns.map((r) => (r.events / r.cpuMs) * 1000),
      'events/cpu-s',
    ),
    exportFflateEventsPerS: distribution(
      fflateRuns.map((r) => (r.events / r.ms) * 1000),
      'events/s',
    ),
    serializeEventsPerS: distribution(
      serializeRuns.map((r) => (events / r.ms) * 1000),
      'events/s',
    ),
    gzBytesPerEvent: nativeRuns[0]!.bytes / events,
    fflateGzBytesPerEvent: fflateRuns[0]!.bytes / events,
    gzBytesPerEventCoarseClock: coarseBytes / events,
    rawBytesPerEvent: serializeRuns[0]!.bytes / events,
    levels,
    peakMemStreamingBytes: peakStreaming,
    peakMemStringifyBytes: peakStringify,
    firstStopToFileMs,
    maxEventLoopStallMs: { first: first.maxStallMs, ...stalls },
    stopToFileMs: distribution(fileRuns, 'ms'),
    stringifyBaselineMs: distribution(stringifyRuns, 'ms'),
    targets: { eventsPerS: 470_000, gzBytesPerEvent: 10 },
  };
  if (browser) result.browser = browser;
  if (opts.print) process.stdout.write(`${formatTraceBench(result)}\n`);
  return result;
}

/** The result as text tables: headline numbers, then the gzip level trade-off. */
export function formatTraceBench(r: TraceBenchResult): string {
  const k = (x: number): string => `${(x / 1000).toFixed(0)}k`;
  const mb = (x: number): string => `${(x / 1048576).toFixed(1)} MiB`;
  const dist = (d: Distribution, f: (x: number) => string): string => `${f(d.min)} / ${f(d.median)} / ${f(d.max)}`;
  const ms = (x: number): string => x.toFixed(0);
  const rows: string[][] = [
    ['events', String(r.events), ''],
    ['export+gzip events/s, node zlib (min/med/max)', dist(r.exportNodeZlibEventsPerS, k), `target >= ${k(r.targets.eventsPerS)}`],
    ['  same, per CPU-second (median)', k(r.exportNodeZlibEventsPerCpuS.median), ''],
    [
      'export+gzip events/s, fflate (min/med/max)',
      dist(r.exportFflateEventsPerS, k),
      `${(r.exportNodeZlibEventsPerS.median / r.exportFflateEventsPerS.median).toFixed(2)}x slower than node zlib`,
    ],
    ['serialize only (JSON bytes) events/s (min/med/max)', dist(r.serializeEventsPerS, k), ''],
    [`gzip bytes/event, node zlib level ${r.gzipLevel}`, r.gzBytesPerEvent.toFixed(2), `target <= ${r.targets.gzBytesPerEvent}`],
    ['  same, browser-like clocks (5 µs CPU, 1 µs GPU)', r.gzBytesPerEventCoarseClock.toFixed(2), ''],
    [`  same, fflate level ${r.gzipLevel}`, r.fflateGzBytesPerEvent.toFixed(2), ''],
    ['raw JSON bytes/event', r.rawBytesPerEvent.toFixed(1), ''],
    ['peak live memory, streaming (after GC)', mb(r.peakMemStreamingBytes), ''],
    [
      'peak live memory, JSON.stringify baseline',
      mb(r.peakMemStringifyBytes),
      `${(r.peakMemStringifyBytes / Math.max(1, r.peakMemStreamingBytes)).toFixed(1)}x streaming`,
    ],
    ['stop-to-file ms, first export of the process', ms(r.firstStopToFileMs), 'cold JIT'],
    [
      'longest event-loop stall ms: first / node zlib / fflate',
      `${ms(r.maxEventLoopStallMs.first)} / ${ms(r.maxEventLoopStallMs.nodeZlib)} / ${ms(r.maxEventLoopStallMs.fflate)}`,
      'writeTrace yields every 8 ms',
    ],
    ['stop-to-file ms, warm (min/med/max)', dist(r.stopToFileMs, ms), ''],
    [
      'stringify+gzipSync baseline ms (median)',
      ms(r.stringifyBaselineMs.median),
      `${(r.stringifyBaselineMs.median / r.stopToFileMs.median).toFixed(2)}x stop-to-file`,
    ],
  ];
  const env = r.environment;
  let out = `wgprof trace export bench (node ${env.node}, ${env.cores} cores, UV_THREADPOOL_SIZE ${env.uvThreadpoolSize}, load ${env.loadAverageStart[0]!.toFixed(1)} -> ${env.loadAverageEnd[0]!.toFixed(1)}; ${r.exportNodeZlibEventsPerS.count} reps after 2 warm-up rounds)\n`;
  out += formatTable(['metric', 'value', 'note'], rows);
  if (r.browser) out += '\n\n' + ('error' in r.browser ? `in Chromium: not measured (${r.browser.error})` : formatTraceBrowser(r.browser));
  if (r.levels.length > 0) {
    out += '\n\ngzip level trade-off (same record; deflate alone on one thread, and writeTrace with node zlib)\n';
    out += formatTable(
      ['level', 'strategy', 'gzip B/event', 'deflate MB/s (1 thread)', 'writeTrace events/s (median)'],
      r.levels.map((row) => [
        String(row.level),
        row.strategy,
        row.gzBytesPerEvent.toFixed(2),
        formatNumber(row.deflateMBPerS),
        row.exportEventsPerS !== undefined ? k(row.exportEventsPerS) : '',
      ]),
    );
  }
  return out;
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
    levelTable: !process.argv.includes('--no-levels'),
    browser: !process.argv.includes('--no-browser'),
    print: true,
    progress: (line) => process.stderr.write(`trace bench: ${line}\n`),
  });
}
