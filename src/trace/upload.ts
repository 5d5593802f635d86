// Remote trace directories: `http(s)://` (PUT), `s3://` (@aws-sdk/client-s3) and `gs://`
// (@google-cloud/storage). A remote file is collected in memory and sent on commit, as one request,
// retried with exponential backoff and jitter on failures that may pass (network errors, 408, 429,
// 5xx). When every try failed the bytes go to a local fallback directory and the error says where:
// nothing is lost. The cloud SDKs are optional peer dependencies, loaded with dynamic import on the
// first upload; credentials come from each SDK's standard environment (AWS: AWS_PROFILE,
// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT_URL_S3...; Google: application
// default credentials, GOOGLE_APPLICATION_CREDENTIALS, STORAGE_EMULATOR_HOST) and are never logged.

import { WgprofError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { isNode } from '../util/runtime.js';
import { concatBytes } from './encode.js';
import { checkFileName } from './files.js';
import { TraceSinkError, errnoOf, type TraceSink, type TraceSinkWriter } from './sinks.js';

export interface RetryOptions {
  /** Tries in all, the first included (default 4). */
  attempts?: number;
  /** Delay before the first retry, ms; doubled for each next one (default 250). */
  baseDelayMs?: number;
  /** Longest delay between tries, ms (default 8000). */
  maxDelayMs?: number;
}

export interface UploadSinkOptions {
  retry?: RetryOptions;
  /** Where a file goes when every upload try failed (sinkForDir passes an FsSink on defaultFallbackDir()). */
  fallback?: TraceSink;
  /** Longest one upload request may take, ms (default 120 000). */
  timeoutMs?: number;
}

export interface HttpSinkOptions extends UploadSinkOptions {
  /** 'PUT' (default) to `{base}/{name}`, or 'POST' to the same URL. */
  method?: 'PUT' | 'POST';
  headers?: Record<string, string>;
}

export interface ObjectStoreSinkOptions extends UploadSinkOptions {
  /** Loads the SDK (default: dynamic import of the package); tests pass their own. */
  importModule?: (specifier: string) => Promise<unknown>;
}

/**
 * The local directory failed uploads are kept in: `$WGPROF_TRACE_FALLBACK_DIR`, else
 * `{os tmpdir}/wgprof-unsent-traces`. False in a page (no local file system).
 */
export function defaultFallbackDir(): string | false {
  if (!isNode) return false;
  const fromEnv = process.env['WGPROF_TRACE_FALLBACK_DIR'];
  if (fromEnv) return fromEnv;
  const os = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.('node:os') as { tmpdir(): string } | undefined;
  const tmp = os?.tmpdir() ?? process.env['TMPDIR'] ?? '/tmp';
  return `${tmp.replace(/\/+$/, '')}/wgprof-unsent-traces`;
}

/** A URL as it may appear in messages and results: no user:password, no query values (signed URLs). */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username || parsed.password) {
      parsed.username = 'REDACTED';
      parsed.password = '';
    }
    for (const key of [...parsed.searchParams.keys()]) parsed.searchParams.set(key, 'REDACTED');
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//REDACTED@').replace(/\?.*$/, '?REDACTED');
  }
}

/** One try's failure: `retryable` when another try may succeed. */
export class UploadAttemptError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly errno?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UploadAttemptError';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** HTTP statuses worth another try: timeouts, throttling, server errors. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** The system error code of a network failure (fetch wraps it in `cause`). */
function networkErrno(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const errno =
      errnoOf(e) ??
      (typeof (e as { code?: unknown }).code === 'string' && /^(UND_ERR|ERR_)/.test((e as { code: string }).code) ? (e as { code: string }).code : undefined);
    if (errno) return errno;
  }
  return undefined;
}

/**
 * Runs `attempt` up to `attempts` times, waiting baseDelayMs·2^i (capped, with ±50% jitter) between
 * tries while the failure is retryable. Resolves to the result and the tries it took; rejects with
 * the last failure and the tries made.
 */
export async function withRetries<T>(attempt: (index: number) => Promise<T>, options: RetryOptions = {}): Promise<{ value: T; tries: number }> {
  const attempts = options.attempts ?? 4;
  const base = options.baseDelayMs ?? 250;
  const max = options.maxDelayMs ?? 8000;
  if (!Number.isInteger(attempts) || attempts < 1)
    throw new WgprofError('TRACE_BAD_OPTION', `retry.attempts is ${String(attempts)}; expected an integer >= 1.`);
  for (let i = 0; ; i++) {
    try {
      return { value: await attempt(i), tries: i + 1 };
    } catch (error) {
      const retryable = error instanceof UploadAttemptError ? error.retryable : false;
      if (!retryable || i + 1 >= attempts) throw Object.assign(error instanceof Error ? error : new Error(String(error)), { tries: i + 1 });
      const delay = Math.min(max, base * 2 ** i) * (0.5 + Math.random());
      log.debug(`upload try ${i + 1} of ${attempts} failed (${errorMessage(error)}); retrying in ${delay.toFixed(0)} ms`);
      await sleep(delay);
    }
  }
}

/**
 * Base of the remote sinks: collects the file, uploads it on commit with retries, keeps it in the
 * fallback sink when every try failed. Subclasses say how one try is made and where a file lands.
 */
abstract class UploadSink implements TraceSink {
  abstract readonly location: string;
  constructor(protected readonly upload: UploadSinkOptions) {}

  /** Where `name` lands (URL or s3://, gs:// URI), for messages and results; no secrets. */
  protected abstract target(name: string): string;
  /** One try; throws UploadAttemptError (retryable or not) or a TraceSinkError (never retried). */
  protected abstract send(name: string, body: Uint8Array): Promise<void>;

  async open(name: string): Promise<TraceSinkWriter> {
    checkFileName(name);
    const parts: Uint8Array[] = [];
    return {
      write: async (chunk) => {
        parts.push(chunk);
      },
      commit: async () => {
        const body = concatBytes(parts);
        parts.length = 0;
        try {
          await withRetries(() => this.send(name, body), this.upload.retry);
        } catch (error) {
          throw await this.keep(name, body, error);
        }
        return this.target(name);
      },
      abort: async () => {
        parts.length = 0;
      },
    };
  }

  /** Writes the file to the fallback sink; returns the error to throw, which says where it is. */
  private async keep(name: string, body: Uint8Array, error: unknown): Promise<TraceSinkError> {
    const tries = (error as { tries?: number }).tries ?? 1;
    const code = error instanceof TraceSinkError ? error.code : 'TRACE_UPLOAD_FAILED';
    const errno = error instanceof TraceSinkError ? error.errno : error instanceof UploadAttemptError ? error.errno : undefined;
    const what = `could not upload ${name} to ${this.target(name)} (${tries === 1 ? '1 try' : `${tries} tries`}): ${errorMessage(error)
      .replace(/^TRACE_[A-Z_]+: /, '')
      .replace(/\.$/, '')}`;
    const fallback = this.upload.fallback;
    if (!fallback) {
      return new TraceSinkError(code, `${what}. No local fallback directory is set, so the trace was not kept.`, {
        file: this.target(name),
        errno,
        cause: error,
      });
    }
    let kept: string;
    try {
      const writer = await fallback.open(name);
      try {
        await writer.write(body);
        kept = await writer.commit();
      } catch (inner) {
        await writer.abort().catch(() => undefined);
        throw inner;
      }
    } catch (inner) {
      return new TraceSinkError(code, `${what}; keeping it in ${fallback.location} failed too (${errorMessage(inner)}), so the trace is lost.`, {
        file: this.target(name),
        errno,
        cause: error,
      });
    }
    log.debug(`${what}. The file is kept at ${kept}.`);
    return new TraceSinkError(code, `${what}. The file is kept at ${kept}.`, { file: this.target(name), errno, fallbackPath: kept, cause: error });
  }
}

/**
 * An `http(s)://` directory: on commit, one request with the whole file as the body to
 * `{base}/{name}` (PUT by default; content-type application/gzip or application/json). Network
 * errors, 408, 429 and 5xx are retried; another non-2xx answer fails at once.
 */
export class HttpSink extends UploadSink {
  readonly location: string;
  private readonly method: 'PUT' | 'POST';
  private readonly headers: Record<string, string>;
  /** The base without user:password (fetch refuses such URLs); they travel as Basic auth instead. */
  private readonly base: URL;

  constructor(
    readonly baseUrl: string,
    options: HttpSinkOptions = {},
  ) {
    super(options);
    this.location = redactUrl(baseUrl);
    this.method = options.method ?? 'PUT';
    let base: URL;
    try {
      base = new URL(baseUrl);
    } catch {
      throw new WgprofError('TRACE_SINK_BAD_DIR', `${JSON.stringify(this.location)} is not a valid URL; expected http(s)://HOST[:PORT]/PATH.`);
    }
    const auth: Record<string, string> = {};
    if (base.username || base.password) {
      const user = decodeURIComponent(base.username);
      const password = decodeURIComponent(base.password);
      auth['authorization'] = `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${password}`)))}`;
      base.username = '';
      base.password = '';
    }
    this.base = base;
    this.headers = { ...auth, ...(options.headers ?? {}) };
  }

  /** `{base path}/{name}`, keeping the base's query (e.g. a signed token) after the name. */
  private url(name: string): string {
    const url = new URL(this.base.href);
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/${encodeURIComponent(name)}`;
    return url.href;
  }

  protected target(name: string): string {
    return redactUrl(this.url(name));
  }

  protected async send(name: string, body: Uint8Array): Promise<void> {
    const method = this.method;
    const url = this.url(name);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        body: body as Uint8Array<ArrayBuffer>,
        headers: { 'content-type': name.endsWith('.gz') ? 'application/gzip' : 'application/json', ...this.headers },
        signal: AbortSignal.timeout(this.upload.timeoutMs ?? 120_000),
      });
    } catch (error) {
      const errno = networkErrno(error);
      // fetch's own messages may quote the URL: only its redacted form goes into ours.
      const reason = errno === 'ECONNREFUSED' ? 'connection refused (is the server up?)' : errorMessage(error).split(url).join(this.target(name));
      throw new UploadAttemptError(`${method} failed: ${reason}${errno && errno !== 'ECONNREFUSED' ? ` (${errno})` : ''}`, true, errno, { cause: error });
    }
    // Let the connection be reused or closed: the answer's body is not needed.
    await response.body?.cancel().catch(() => undefined);
    if (!response.ok) {
      throw new UploadAttemptError(
        `${method} answered ${response.status} ${response.statusText}; expected 2xx. Check that the server accepts ${method} uploads there`,
        retryableStatus(response.status),
      );
    }
  }
}

/** `s3://bucket/prefix` or `gs://bucket/prefix` → bucket and key prefix ('' or ending in '/'). */
export function parseBucketUri(uri: string, scheme: 's3' | 'gs'): { bucket: string; prefix: string } {
  const match = new RegExp(`^${scheme}://([^/]+)(?:/(.*))?$`, 'i').exec(uri);
  const bucket = match?.[1] ?? '';
  if (!match || bucket === '') {
    throw new WgprofError(
      'TRACE_SINK_BAD_DIR',
      `torch_profiler_dir ${JSON.stringify(uri)} is not a ${scheme}:// URI; expected ${scheme}://BUCKET or ${scheme}://BUCKET/PREFIX.`,
    );
  }
  const path = (match[2] ?? '').replace(/^\/+|\/+$/g, '');
  return { bucket, prefix: path === '' ? '' : `${path}/` };
}

const SDK_HINT: Record<'s3' | 'gs', { pkg: string; env: string }> = {
  s3: {
    pkg: '@aws-sdk/client-s3',
    env: 'the standard AWS environment (AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_REGION; AWS_ENDPOINT_URL_S3 for S3-compatible servers)',
  },
  gs: {
    pkg: '@google-cloud/storage',
    env:
      'Google application default credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud auth application-default login; STORAGE_EMULATOR_HOST for an ' +
      'emulator)',
  },
};

/** SDK messages about a missing setup, and what to set (never the values). */
const SETUP_HINTS: [RegExp, string][] = [
  [/Region is missing/i, 'set AWS_REGION (or a profile with a region: AWS_PROFILE)'],
  [/Could not load credentials/i, 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE'],
  [/Could not load the default credentials/i, 'set GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default login`'],
];

/** Bucket stores share the SDK loading and the error classification. */
abstract class ObjectStoreSink extends UploadSink {
  readonly location: string;
  protected readonly bucket: string;
  protected readonly prefix: string;
  private client: Promise<unknown> | undefined;

  constructor(
    readonly uri: string,
    private readonly scheme: 's3' | 'gs',
    protected readonly store: ObjectStoreSinkOptions,
  ) {
    super(store);
    ({ bucket: this.bucket, prefix: this.prefix } = parseBucketUri(uri, scheme));
    this.location = `${scheme}://${this.bucket}/${this.prefix}`;
  }

  protected target(name: string): string {
    return `${this.scheme}://${this.bucket}/${this.prefix}${name}`;
  }

  /** Creates what send() needs (the SDK client and its command classes) from the loaded module. */
  protected abstract createClient(module: unknown): unknown;

  /** What createClient made, once per sink; a missing package is a TraceSinkError naming it (not retried). */
  protected async sdkClient(name: string): Promise<unknown> {
    this.client ??= (async () => {
      const { pkg, env } = SDK_HINT[this.scheme];
      const load = this.store.importModule ?? ((specifier: string) => import(specifier));
      let module: unknown;
      try {
        module = await load(pkg);
      } catch (error) {
        const missing = (error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' || (error as { code?: unknown }).code === 'MODULE_NOT_FOUND';
        throw new TraceSinkError(
          'TRACE_SINK_SDK_MISSING',
          missing
            ? `${this.scheme}:// directories need the optional package ${pkg}, which is not installed: run \`npm install ${pkg}\` next to wgprof. ` +
                `Credentials come from ${env}.`
            : `loading ${pkg} failed: ${errorMessage(error)}`,
          { file: this.target(name), cause: error },
        );
      }
      return this.createClient(module);
    })();
    // A failed load is not cached: the next file tries again (e.g. after an install).
    this.client.catch(() => {
      this.client = undefined;
    });
    return this.client;
  }

  /** Classifies an SDK failure: network errors, throttling and 5xx are retried; setup mistakes get the fix. */
  protected attemptError(error: unknown, status: number | undefined): UploadAttemptError {
    const errno = networkErrno(error);
    const retryable = errno !== undefined || (status !== undefined && retryableStatus(status)) || (error as { $retryable?: unknown }).$retryable !== undefined;
    const detail = status !== undefined ? ` (HTTP ${status})` : errno !== undefined ? ` (${errno})` : '';
    const message = errorMessage(error).replace(/\.$/, '');
    const hint = SETUP_HINTS.find(([pattern]) => pattern.test(message))?.[1];
    return new UploadAttemptError(`${message}${detail}${hint ? `: ${hint}` : ''}`, retryable, errno, { cause: error });
  }
}

interface S3Module {
  S3Client: new (config: Record<string, unknown>) => { send(command: unknown): Promise<unknown> };
  PutObjectCommand: new (input: Record<string, unknown>) => unknown;
}

/**
 * An `s3://bucket/prefix` directory through @aws-sdk/client-s3 (optional): one PutObject per file
 * to `prefix/name`. The client takes region, credentials and endpoint from the standard AWS
 * environment; its own retries are off (maxAttempts 1): this sink retries.
 */
export class S3Sink extends ObjectStoreSink {
  constructor(uri: string, options: ObjectStoreSinkOptions = {}) {
    super(uri, 's3', options);
  }

  protected createClient(module: unknown): unknown {
    const { S3Client, PutObjectCommand } = module as S3Module;
    return { client: new S3Client({ maxAttempts: 1 }), PutObjectCommand };
  }

  protected async send(name: string, body: Uint8Array): Promise<void> {
    const { client, PutObjectCommand } = (await this.sdkClient(name)) as {
      client: InstanceType<S3Module['S3Client']>;
      PutObjectCommand: S3Module['PutObjectCommand'];
    };
    try {
      await client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: `${this.prefix}${name}`,
          Body: body,
          ContentType: name.endsWith('.gz') ? 'application/gzip' : 'application/json',
        }),
      );
    } catch (error) {
      throw this.attemptError(error, (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode);
    }
  }
}

interface GcsModule {
  Storage: new (options: Record<string, unknown>) => {
    bucket(name: string): { file(name: string): { save(data: Uint8Array, options: Record<string, unknown>): Promise<void> } };
  };
}

/**
 * A `gs://bucket/prefix` directory through @google-cloud/storage (optional): one upload per file to
 * `prefix/name` (not resumable: traces are sent whole, MD5-checked by the SDK). Credentials are
 * Google's application default credentials; the SDK's own retries are off: this sink retries.
 */
export class GcsSink extends ObjectStoreSink {
  constructor(uri: string, options: ObjectStoreSinkOptions = {}) {
    super(uri, 'gs', options);
  }

  protected createClient(module: unknown): unknown {
    const { Storage } = module as GcsModule;
    return new Storage({ retryOptions: { autoRetry: false } });
  }

  protected async send(name: string, body: Uint8Array): Promise<void> {
    const storage = (await this.sdkClient(name)) as InstanceType<GcsModule['Storage']>;
    try {
      await storage
        .bucket(this.bucket)
        .file(`${this.prefix}${name}`)
        .save(Buffer.from(body.buffer, body.byteOffset, body.byteLength), {
          resumable: false,
          validation: 'md5',
          contentType: name.endsWith('.gz') ? 'application/gzip' : 'application/json',
        });
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw this.attemptError(error, typeof code === 'number' ? code : undefined);
    }
  }
}
