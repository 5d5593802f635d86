// Writing traces: serialize → (gzip) → sink, chunk by chunk, giving the event loop a turn every few
// ms so the engine keeps stepping while a large trace is written (vLLM#22748: stop_profile blocking).

import { WgprofError } from '../util/errors.js';
import { epochNowNs, isNode } from '../util/runtime.js';
import { serializeTrace } from './build.js';
import type { TraceBuildOptions } from './build.js';
import { encodeTrace, yieldToEventLoop } from './encode.js';
import type { GzipLevel } from './encode.js';
import { keyAveragesFileName, traceFileName, uriScheme } from './files.js';
import { formatKeyAveragesTable, keyAverages } from './key-averages.js';
import type { KeyAveragesSortKey } from './key-averages.js';
import type { KinetoTrace } from './kineto.js';
import type { CaptureRecord } from './model.js';
import { sinkForDir } from './sinks.js';
import type { TraceSink, TraceSinkWriter } from './sinks.js';

/**
 * Which gzip implementation writeTrace uses. 'node-zlib': Node's native zlib on the libuv thread
 * pool, so compression overlaps serialization and the event loop stays free (about 3x fflate's
 * speed here; test/bench/trace.ts). 'fflate': pure JS, every runtime. 'auto' (default): node-zlib in
 * Node, fflate elsewhere. Each engine's output is byte-stable for the same input.
 */
export type GzipEngine = 'auto' | 'fflate' | 'node-zlib';

export interface WriteTraceOptions extends TraceBuildOptions {
  /** `torch_profiler_dir`: a local directory or a URI (see sinkForDir). One of dir / sink is required. */
  dir?: string;
  sink?: TraceSink;
  /** `torch_profiler_use_gzip` (default true). */
  useGzip?: boolean;
  gzipLevel?: GzipLevel;
  gzipEngine?: GzipEngine;
  /** Worker name in the file name (default meta.workerName); sanitized. */
  workerName?: string;
  /** time_ns in the file name (default: now, epoch ns). */
  timeNs?: bigint | string;
  /** Longest stretch of synchronous work between event-loop turns, ms (default 8). */
  sliceMs?: number;
}

export interface WrittenTrace {
  /** Where the file is (absolute path, URL, or name for callback/download sinks). */
  path: string;
  name: string;
  /** Bytes written (compressed when gzipped). */
  bytes: number;
  /** `traceEvents` written. */
  events: number;
}

function resolveSink(options: { dir?: string; sink?: TraceSink }): TraceSink {
  if (options.sink) return options.sink;
  if (typeof options.dir === 'string' && options.dir !== '') return sinkForDir(options.dir);
  throw new WgprofError('TRACE_NO_SINK', `no trace destination: dir is ${JSON.stringify(options.dir)} and no sink was given; pass { dir: torch_profiler_dir } or { sink }.`);
}

/**
 * Writes one trace file atomically: `{worker}.{time_ns}.pt.trace.json[.gz]`. The record is checked
 * before anything is opened; on any failure the sink is aborted (no partial or temp file is left).
 * The write yields to the event loop, so the record must not change until the promise settles.
 */
export async function writeTrace(record: CaptureRecord, options: WriteTraceOptions): Promise<WrittenTrace> {
  const sink = resolveSink(options);
  const useGzip = options.useGzip ?? true;
  const name = traceFileName(options.workerName ?? record.meta?.workerName ?? 'worker', options.timeNs ?? epochNowNs(), useGzip);
  const chunks = serializeTrace(record, { ...options, traceName: options.traceName ?? name });
  const sliceMs = options.sliceMs ?? 8;
  const level = options.gzipLevel ?? 6;
  const engine = options.gzipEngine ?? 'auto';
  if (engine !== 'auto' && engine !== 'fflate' && engine !== 'node-zlib') {
    throw new WgprofError('TRACE_BAD_OPTION', `gzipEngine is ${JSON.stringify(engine)}; expected 'auto', 'fflate' or 'node-zlib'.`);
  }
  if (engine === 'node-zlib' && !isNode) throw new WgprofError('TRACE_BAD_OPTION', "gzipEngine 'node-zlib' needs Node; use 'fflate' or 'auto' in a page.");
  const writer = await sink.open(name);
  try {
    const bytes =
      useGzip && engine !== 'fflate' && isNode
        ? await pipeNodeGzip(chunks, writer, level, sliceMs)
        : await pipeSync(encodeTrace(chunks, { gzip: useGzip, level }), writer, sliceMs);
    const path = await writer.commit();
    return { path, name, bytes, events: chunks.stats.events };
  } catch (error) {
    await writer.abort().catch(() => undefined);
    throw error;
  }
}

/** Writes already-encoded chunks, giving the event loop a turn every `sliceMs`. */
async function pipeSync(encoded: Iterable<Uint8Array>, writer: TraceSinkWriter, sliceMs: number): Promise<number> {
  let bytes = 0;
  let sliceStart = performance.now();
  for (const data of encoded) {
    await writer.write(data);
    bytes += data.length;
    if (performance.now() - sliceStart >= sliceMs) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
  }
  return bytes;
}

/**
 * Node's streaming gzip: chunk k compresses on the thread pool while chunk k+1 is serialized here.
 * Backpressure: at most one chunk waits in zlib's buffer.
 */
async function pipeNodeGzip(chunks: Iterable<string>, writer: TraceSinkWriter, level: GzipLevel, sliceMs: number): Promise<number> {
  const zlib = await import('node:zlib');
  const gz = zlib.createGzip({ level, chunkSize: 64 * 1024 });
  const out: Uint8Array[] = [];
  let failure: unknown;
  let ended = false;
  let wake: (() => void) | undefined;
  const signal = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  gz.on('data', (data: Uint8Array) => {
    out.push(data);
    signal();
  });
  gz.on('error', (error) => {
    failure = error;
    signal();
  });
  gz.on('end', () => {
    ended = true;
    signal();
  });
  gz.on('drain', signal);
  let bytes = 0;
  const flush = async (): Promise<void> => {
    while (out.length > 0) {
      const data = out.shift()!;
      await writer.write(data);
      bytes += data.length;
    }
    if (failure !== undefined) throw failure;
  };
  const waitFor = async (done: () => boolean): Promise<void> => {
    while (!done()) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (done() || out.length > 0 || failure !== undefined) signal();
      });
      await flush();
    }
  };
  try {
    let sliceStart = performance.now();
    for (const text of chunks) {
      await waitFor(() => !gz.writableNeedDrain || failure !== undefined);
      gz.write(text);
      await flush();
      if (performance.now() - sliceStart >= sliceMs) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
    }
    gz.end();
    await waitFor(() => ended || failure !== undefined);
    await flush();
    return bytes;
  } finally {
    if (!ended) gz.destroy();
  }
}

export interface DumpKeyAveragesOptions {
  sink?: TraceSink;
  sortBy?: KeyAveragesSortKey;
  rowLimit?: number;
}

/**
 * vLLM's `torch_profiler_dump_cuda_time_total`: writes the key-averages table to
 * `{dir}/profiler_out_{rank}.txt` (atomically), sorted by self GPU time (self CPU time, 50 rows,
 * when there is no GPU time, as vLLM does for CPU-only runs). Skipped for URI dirs, as vLLM does:
 * resolves to null then. Resolves to the path written.
 */
export async function dumpKeyAverages(input: CaptureRecord | KinetoTrace, dir: string, rank: number, options: DumpKeyAveragesOptions = {}): Promise<string | null> {
  const fileName = keyAveragesFileName(rank);
  if (!options.sink && uriScheme(dir) !== null) return null;
  const sink = resolveSink({ dir, ...(options.sink ? { sink: options.sink } : {}) });
  const ka = keyAverages(input);
  const sortBy = options.sortBy ?? (ka.hasGpuTime ? 'self_gpu' : 'self_cpu');
  const rowLimit = options.rowLimit ?? (ka.hasGpuTime ? 100 : 50);
  const text = formatKeyAveragesTable(ka, { sortBy, rowLimit });
  const writer = await sink.open(fileName);
  try {
    await writer.write(new TextEncoder().encode(text));
    return await writer.commit();
  } catch (error) {
    await writer.abort().catch(() => undefined);
    throw error;
  }
}
