// Where trace bytes go. A sink opens one named file, takes chunks, then commits (the file appears
// whole, atomically where the medium allows) or aborts (nothing appears). Only sinks touch fs, fetch
// or Blob (STYLE §10); Node modules load with dynamic import so the browser bundle never pulls them.

import { WgprofError, errorMessage } from '../util/errors.js';
import { isNode } from '../util/runtime.js';
import { concatBytes } from './encode.js';
import { uriScheme } from './files.js';

export interface TraceSinkWriter {
  write(chunk: Uint8Array): Promise<void>;
  /** Makes the file visible, whole; resolves to where it is (path or URL). */
  commit(): Promise<string>;
  /** Drops everything written; never leaves a partial file. Safe to call after a failed write. */
  abort(): Promise<void>;
}

export interface TraceSink {
  /** Where files go, in words (for messages). */
  readonly location: string;
  open(name: string): Promise<TraceSinkWriter>;
}

function checkName(name: string): void {
  if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new WgprofError('TRACE_BAD_FILE_NAME', `file name ${JSON.stringify(name)} is not a plain file name; expected no path separators (use traceFileName()).`);
  }
}

function randomSuffix(): string {
  return Math.random().toString(36).slice(2, 10).padEnd(8, '0');
}

/**
 * A local directory (Node). Writes `.{name}.tmp-<random>` in the same directory, fsyncs, then renames
 * onto `name`: readers see either no file or the whole file, and an existing file of that name stays
 * intact until the rename. On any error the temp file is removed.
 */
export class FsSink implements TraceSink {
  readonly location: string;
  constructor(readonly dir: string) {
    if (typeof dir !== 'string' || dir === '') throw new WgprofError('TRACE_SINK_BAD_DIR', `directory is ${JSON.stringify(dir)}; expected a non-empty path.`);
    this.location = dir;
  }

  async open(name: string): Promise<TraceSinkWriter> {
    checkName(name);
    if (!isNode) throw new WgprofError('TRACE_SINK_UNSUPPORTED', `FsSink("${this.dir}") needs Node's fs; in a page use OpfsSink, DownloadSink or CallbackSink.`);
    const fs = await import('node:fs/promises');
    const path = await import('node:path');
    const dir = path.resolve(this.dir);
    await fs.mkdir(dir, { recursive: true });
    const finalPath = path.join(dir, name);
    const tempPath = path.join(dir, `.${name}.tmp-${randomSuffix()}`);
    const handle = await fs.open(tempPath, 'wx');
    let closed = false;
    const close = async (): Promise<void> => {
      if (!closed) {
        closed = true;
        await handle.close();
      }
    };
    return {
      async write(chunk) {
        let at = 0;
        while (at < chunk.length) {
          const { bytesWritten } = await handle.write(chunk, at, chunk.length - at);
          at += bytesWritten;
        }
      },
      async commit() {
        try {
          await handle.sync();
          await close();
          await fs.rename(tempPath, finalPath);
        } catch (error) {
          await close().catch(() => undefined);
          await fs.rm(tempPath, { force: true }).catch(() => undefined);
          throw new WgprofError('TRACE_WRITE_FAILED', `could not write ${finalPath}: ${errorMessage(error)}`, { cause: error });
        }
        return finalPath;
      },
      async abort() {
        await close().catch(() => undefined);
        await fs.rm(tempPath, { force: true }).catch(() => undefined);
      },
    };
  }
}

/** Collects the bytes and hands them to `callback(name, bytes)` on commit (tests, custom uploads). */
export class CallbackSink implements TraceSink {
  readonly location = 'callback';
  constructor(private readonly callback: (name: string, bytes: Uint8Array) => void | Promise<void>) {}

  async open(name: string): Promise<TraceSinkWriter> {
    checkName(name);
    const parts: Uint8Array[] = [];
    const callback = this.callback;
    return {
      async write(chunk) {
        parts.push(chunk);
      },
      async commit() {
        await callback(name, concatBytes(parts));
        parts.length = 0;
        return name;
      },
      async abort() {
        parts.length = 0;
      },
    };
  }
}

export interface HttpSinkOptions {
  /** 'PUT' (default) to `{base}/{name}`, or 'POST' to the same URL. */
  method?: 'PUT' | 'POST';
  headers?: Record<string, string>;
}

/**
 * An `http(s)://` directory: on commit, one request with the whole file as the body to
 * `{base}/{name}` (PUT by default; content-type application/gzip or application/json). A non-2xx
 * answer is an error; nothing is sent for an aborted file.
 */
export class HttpSink implements TraceSink {
  readonly location: string;
  constructor(
    readonly baseUrl: string,
    private readonly options: HttpSinkOptions = {},
  ) {
    this.location = baseUrl;
  }

  async open(name: string): Promise<TraceSinkWriter> {
    checkName(name);
    const url = `${this.baseUrl.replace(/\/+$/, '')}/${encodeURIComponent(name)}`;
    const parts: Uint8Array[] = [];
    const { method = 'PUT', headers = {} } = this.options;
    return {
      async write(chunk) {
        parts.push(chunk);
      },
      async commit() {
        const body = concatBytes(parts);
        parts.length = 0;
        let response: Response;
        try {
          response = await fetch(url, {
            method,
            body: body as Uint8Array<ArrayBuffer>,
            headers: { 'content-type': name.endsWith('.gz') ? 'application/gzip' : 'application/json', ...headers },
          });
        } catch (error) {
          throw new WgprofError('TRACE_SINK_HTTP_ERROR', `${method} ${url} failed: ${errorMessage(error)}. Check that the server is up and accepts ${method}.`, { cause: error });
        }
        if (!response.ok) {
          throw new WgprofError('TRACE_SINK_HTTP_ERROR', `${method} ${url} answered ${response.status} ${response.statusText}; expected 2xx. Check that the server accepts ${method} uploads there.`);
        }
        return url;
      },
      async abort() {
        parts.length = 0;
      },
    };
  }
}

/**
 * The page's origin-private file system (navigator.storage.getDirectory()), optionally under a
 * sub-directory. createWritable() writes to a swap file that close() commits at once; an aborted
 * file that did not exist before is removed.
 */
export class OpfsSink implements TraceSink {
  readonly location: string;
  constructor(readonly subdir = '') {
    this.location = `opfs:/${subdir}`;
  }

  async open(name: string): Promise<TraceSinkWriter> {
    checkName(name);
    const storage = (globalThis as { navigator?: { storage?: { getDirectory?: () => Promise<FileSystemDirectoryHandle> } } }).navigator?.storage;
    if (!storage?.getDirectory) throw new WgprofError('TRACE_SINK_UNSUPPORTED', 'OpfsSink needs navigator.storage.getDirectory() (a secure-context page); use FsSink in Node.');
    let dir = await storage.getDirectory();
    for (const part of this.subdir.split('/').filter((p) => p !== '')) dir = await dir.getDirectoryHandle(part, { create: true });
    let existed = true;
    await dir.getFileHandle(name).catch(() => {
      existed = false;
    });
    const file = await dir.getFileHandle(name, { create: true });
    const stream = await file.createWritable();
    const where = `opfs:/${[...this.subdir.split('/').filter((p) => p !== ''), name].join('/')}`;
    const parent = dir;
    return {
      async write(chunk) {
        await stream.write(chunk as Uint8Array<ArrayBuffer>);
      },
      async commit() {
        await stream.close();
        return where;
      },
      async abort() {
        await stream.abort().catch(() => undefined);
        if (!existed) await parent.removeEntry(name).catch(() => undefined);
      },
    };
  }
}

/** Offers the file as a browser download (Blob + a temporary anchor) on commit. */
export class DownloadSink implements TraceSink {
  readonly location = 'download';

  async open(name: string): Promise<TraceSinkWriter> {
    checkName(name);
    const parts: Uint8Array[] = [];
    return {
      async write(chunk) {
        parts.push(chunk);
      },
      async commit() {
        if (typeof document === 'undefined' || typeof URL.createObjectURL !== 'function') {
          throw new WgprofError('TRACE_SINK_UNSUPPORTED', 'DownloadSink needs a page (document and URL.createObjectURL); use FsSink in Node.');
        }
        const blob = new Blob(parts as Uint8Array<ArrayBuffer>[], { type: name.endsWith('.gz') ? 'application/gzip' : 'application/json' });
        parts.length = 0;
        const url = URL.createObjectURL(blob);
        const anchor = document.createElement('a');
        anchor.href = url;
        anchor.download = name;
        anchor.style.display = 'none';
        document.body.appendChild(anchor);
        anchor.click();
        anchor.remove();
        // Revoking at once can cancel the download in some browsers.
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
        return name;
      },
      async abort() {
        parts.length = 0;
      },
    };
  }
}

/**
 * The sink for a `torch_profiler_dir`: a local path → FsSink; `file://` → FsSink on its path;
 * `http(s)://` → HttpSink (PUT); any other scheme → TRACE_SINK_UNSUPPORTED naming it.
 */
export function sinkForDir(dir: string): TraceSink {
  const scheme = uriScheme(dir);
  if (scheme === 'http' || scheme === 'https') return new HttpSink(dir);
  if (scheme === 'file') return new FsSink(decodeURIComponent(new URL(dir).pathname));
  if (scheme !== null) {
    throw new WgprofError(
      'TRACE_SINK_UNSUPPORTED',
      `torch_profiler_dir ${JSON.stringify(dir)} uses the "${scheme}://" scheme, which wgprof cannot write to. ` +
        'Use a local directory, file://, http(s):// (each file is PUT to {dir}/{name}), ' +
        'or pass a sink (CallbackSink, HttpSink, OpfsSink, DownloadSink) and upload from there.',
    );
  }
  return new FsSink(dir);
}
