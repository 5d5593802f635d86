// Reading a trace file back: gzip or plain JSON, from bytes or (Node) a path.

import { gunzipSync } from 'fflate';
import { WgprofError, errorMessage } from '../util/errors.js';
import type { KinetoTrace } from '../trace/kineto.js';

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Parses trace bytes (gzip detected by its magic number). Throws TRACE_PARSE_ERROR / TRACE_NOT_KINETO. */
export function parseTraceBytes(input: Uint8Array | ArrayBuffer, source = 'trace'): KinetoTrace {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: false }).decode(isGzip(bytes) ? gunzipSync(bytes) : bytes);
  } catch (error) {
    throw new WgprofError('TRACE_PARSE_ERROR', `${source} looks gzipped but does not decompress: ${errorMessage(error)}. Is the file complete?`, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new WgprofError('TRACE_PARSE_ERROR', `${source} is not JSON (${errorMessage(error)}); expected a Kineto trace (*.pt.trace.json or *.pt.trace.json.gz).`, { cause: error });
  }
  if (Array.isArray(value)) {
    throw new WgprofError('TRACE_NOT_KINETO', `${source} is a JSON array: the legacy autograd-profiler format (torch built without Kineto); expected an object with "traceEvents".`);
  }
  if (value === null || typeof value !== 'object' || !Array.isArray((value as { traceEvents?: unknown }).traceEvents)) {
    throw new WgprofError('TRACE_NOT_KINETO', `${source} has no "traceEvents" array; expected a Kineto trace as torch.profiler or wgprof writes it.`);
  }
  return value as KinetoTrace;
}

/** Reads and parses a trace: bytes as they are, or a file path (Node only). */
export async function parseTraceFile(input: string | Uint8Array | ArrayBuffer): Promise<KinetoTrace> {
  if (typeof input !== 'string') return parseTraceBytes(input);
  const fs = await import('node:fs/promises');
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(input);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT') throw new WgprofError('TRACE_NOT_FOUND', `no file at ${input}; give the path of a *.pt.trace.json[.gz] file.`, { cause: error });
    if (code === 'EISDIR') throw new WgprofError('TRACE_NOT_FOUND', `${input} is a directory; give one *.pt.trace.json[.gz] file inside it.`, { cause: error });
    throw new WgprofError('TRACE_READ_FAILED', `could not read ${input}: ${errorMessage(error)}`, { cause: error });
  }
  return parseTraceBytes(bytes, input);
}
