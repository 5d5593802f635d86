// Reading a whole trace file back into one object: gzip or plain JSON, from bytes or (Node) a path.
// Built on the event stream of read.ts, so gzip is checked (CRC-32, ISIZE, members, trailing data) and
// there is no 512 MiB text limit; the events still all live in memory: consumers of large traces
// use readTrace() with accumulators instead.

import type { KinetoTrace, TraceEvent } from '../trace/kineto.js';
import { log } from '../util/log.js';
import { readTrace, readTraceBytes } from './read.js';
import type { TraceReadResult } from './read.js';

/** The trace object with its keys in file order (validateTrace checks Kineto's order). */
function assemble(read: TraceReadResult, events: TraceEvent[]): KinetoTrace {
  const trace: Record<string, unknown> = {};
  for (const key of read.keyOrder) trace[key] = key === 'traceEvents' ? events : read.header[key];
  return trace as unknown as KinetoTrace;
}

/** Says once per read how many junk elements were skipped. */
export function warnSkipped(read: TraceReadResult): void {
  if (read.skipped > 0) {
    log.warn(
      `${read.source}: skipped ${read.skipped} traceEvents element(s) that are not JSON objects ` +
        `(${read.skippedExamples.join(', ')}${read.skipped > read.skippedExamples.length ? ', ...' : ''}).`,
    );
  }
}

/** Parses trace bytes (gzip detected by its magic number). Throws TRACE_PARSE_ERROR / TRACE_NOT_KINETO / TRACE_GZIP_*. */
export function parseTraceBytes(input: Uint8Array | ArrayBuffer, source = 'trace'): KinetoTrace {
  const events: TraceEvent[] = [];
  const read = readTraceBytes(input, (e) => events.push(e), source);
  warnSkipped(read);
  return assemble(read, events);
}

/** Reads and parses a trace: bytes as they are, or a file path (Node only; regular files only). */
export async function parseTraceFile(input: string | Uint8Array | ArrayBuffer): Promise<KinetoTrace> {
  if (typeof input !== 'string') return parseTraceBytes(input);
  const events: TraceEvent[] = [];
  const read = await readTrace(input, (e) => events.push(e));
  warnSkipped(read);
  return assemble(read, events);
}
