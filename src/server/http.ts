// HTTP plumbing for `wgprof serve`, on node:http: reading a bounded JSON body, answering JSON and
// errors in OpenAI's shape, and the API key check.
//
// Why node:http and no framework: the API is six routes, two of them streaming (server-sent events
// need direct control of writes, backpressure and client disconnects), and the body limit, JSON
// errors and auth must behave exactly as documented. node:http does all of it with no dependency,
// and nothing here needs routing, plugins or schema generation that a framework would bring.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Default request body limit (--max-body-bytes). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** Past the limit the body is read and dropped up to this many more bytes (so the client sees the answer), then the connection is cut. */
const DISCARD_LIMIT_BYTES = 16 * 1024 * 1024;

/** An answer other than 2xx: status, a stable code, the message, and the request field at fault. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** OpenAI's error type names for the statuses we answer. */
function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 404) return 'not_found_error';
  if (status === 503) return 'service_unavailable';
  return status >= 500 ? 'server_error' : 'invalid_request_error';
}

/** OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`. */
export function errorBody(error: HttpError): { error: { message: string; type: string; param: string | null; code: string } } {
  return { error: { message: error.message, type: errorType(error.status), param: error.param, code: error.code } };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, error: HttpError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const headers: Record<string, string> = error.status === 401 ? { 'www-authenticate': 'Bearer' } : {};
  sendJson(res, error.status, errorBody(error), headers);
}

/**
 * Reads the body as JSON. Over `limitBytes` (declared or counted) → 400 BODY_TOO_LARGE (the rest is
 * read and dropped, up to a bound, so the client gets the answer); not JSON → 400 INVALID_JSON.
 * With `optional`, an empty body is undefined instead of an error.
 */
export async function readJsonBody(req: IncomingMessage, limitBytes: number, options: { optional?: boolean } = {}): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  const tooLarge = (size: string): HttpError =>
    new HttpError(400, 'BODY_TOO_LARGE', `the request body is ${size} bytes; this server accepts at most ${limitBytes} (wgprof serve --max-body-bytes).`);
  const chunks: Buffer[] = [];
  let size = 0;
  let over = Number.isFinite(declared) && declared > limitBytes;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) over = true;
    if (over) {
      if (size > limitBytes + DISCARD_LIMIT_BYTES) {
        req.destroy();
        break;
      }
      continue;
    }
    chunks.push(chunk);
  }
  if (over) throw tooLarge(Number.isFinite(declared) ? String(declared) : `more than ${limitBytes}`);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '' && options.optional) return undefined;
  if (text.trim() === '')
    throw new HttpError(400, 'INVALID_JSON', 'the request body is empty; send a JSON object, e.g. {"prompt": "Hello", "max_tokens": 16}.');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(
      400,
      'INVALID_JSON',
      `the request body is not valid JSON (${(error as Error).message}); send a JSON object, e.g. {"prompt": "Hello", "max_tokens": 16}.`,
    );
  }
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * The `Authorization: Bearer KEY` check. Both sides are hashed to equal-length SHA-256 digests and
 * compared with crypto.timingSafeEqual, so neither the key's length nor its content shows in the
 * time taken. The key is never logged.
 */
export function bearerChecker(apiKey: string): (header: string | undefined) => boolean {
  const expected = digest(apiKey);
  return (header) => {
    const match = /^Bearer\s+(.+)$/i.exec((header ?? '').trim());
    const same = timingSafeEqual(digest(match?.[1] ?? ''), expected);
    return match !== null && same;
  };
}
