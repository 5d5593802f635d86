// A planned trace as Kineto JSON: the top-level keys in Kineto's order around the events the emission
// pass writes, as UTF-8 chunks of about `chunkChars` bytes (serializeTraceBytes), as text chunks
// (serializeTrace), or parsed (buildTrace = JSON.parse of those bytes). The whole document is never
// held in memory by the first two.

import type { CaptureRecord, TraceMeta } from '../capture/model.js';
import { ByteWriter } from './byte-writer.js';
import { Emission, TeeWriter, type EventWriter } from './emit.js';
import { jsonString, jsonText } from './json.js';
import type { KinetoTrace } from './kineto.js';
import { planTrace, type TraceBuildOptions, type TracePlan } from './plan.js';

const DEFAULT_CHUNK_CHARS = 65_536;

/** Counters filled in while a serialized trace is consumed. */
export interface SerializeStats {
  /** `traceEvents` written so far. */
  events: number;
  /** UTF-16 code units yielded so far by serializeTrace (= bytes for ASCII text); 0 for serializeTraceBytes. */
  chars: number;
  /** UTF-8 bytes of JSON text produced so far. */
  bytes: number;
}

export interface TraceChunks extends Iterable<string> {
  readonly stats: SerializeStats;
}

export interface TraceByteChunks extends Iterable<Uint8Array> {
  readonly stats: SerializeStats;
}

type Flag = 'with_stack' | 'profile_memory' | 'record_shapes' | 'with_flops';

function flagsOf(meta: TraceMeta): Partial<Record<Flag, 1>> {
  const flags: Partial<Record<Flag, 1>> = {};
  if (meta.withStack) flags.with_stack = 1;
  if (meta.withMemory) flags.profile_memory = 1;
  if (meta.recordShapes) flags.record_shapes = 1;
  if (meta.withFlops) flags.with_flops = 1;
  return flags;
}

/**
 * The bytes of a planned trace, in chunks (`traceName` replaces the plan's); `also` receives every
 * event too (an export's key-averages consumer). Compact: no whitespace except the newline before each event and `"rank": N` in
 * `distributedInfo`, which HTA finds with the regex `"rank":\s+(\d+)`.
 */
export function serializePlan(
  plan: TracePlan,
  options: { chunkChars?: number | undefined; traceName?: string | undefined } = {},
  also?: EventWriter,
): TraceByteChunks {
  const stats: SerializeStats = { events: 0, chars: 0, bytes: 0 };
  const chunkBytes = Math.max(1024, options.chunkChars ?? DEFAULT_CHUNK_CHARS);
  const traceName = options.traceName ?? plan.traceName;
  function* chunks(): Generator<Uint8Array, void, undefined> {
    const meta = plan.meta;
    let head = `{"schemaVersion":1,"deviceProperties":${jsonText(plan.deviceProperties)}`;
    for (const [key, value] of Object.entries(flagsOf(meta))) head += `,"${key}":${value}`;
    head += `,"distributedInfo":{"backend":"webgpu","rank": ${meta.rank},"world_size":${meta.worldSize}}`;
    head += `,"wgprof":${jsonText(plan.provenance)}`;
    head += `,"displayTimeUnit":"ms","baseTimeNanoseconds":${plan.baseNs.toString()},"traceEvents":[`;
    const writer = new ByteWriter(chunkBytes);
    writer.out.text(head);
    const emission = new Emission(plan, also ? new TeeWriter(writer, also) : writer);
    emission.head();
    const full = (): boolean => writer.pending() >= chunkBytes;
    let done = false;
    while (!done) {
      done = emission.run(full);
      if (done) writer.out.text(`\n],"traceName":${jsonString(traceName)}}\n`);
      const bytes = writer.take();
      stats.events = writer.events;
      stats.bytes += bytes.length;
      yield bytes;
    }
  }
  return { stats, [Symbol.iterator]: chunks };
}

/**
 * The trace as UTF-8 JSON bytes in chunks of about `chunkChars` bytes (64 KiB), written event by event
 * straight into bytes; the whole document is never held in memory. Each chunk is a fresh array (keep it
 * as long as you like). The record is checked (and planned) by this call: a bad one throws WgprofError
 * TRACE_INVALID_RECORD before any chunk.
 */
export function serializeTraceBytes(record: CaptureRecord, options: TraceBuildOptions = {}): TraceByteChunks {
  return serializePlan(planTrace(record, options), options);
}

/**
 * The same JSON text as serializeTraceBytes, as strings of about `chunkChars` (64 Ki) characters
 * (decoded from its chunks). Checks and plans the record at once, like serializeTraceBytes.
 */
export function serializeTrace(record: CaptureRecord, options: TraceBuildOptions = {}): TraceChunks {
  const bytes = serializeTraceBytes(record, options);
  const stats = bytes.stats;
  function* chunks(): Generator<string, void, undefined> {
    const decoder = new TextDecoder();
    for (const chunk of bytes) {
      // stream: a multi-byte character may straddle two chunks.
      const text = decoder.decode(chunk, { stream: true });
      stats.chars += text.length;
      if (text.length > 0) yield text;
    }
    const rest = decoder.decode();
    stats.chars += rest.length;
    if (rest.length > 0) yield rest;
  }
  return { stats, [Symbol.iterator]: chunks };
}

/** The whole trace as a JS object: JSON.parse of what serializeTrace writes. */
export function buildTrace(record: CaptureRecord, options: TraceBuildOptions = {}): KinetoTrace {
  return JSON.parse([...serializeTrace(record, options)].join('')) as KinetoTrace;
}
