// Writing traces: serialize → (gzip) → sink, chunk by chunk, giving the event loop a turn every few
// ms so the engine keeps stepping while a large trace is written (vLLM#22748: stop_profile blocking).

import { WgprofError } from '../util/errors.js';
import { epochNowNs, isNode } from '../util/runtime.js';
import type { CaptureRecord } from '../capture/model.js';
import type { EventWriter } from './emit.js';
import { encodeTrace, yieldToEventLoop } from './encode.js';
import type { GzipLevel } from './encode.js';
import { traceFileName } from './files.js';
import { SLAB_BYTES } from './out.js';
import { planTrace, type TraceBuildOptions, type TracePlan } from './plan.js';
import { serializePlan } from './serialize.js';
import { sinkForDir } from './sinks.js';
import type { TraceSink, TraceSinkWriter } from './sinks.js';

/**
 * Which gzip implementation writeTrace uses. 'node-zlib': Node's native zlib on the libuv thread
 * pool, megabyte segments deflating in parallel while this thread serializes the next ones (2-3x
 * fflate's speed; test/bench/trace.ts). 'compression-stream': the platform's `CompressionStream('gzip')`
 * (native zlib in Chromium; test/bench/trace-browser.ts measures it against fflate in the browser).
 * 'fflate': pure JS, every runtime, and the only one that takes `gzipLevel` everywhere
 * (CompressionStream has no level: the platform's default, 6 in Chromium and Node). 'auto' (default):
 * node-zlib in Node, else compression-stream where the platform has it and the level is 6, else fflate. Each engine's
 * output is byte-stable for the same input (and the same platform).
 */
export type GzipEngine = 'auto' | 'fflate' | 'node-zlib' | 'compression-stream';

const GZIP_ENGINES: readonly GzipEngine[] = ['auto', 'fflate', 'node-zlib', 'compression-stream'];

/** Whether this platform has CompressionStream('gzip') (Chromium 80+, Node 18+, Firefox 113+, Safari 16.4+). */
export function hasCompressionStream(): boolean {
  return typeof CompressionStream === 'function';
}

export interface WriteTraceOptions extends TraceBuildOptions {
  /** `torch_profiler_dir`: a local directory or a URI (see sinkForDir). One of dir / sink is required. */
  dir?: string;
  sink?: TraceSink;
  /** `torch_profiler_use_gzip` (default true). */
  useGzip?: boolean;
  /**
   * Deflate level, 0-9 (default 6). test/bench/trace.ts prints the trade-off: on a 100k-event trace
   * level 6 gives ~12.8 B/event at ~155 MB/s per thread; 1 is ~3.5x faster but 35% bigger; 9 is 7%
   * smaller but 2.5x slower.
   */
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

export function resolveSink(options: { dir?: string; sink?: TraceSink }): TraceSink {
  if (options.sink) return options.sink;
  if (typeof options.dir === 'string' && options.dir !== '') return sinkForDir(options.dir);
  throw new WgprofError(
    'TRACE_NO_SINK',
    `no trace destination: dir is ${JSON.stringify(options.dir)} and no sink was given; pass { dir: torch_profiler_dir } or { sink }.`,
  );
}

/**
 * Writes one trace file atomically: `{worker}.{time_ns}.pt.trace.json[.gz]`. The record is checked
 * before anything is opened; on any failure the sink is aborted (no partial or temp file is left).
 * The write yields to the event loop, so the record must not change until the promise settles.
 */
export async function writeTrace(record: CaptureRecord, options: WriteTraceOptions): Promise<WrittenTrace> {
  resolveSink(options);
  return writePlan(planTrace(record, options), options);
}

/** writeTrace of a record already planned; `also` receives every event as it is written. */
export async function writePlan(plan: TracePlan, options: WriteTraceOptions, also?: EventWriter): Promise<WrittenTrace> {
  const sink = resolveSink(options);
  const useGzip = options.useGzip ?? true;
  const name = traceFileName(options.workerName ?? plan.meta.workerName ?? 'worker', options.timeNs ?? epochNowNs(), useGzip);
  const sliceMs = options.sliceMs ?? 8;
  const level = options.gzipLevel ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new WgprofError('TRACE_BAD_OPTION', `gzipLevel is ${String(level)}; expected an integer from 0 (no compression) to 9 (smallest); 6 is the default.`);
  }
  const requested = options.gzipEngine ?? 'auto';
  if (!GZIP_ENGINES.includes(requested)) {
    throw new WgprofError('TRACE_BAD_OPTION', `gzipEngine is ${JSON.stringify(requested)}; expected one of ${GZIP_ENGINES.map((e) => `'${e}'`).join(', ')}.`);
  }
  if (requested === 'node-zlib' && !isNode)
    throw new WgprofError('TRACE_BAD_OPTION', "gzipEngine 'node-zlib' needs Node; use 'compression-stream', 'fflate' or 'auto' in a page.");
  if (requested === 'compression-stream' && !hasCompressionStream()) {
    throw new WgprofError('TRACE_BAD_OPTION', "gzipEngine 'compression-stream' needs CompressionStream, which this runtime lacks; use 'fflate' or 'auto'.");
  }
  if (requested === 'compression-stream' && level !== 6) {
    throw new WgprofError(
      'TRACE_BAD_OPTION',
      `gzipEngine 'compression-stream' compresses at the platform's level (6) and takes no gzipLevel; got gzipLevel ${level}. ` +
        "Use 'fflate' or 'auto' for another level.",
    );
  }
  // CompressionStream has no level: a level other than its 6 goes to fflate.
  const engine: Exclude<GzipEngine, 'auto'> =
    requested !== 'auto' ? requested : isNode ? 'node-zlib' : hasCompressionStream() && level === 6 ? 'compression-stream' : 'fflate';
  // 64 KiB chunks (serializing one takes well under a millisecond warm), so the event loop gets a turn
  // every sliceMs; Node's deflate jobs take them a megabyte at a time.
  // The file name is known only now: it is the trace's traceName unless one was given.
  const chunks = serializePlan(plan, { chunkChars: options.chunkChars, traceName: options.traceName ?? name }, also);
  const writer = await sink.open(name);
  try {
    let bytes: number;
    if (useGzip && engine === 'node-zlib') bytes = await pipeNodeGzip(chunks, writer, level, sliceMs);
    else if (useGzip && engine === 'compression-stream') bytes = await pipeCompressionStream(chunks, writer, sliceMs);
    else bytes = await pipeSync(encodeTrace(chunks, { gzip: useGzip, level }), writer, sliceMs);
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
 * The platform's CompressionStream('gzip'): chunks are written with backpressure while a reader hands
 * the compressed output to the sink. A sink failure stops the input side at once.
 */
async function pipeCompressionStream(chunks: Iterable<Uint8Array>, writer: TraceSinkWriter, sliceMs: number): Promise<number> {
  const stream = new CompressionStream('gzip');
  const input = stream.writable.getWriter();
  const output = stream.readable.getReader();
  let bytes = 0;
  const drain = (async (): Promise<void> => {
    for (;;) {
      const { value, done } = await output.read();
      if (done) return;
      await writer.write(value);
      bytes += value.length;
    }
  })();
  try {
    let sliceStart = performance.now();
    for (const chunk of chunks) {
      // A failed drain (the sink's write) rejects the race: nothing more is fed.
      await Promise.race([input.ready, drain]);
      void input.write(chunk as Uint8Array<ArrayBuffer>).catch(() => undefined);
      if (performance.now() - sliceStart >= sliceMs) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
    }
    await Promise.race([input.close(), drain]);
    await drain;
    return bytes;
  } catch (error) {
    await input.abort(error).catch(() => undefined);
    await output.cancel(error).catch(() => undefined);
    await drain.catch(() => undefined);
    throw error;
  }
}

type NodeZlib = typeof import('node:zlib');

/**
 * Uncompressed bytes per deflate job at most: big enough that per-job setup is noise, small enough for
 * several jobs. The serializer's slabs (SLAB_BYTES) are the same size, so a segment is usually one slab.
 */
const SEGMENT_BYTES = SLAB_BYTES;
/** Deflate's window: each job is primed with the previous segment's last 32 KiB, so no match is lost at a seam. */
const DEFLATE_WINDOW_BYTES = 32 * 1024;

/**
 * Node's native zlib on the libuv thread pool. With `zlib.crc32` (Node >= 20.15) the text is cut into
 * ~1 MiB segments that deflate in parallel, each primed with the previous segment's last 32 KiB and ended
 * with a sync flush, then joined into one gzip member (pigz's scheme: within 0.1% of the size one stream
 * gives). Older Node: one streaming gzip, overlapping this thread's serialization.
 */
async function pipeNodeGzip(chunks: Iterable<Uint8Array>, writer: TraceSinkWriter, level: GzipLevel, sliceMs: number): Promise<number> {
  const zlib = await import('node:zlib');
  if (typeof zlib.crc32 !== 'function') return pipeNodeGzipStream(zlib, chunks, writer, level, sliceMs);
  const { availableParallelism } = await import('node:os');
  return pipeNodeGzipParallel(zlib, chunks, writer, level, sliceMs, gzipJobs(availableParallelism()));
}

/**
 * Deflate jobs in flight: one per spare core, at most 3 so that one libuv thread stays free for file
 * writes (the pool has 4 threads unless UV_THREADPOOL_SIZE says otherwise), and at least 2 so that one
 * segment compresses while the next is handed over (test/bench/trace.ts).
 */
function gzipJobs(cores: number): number {
  const pool = Number(process.env['UV_THREADPOOL_SIZE'] ?? 4) || 4;
  return Math.max(1, Math.min(cores - 1, pool - 1, 3), Math.min(2, pool));
}

/** True when `next` starts where `prev` ends, in the same buffer. */
function adjacent(prev: Uint8Array, next: Uint8Array): boolean {
  return prev.buffer === next.buffer && prev.byteOffset + prev.byteLength === next.byteOffset;
}

/** The parts as one Buffer: a view when they are adjacent in one buffer (the usual case), else a copy. */
function joinParts(parts: Uint8Array[], size: number): Buffer {
  const first = parts[0]!;
  let run = first.byteLength;
  for (let i = 1; i < parts.length && adjacent(parts[i - 1]!, parts[i]!); i++) run += parts[i]!.byteLength;
  return run === size ? Buffer.from(first.buffer, first.byteOffset, size) : Buffer.concat(parts, size);
}

/** The 10-byte gzip header zlib writes for `level` with mtime 0 (XFL 2: best, 4: fastest), OS 3 (Unix) everywhere. */
function gzipHeader(level: GzipLevel): Uint8Array {
  return new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, level === 9 ? 2 : level < 2 ? 4 : 0, 3]);
}

async function pipeNodeGzipParallel(
  zlib: NodeZlib,
  chunks: Iterable<Uint8Array>,
  writer: TraceSinkWriter,
  level: GzipLevel,
  sliceMs: number,
  jobs: number,
): Promise<number> {
  const options = { level, finishFlush: zlib.constants.Z_SYNC_FLUSH, chunkSize: 256 * 1024 };
  const deflate = (input: Buffer, dictionary: Buffer | undefined): Promise<Buffer> =>
    new Promise((resolve, reject) =>
      zlib.deflateRaw(input, dictionary ? { ...options, dictionary } : options, (error, out) => (error ? reject(error) : resolve(out))),
    );
  const inFlight: Promise<Buffer>[] = [];
  let parts: Uint8Array[] = [];
  let size = 0;
  let crc = 0;
  let inputBytes = 0;
  let dictionary: Buffer | undefined;
  let bytes = 0;
  const put = async (data: Uint8Array): Promise<void> => {
    await writer.write(data);
    bytes += data.length;
  };
  // Hands the parts gathered so far to a deflate job (CRC and size are taken here, in order).
  const submit = (): void => {
    const input = joinParts(parts, size);
    parts = [];
    size = 0;
    crc = zlib.crc32(input, crc);
    inputBytes += input.length;
    const job = deflate(input, dictionary);
    // Awaited in order below; this keeps a failing job from counting as unhandled while earlier ones finish.
    job.catch(() => undefined);
    inFlight.push(job);
    dictionary =
      input.length >= DEFLATE_WINDOW_BYTES || !dictionary
        ? input.subarray(Math.max(0, input.length - DEFLATE_WINDOW_BYTES))
        : Buffer.concat([dictionary, input]).subarray(-DEFLATE_WINDOW_BYTES);
  };
  try {
    await put(gzipHeader(level));
    let sliceStart = performance.now();
    for (const chunk of chunks) {
      // A segment ends where a serializer slab ends (the next chunk is not adjacent), so its bytes are
      // one view and never copied, or at SEGMENT_BYTES.
      if (size >= SEGMENT_BYTES / 2 && !adjacent(parts[parts.length - 1]!, chunk)) submit();
      parts.push(chunk);
      size += chunk.length;
      if (size >= SEGMENT_BYTES) submit();
      while (inFlight.length >= jobs) await put(await inFlight.shift()!);
      if (performance.now() - sliceStart >= sliceMs) {
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
    }
    if (size > 0) submit();
    while (inFlight.length > 0) await put(await inFlight.shift()!);
    // A final empty fixed-Huffman block (BFINAL=1) ends the deflate stream; then CRC-32 and ISIZE, little-endian.
    const trailer = new Uint8Array(10);
    const view = new DataView(trailer.buffer);
    trailer[0] = 0x03;
    view.setUint32(2, crc >>> 0, true);
    view.setUint32(6, inputBytes >>> 0, true);
    await put(trailer);
    return bytes;
  } finally {
    // On failure, let jobs already on the pool finish before the caller aborts the sink.
    await Promise.allSettled(inFlight);
  }
}

/**
 * One streaming gzip (Node < 20.15, no zlib.crc32): chunk k compresses on the thread pool while chunk
 * k+1 is serialized here. Backpressure: at most one chunk waits in zlib's buffer.
 */
async function pipeNodeGzipStream(zlib: NodeZlib, chunks: Iterable<Uint8Array>, writer: TraceSinkWriter, level: GzipLevel, sliceMs: number): Promise<number> {
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
    for (const chunk of chunks) {
      await waitFor(() => !gz.writableNeedDrain || failure !== undefined);
      gz.write(chunk);
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
