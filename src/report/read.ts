// Reading a trace as a stream of events: gzip or plain JSON, from bytes (any runtime) or a file path
// (Node), without ever holding the whole text. Each event goes to a callback as soon as it is parsed,
// so a consumer that keeps accumulators (key averages, report digests, merge) reads a trace of any size
// in bounded memory. Junk elements of traceEvents (null, numbers, arrays...) are skipped and counted.

import { WgprofError, errorMessage } from '../util/errors.js';
import type { TraceEvent } from '../trace/kineto.js';
import { gunzipChecked, isGzip } from './gzip.js';
import { TraceJsonParser } from './json-stream.js';

export type TraceEventHandler = (event: TraceEvent, index: number) => void;

export interface TraceReadResult {
  source: string;
  /** Top-level keys other than traceEvents, parsed, in file order. */
  header: Record<string, unknown>;
  /** Raw JSON text of each header value (e.g. baseTimeNanoseconds beyond 2^53). */
  headerRaw: Record<string, string>;
  /** Top-level keys in file order, `traceEvents` included. */
  keyOrder: string[];
  /** Events handed to the callback. */
  events: number;
  /** Elements of traceEvents that were not JSON objects, skipped. */
  skipped: number;
  /** Up to 5 of them in words, e.g. `traceEvents[3] is null`. */
  skippedExamples: string[];
  gzip: boolean;
  /** Gzip members read (bytes input); null when node:zlib read the file (it does not say). */
  gzipMembers: number | null;
  /** Bytes of JSON text read. */
  uncompressedBytes: number;
}

export interface ReadTraceOptions {
  /** Bytes per read / decompressed chunk (default 1 MiB). Tests use small chunks to exercise every seam. */
  chunkBytes?: number;
  /**
   * Awaited after each chunk's events were handed out (file input), so a consumer that writes them
   * somewhere can apply backpressure (merge waits for its output stream to drain).
   */
  afterChunk?: () => Promise<void> | void;
}

const DEFAULT_CHUNK = 1 << 20;

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** The parser + junk filter + text decoder shared by both inputs. */
class EventFeed {
  readonly result: TraceReadResult;
  private readonly parser: TraceJsonParser;
  private readonly decoder = new TextDecoder('utf-8');

  constructor(source: string, onEvent: TraceEventHandler) {
    const result: TraceReadResult = {
      source,
      header: {},
      headerRaw: {},
      keyOrder: [],
      events: 0,
      skipped: 0,
      skippedExamples: [],
      gzip: false,
      gzipMembers: null,
      uncompressedBytes: 0,
    };
    this.result = result;
    this.parser = new TraceJsonParser(source, {
      header(key, value, raw) {
        result.header[key] = value;
        result.headerRaw[key] = raw;
        result.keyOrder.push(key);
      },
      eventsStart() {
        result.keyOrder.push('traceEvents');
      },
      element(value, index) {
        if (value === null || typeof value !== 'object' || Array.isArray(value)) {
          result.skipped++;
          if (result.skippedExamples.length < 5) result.skippedExamples.push(`traceEvents[${index}] is ${kindOf(value)}`);
          return;
        }
        result.events++;
        onEvent(value as TraceEvent, index);
      },
    });
  }

  bytes(chunk: Uint8Array): void {
    this.result.uncompressedBytes += chunk.length;
    this.parser.push(this.decoder.decode(chunk, { stream: true }));
  }

  end(): TraceReadResult {
    this.parser.push(this.decoder.decode());
    this.parser.end();
    return this.result;
  }
}

/** Reads trace bytes already in memory (gzip detected by its magic number), event by event. */
export function readTraceBytes(input: Uint8Array | ArrayBuffer, onEvent: TraceEventHandler, source = 'trace', options: ReadTraceOptions = {}): TraceReadResult {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  const chunk = options.chunkBytes ?? DEFAULT_CHUNK;
  const feed = new EventFeed(source, onEvent);
  if (isGzip(bytes)) {
    const stats = gunzipChecked(bytes, (data) => feed.bytes(data), source, chunk);
    feed.result.gzip = true;
    feed.result.gzipMembers = stats.members;
  } else {
    for (let at = 0; at < bytes.length; at += chunk) feed.bytes(bytes.subarray(at, at + chunk));
  }
  return feed.end();
}

/** What a path is, for the refusal message. */
function fileKind(st: import('node:fs').Stats): string {
  if (st.isDirectory()) return 'directory';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  if (st.isFIFO()) return 'FIFO (named pipe)';
  if (st.isSocket()) return 'socket';
  if (st.isSymbolicLink()) return 'symbolic link';
  return 'special file';
}

/**
 * Opens a regular file for reading; refuses everything else (a symlink to /dev/zero would stream forever,
 * a FIFO would block) with TRACE_NOT_A_FILE, after resolving links.
 */
export async function openRegularFile(path: string): Promise<import('node:fs/promises').FileHandle> {
  const fs = await import('node:fs/promises');
  let st: import('node:fs').Stats;
  try {
    st = await fs.stat(path);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT') throw new WgprofError('TRACE_NOT_FOUND', `no file at ${path}; give the path of a *.pt.trace.json[.gz] file.`, { cause: error });
    if (code === 'ELOOP')
      throw new WgprofError('TRACE_NOT_A_FILE', `${path} is a loop of symbolic links; give the path of a regular *.pt.trace.json[.gz] file.`, { cause: error });
    throw new WgprofError('TRACE_READ_FAILED', `could not read ${path}: ${errorMessage(error)}`, { cause: error });
  }
  if (st.isDirectory()) throw new WgprofError('TRACE_NOT_FOUND', `${path} is a directory; give one *.pt.trace.json[.gz] file inside it.`);
  const refuse = async (s: import('node:fs').Stats): Promise<never> => {
    let resolved = path;
    try {
      resolved = await fs.realpath(path);
    } catch {
      // keep the given path
    }
    throw new WgprofError(
      'TRACE_NOT_A_FILE',
      `${path}${resolved !== path ? ` (-> ${resolved})` : ''} is a ${fileKind(s)}, not a regular file; wgprof reads traces only from regular files (a ` +
        `device or a pipe may never end). Copy the data into a *.pt.trace.json[.gz] file first.`,
    );
  };
  if (!st.isFile()) await refuse(st);
  let handle: import('node:fs/promises').FileHandle;
  try {
    handle = await fs.open(path, 'r');
  } catch (error) {
    throw new WgprofError('TRACE_READ_FAILED', `could not open ${path}: ${errorMessage(error)}`, { cause: error });
  }
  // The path may have been swapped between stat and open: check what was opened.
  const opened = await handle.stat();
  if (!opened.isFile()) {
    await handle.close();
    await refuse(opened);
  }
  return handle;
}

/** node:zlib's error for a gzip stream, in words. */
function gzipError(error: unknown, source: string, compressedBytes: number, decompressed: number): WgprofError {
  const message = errorMessage(error);
  const where = `(${compressedBytes} compressed bytes read, ${decompressed} decompressed)`;
  if (/incorrect data check/.test(message)) {
    return new WgprofError('TRACE_GZIP_CRC', `${source}: a gzip member fails its CRC-32 check ${where}: the data is corrupt. Write or copy the file again.`, {
      cause: error,
    });
  }
  if (/incorrect length check/.test(message)) {
    return new WgprofError('TRACE_GZIP_SIZE', `${source}: a gzip member's ISIZE does not match its decompressed length ${where}: the data is corrupt.`, {
      cause: error,
    });
  }
  if (/unexpected end of file/.test(message)) {
    return new WgprofError(
      'TRACE_TRUNCATED',
      `${source} ends inside a gzip member ${where}: the file is incomplete. Was it still being written, or cut short by a copy?`,
      { cause: error },
    );
  }
  // The first member's header was checked before streaming: a header error now is in data after a member.
  if (/incorrect header check|unknown compression method|unknown header flags/.test(message)) {
    return new WgprofError(
      'TRACE_TRAILING_GARBAGE',
      `${source} has data after the end of its gzip data that is not a gzip member ${where}: trailing garbage. A trace file is one gzip stream (or ` +
        `several members one after another); was something appended to it?`,
      { cause: error },
    );
  }
  return new WgprofError('TRACE_GZIP_CORRUPT', `${source} starts like gzip (1f 8b) but does not decompress (${message}) ${where}; the file is damaged.`, {
    cause: error,
  });
}

/**
 * Reads a trace event by event: bytes as they are, or (Node) a file path, streamed from disk through
 * node:zlib (CRC-32, ISIZE, multi-member and trailing data checked natively). Throws WgprofError.
 */
export async function readTrace(
  input: string | Uint8Array | ArrayBuffer,
  onEvent: TraceEventHandler,
  options: ReadTraceOptions = {},
): Promise<TraceReadResult> {
  if (typeof input !== 'string') return readTraceBytes(input, onEvent, 'trace', options);
  const path = input;
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK;
  const handle = await openRegularFile(path);
  const feed = new EventFeed(path, onEvent);
  try {
    const magic = new Uint8Array(4);
    const { bytesRead } = await handle.read(magic, 0, 4, 0);
    const gz = isGzip(magic.subarray(0, bytesRead));
    feed.result.gzip = gz;
    // CM must be 8 (deflate) and the reserved FLG bits clear (RFC 1952 §2.3.1).
    if (gz && (bytesRead < 4 || magic[2] !== 8 || (magic[3]! & 0xe0) !== 0)) {
      throw new WgprofError(
        'TRACE_GZIP_CORRUPT',
        `${path} starts like gzip (1f 8b) but its header is not valid gzip (compression method ${String(magic[2])}, flags ${String(magic[3])}); the ` +
          `file is damaged.`,
      );
    }
    const stream = handle.createReadStream({ start: 0, highWaterMark: chunkBytes, autoClose: false });
    if (!gz) {
      try {
        for await (const chunk of stream) {
          feed.bytes(chunk as Buffer);
          await options.afterChunk?.();
        }
      } catch (error) {
        if (error instanceof WgprofError) throw error;
        throw new WgprofError('TRACE_READ_FAILED', `could not read ${path}: ${errorMessage(error)}`, { cause: error });
      }
      return feed.end();
    }
    const zlib = await import('node:zlib');
    const { pipeline } = await import('node:stream/promises');
    const gunzip = zlib.createGunzip({ chunkSize: Math.max(64, chunkBytes) });
    try {
      await pipeline(stream, gunzip, async (source: AsyncIterable<Buffer>) => {
        for await (const chunk of source) {
          feed.bytes(chunk);
          await options.afterChunk?.();
        }
      });
    } catch (error) {
      if (error instanceof WgprofError) throw error;
      if ((error as { code?: string }).code?.startsWith('Z_')) throw gzipError(error, path, stream.bytesRead, feed.result.uncompressedBytes);
      throw new WgprofError('TRACE_READ_FAILED', `could not read ${path}: ${errorMessage(error)}`, { cause: error });
    }
    return feed.end();
  } finally {
    await handle.close();
  }
}
