// Text chunks -> bytes, gzipped with fflate's streaming Gzip (mtime 0, so the same trace always gives
// the same bytes). Pure: no I/O, works in every runtime.

import { Gzip } from 'fflate';

export type GzipLevel = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

export interface EncodeOptions {
  /** gzip the text (`torch_profiler_use_gzip`); plain UTF-8 otherwise. */
  gzip: boolean;
  /** Deflate level (default 6; see test/bench/trace.ts for the size/speed trade). */
  level?: GzipLevel;
}

/**
 * UTF-8 bytes of each chunk (text chunks are encoded, byte chunks from serializeTraceBytes pass as
 * they are), gzipped when asked. No output chunk is empty; there may be fewer than inputs.
 */
export function* encodeTrace(chunks: Iterable<string | Uint8Array>, options: EncodeOptions): Generator<Uint8Array, void, undefined> {
  const encoder = new TextEncoder();
  const bytesOf = (chunk: string | Uint8Array): Uint8Array => (typeof chunk === 'string' ? encoder.encode(chunk) : chunk);
  if (!options.gzip) {
    for (const chunk of chunks) if (chunk.length > 0) yield bytesOf(chunk);
    return;
  }
  const out: Uint8Array[] = [];
  const gz = new Gzip({ level: options.level ?? 6, mtime: 0 }, (data) => {
    if (data.length > 0) out.push(data);
  });
  for (const chunk of chunks) {
    if (chunk.length === 0) continue;
    gz.push(bytesOf(chunk));
    while (out.length > 0) yield out.shift()!;
  }
  gz.push(new Uint8Array(0), true);
  while (out.length > 0) yield out.shift()!;
}

/** The whole encoded trace in one buffer (tests, small traces, sinks that need one body). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const all = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}

/**
 * Lets the event loop run (timers, the engine's next step) between chunks of a long write.
 * setImmediate in Node; `scheduler.yield` or a MessageChannel hop in pages, because nested
 * setTimeout(0) is clamped to 4 ms there.
 */
export function yieldToEventLoop(): Promise<void> {
  const sched = (globalThis as { scheduler?: { yield?: () => Promise<void> } }).scheduler;
  if (sched?.yield) return sched.yield();
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}
