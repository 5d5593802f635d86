// Where trace bytes go. A sink opens one named file, takes chunks, then commits (the file appears
// whole, atomically where the medium allows) or aborts (nothing appears). Only sinks touch fs, fetch
// or Blob (STYLE §10); Node modules load with dynamic import so the browser bundle never pulls them.
//
// Local writes fail with a TraceSinkError whose stable `code` says what went wrong (disk full,
// read-only, permission, path too long, not a directory, a directory that cannot be created) and
// whose message names the file and the cause. Remote directories (http(s)://, s3://, gs://) are in
// upload.ts: retried with backoff, and kept in a local fallback directory when every try failed.

import { WgprofError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { isNode } from '../util/runtime.js';
import { concatBytes } from './encode.js';
import { checkFileName, uriScheme } from './files.js';
import { GcsSink, HttpSink, S3Sink, defaultFallbackDir, type RetryOptions } from './upload.js';

export { GcsSink, HttpSink, S3Sink, defaultFallbackDir } from './upload.js';
export type { HttpSinkOptions, ObjectStoreSinkOptions, RetryOptions, UploadSinkOptions } from './upload.js';

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

/**
 * Stable codes of the errors sinks throw (callers branch on `code`, never on the message):
 * - TRACE_DISK_FULL: ENOSPC / EDQUOT (no space or quota left)
 * - TRACE_READ_ONLY: EROFS (a read-only file system)
 * - TRACE_PERMISSION_DENIED: EACCES / EPERM
 * - TRACE_PATH_TOO_LONG: ENAMETOOLONG (the path or one of its names is longer than the system allows)
 * - TRACE_NOT_A_DIRECTORY: a part of the directory path is a file (ENOTDIR, EEXIST on a file)
 * - TRACE_DIR_UNCREATABLE: the file system refuses new directories there (/proc, /sys), or ELOOP
 * - TRACE_WRITE_FAILED: any other local failure (EIO, ...)
 * - TRACE_UPLOAD_FAILED: a remote upload failed on every try (the error says where the file was kept)
 * - TRACE_SINK_SDK_MISSING: s3:// or gs:// without its optional SDK package installed
 */
export type TraceSinkErrorCode =
  | 'TRACE_DISK_FULL'
  | 'TRACE_READ_ONLY'
  | 'TRACE_PERMISSION_DENIED'
  | 'TRACE_PATH_TOO_LONG'
  | 'TRACE_NOT_A_DIRECTORY'
  | 'TRACE_DIR_UNCREATABLE'
  | 'TRACE_WRITE_FAILED'
  | 'TRACE_UPLOAD_FAILED'
  | 'TRACE_SINK_SDK_MISSING';

/** A sink failure: `file` is the file that was not written (path or URL), `cause` the underlying error. */
export class TraceSinkError extends WgprofError {
  declare readonly code: TraceSinkErrorCode;
  /** The path or URL of the file that could not be written. */
  readonly file: string;
  /** The system error code behind it (ENOSPC, EROFS, ECONNREFUSED, ...), when there was one. */
  readonly errno: string | undefined;
  /** Where the bytes were kept instead (a failed upload's local fallback copy), when they were. */
  readonly fallbackPath: string | undefined;

  constructor(
    code: TraceSinkErrorCode,
    message: string,
    details: { file: string; errno?: string | undefined; fallbackPath?: string | undefined; cause?: unknown },
  ) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'TraceSinkError';
    this.file = details.file;
    this.errno = details.errno;
    this.fallbackPath = details.fallbackPath;
  }
}

/** The `code` property of a Node system error (ENOSPC, ...), if any. */
export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

const FS_ERRORS: Record<string, { code: TraceSinkErrorCode; fix: string }> = {
  ENOSPC: { code: 'TRACE_DISK_FULL', fix: 'free space there, or point torch_profiler_dir at a file system with room (a shorter capture: max_iterations)' },
  EDQUOT: { code: 'TRACE_DISK_FULL', fix: 'the disk quota is used up: free space or raise the quota, or choose another torch_profiler_dir' },
  EROFS: { code: 'TRACE_READ_ONLY', fix: 'the file system is mounted read-only: choose a writable torch_profiler_dir' },
  EACCES: { code: 'TRACE_PERMISSION_DENIED', fix: 'this user may not write there: choose a directory it owns, or change the permissions' },
  EPERM: { code: 'TRACE_PERMISSION_DENIED', fix: 'the operation is not permitted there: choose another torch_profiler_dir' },
  ENAMETOOLONG: { code: 'TRACE_PATH_TOO_LONG', fix: 'use a shorter torch_profiler_dir (and worker name)' },
  ENOTDIR: { code: 'TRACE_NOT_A_DIRECTORY', fix: 'a part of the path is a file, not a directory: choose a directory path' },
  ELOOP: { code: 'TRACE_DIR_UNCREATABLE', fix: 'the path has a symbolic-link loop: choose another torch_profiler_dir' },
};

/**
 * Turns a file-system error into a TraceSinkError naming the file and the cause:
 * `TRACE_DISK_FULL: could not write /x/y.pt.trace.json.gz: no space left (ENOSPC: ...). Free space ...`.
 * A TraceSinkError passes through unchanged.
 */
export function traceFsError(error: unknown, file: string, action = 'write'): TraceSinkError {
  if (error instanceof TraceSinkError) return error;
  const errno = errnoOf(error);
  const known = errno === undefined ? undefined : FS_ERRORS[errno];
  const code = known?.code ?? 'TRACE_WRITE_FAILED';
  const fix = known?.fix ?? 'check the directory and the disk, or choose another torch_profiler_dir';
  return new TraceSinkError(code, `could not ${action} ${file}: ${errorMessage(error)}. ${fix[0]!.toUpperCase()}${fix.slice(1)}.`, {
    file,
    errno,
    cause: error,
  });
}

/** Most directory levels ensureDir creates or climbs: deeper is a mistake, not a trace directory. */
const MAX_DIR_DEPTH = 256;

type NodeFs = typeof import('node:fs/promises');
type NodePath = typeof import('node:path');

/**
 * Creates `dir` (absolute) and its missing parents one level at a time, with a bound. Node's
 * `mkdir({ recursive: true })` spins forever on file systems that refuse new entries while
 * reporting ENOENT (procfs: issue 9); here the first refusal is an error that names the directory.
 */
export async function ensureDir(fs: NodeFs, path: NodePath, dir: string): Promise<void> {
  const missing: string[] = [];
  let at = dir;
  for (;;) {
    if (missing.length > MAX_DIR_DEPTH) {
      throw new TraceSinkError(
        'TRACE_PATH_TOO_LONG',
        `could not create ${dir}: more than ${MAX_DIR_DEPTH} directory levels are missing. Use a shorter torch_profiler_dir.`,
        { file: dir },
      );
    }
    let isDir: boolean;
    try {
      isDir = (await fs.stat(at)).isDirectory();
    } catch (error) {
      const errno = errnoOf(error);
      const parent = path.dirname(at);
      // Missing (ENOENT), or below a file (ENOTDIR: found on the way up): climb.
      if ((errno === 'ENOENT' || errno === 'ENOTDIR') && parent !== at) {
        missing.push(at);
        at = parent;
        continue;
      }
      throw traceFsError(error, dir, 'create the directory');
    }
    if (!isDir) {
      throw new TraceSinkError(
        'TRACE_NOT_A_DIRECTORY',
        `could not create ${dir}: ${at} is a file, not a directory. Choose a torch_profiler_dir that is (or can be) a directory.`,
        { file: dir, errno: 'ENOTDIR' },
      );
    }
    break;
  }
  for (const level of missing.reverse()) {
    try {
      await fs.mkdir(level);
    } catch (error) {
      const errno = errnoOf(error);
      if (errno === 'EEXIST') {
        // Made meanwhile by another writer (fine), or a file is there.
        const stat = await fs.stat(level).catch(() => undefined);
        if (stat?.isDirectory()) continue;
        throw new TraceSinkError('TRACE_NOT_A_DIRECTORY', `could not create ${dir}: ${level} is a file, not a directory. Choose another torch_profiler_dir.`, {
          file: dir,
          errno,
          cause: error,
        });
      }
      if (errno === 'ENOENT') {
        // Its parent exists (checked above), yet the system says ENOENT: procfs, sysfs and the like.
        throw new TraceSinkError(
          'TRACE_DIR_UNCREATABLE',
          `could not create ${level}: the file system at ${path.dirname(level)} does not allow new directories (ENOENT although the parent exists; ` +
            `e.g. /proc or /sys). ` +
            'Choose a torch_profiler_dir on a regular file system.',
          { file: dir, errno, cause: error },
        );
      }
      throw traceFsError(error, level, 'create the directory');
    }
  }
}

/**
 * Temp files are `.{name}.tmp-{pid}-{8 random}`: hidden, in the target directory (so the rename is
 * atomic), and marked with the writer's pid so that stale ones can be recognized. The name part is
 * cut (from the front, keeping the extension) so that the whole stays within 255 bytes.
 */
const TEMP_PATTERN = /^\.(.+)\.tmp-(?:(\d+)-)?([0-9a-z]{8})$/;
/** The final names our temp files stand for: traces and key-averages tables. */
const OUR_FILES = /(?:\.pt\.trace\.json(?:\.gz)?|\.profiler_out\.txt|^profiler_out_\d+\.txt)$/;
const MAX_NAME_BYTES = 255;
/** A temp file untouched this long is stale whoever wrote it (a live writer touches it every few ms). */
export const STALE_TEMP_MS = 10 * 60_000;
/** A temp file whose writer process is gone is stale once untouched this long (a writer on another host sharing the directory keeps its file fresh). */
export const DEAD_WRITER_GRACE_MS = 60_000;

function randomSuffix(): string {
  return Math.random().toString(36).slice(2, 10).padEnd(8, '0');
}

export function tempFileName(name: string, pid: number = isNode ? process.pid : 0): string {
  const tail = `.tmp-${pid}-${randomSuffix()}`;
  const room = MAX_NAME_BYTES - 1 - tail.length;
  let part = name;
  while (new TextEncoder().encode(part).length > room) part = part.slice(1);
  return `.${part}${tail}`;
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return errnoOf(error) !== 'ESRCH';
  }
}

/**
 * Removes our stale temp files from `dir` (interrupted writes: a killed process, a crash): only names
 * of our pattern standing for our files, and only when untouched for STALE_TEMP_MS, or for
 * DEAD_WRITER_GRACE_MS when their writer pid is not alive. Best effort: failures are logged at
 * debug level and never fail the write. Resolves to the names removed.
 */
export async function removeStaleTempFiles(fs: NodeFs, path: NodePath, dir: string, nowMs = Date.now()): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const entry of names) {
    const match = TEMP_PATTERN.exec(entry);
    if (!match || !OUR_FILES.test(match[1]!)) continue;
    const full = path.join(dir, entry);
    try {
      const stat = await fs.lstat(full);
      if (!stat.isFile()) continue;
      const idleMs = nowMs - stat.mtimeMs;
      const pid = match[2] === undefined ? undefined : Number(match[2]);
      const writerGone = pid !== undefined && !processAlive(pid);
      if (idleMs < STALE_TEMP_MS && !(writerGone && idleMs >= DEAD_WRITER_GRACE_MS)) continue;
      await fs.rm(full, { force: true });
      removed.push(entry);
    } catch (error) {
      log.debug(`could not remove the stale temp file ${full}: ${errorMessage(error)}`);
    }
  }
  if (removed.length > 0) log.info(`removed ${removed.length} stale temp file(s) of interrupted trace writes from ${dir}: ${removed.join(', ')}`);
  return removed;
}

/**
 * A local directory (Node). Creates the directory (bounded: see ensureDir), removes stale temp files
 * of earlier interrupted writes, writes `.{name}.tmp-{pid}-<random>` in the same directory, fsyncs,
 * then renames onto `name`: readers see either no file or the whole file, and an existing file of
 * that name stays intact until the rename. On any error the temp file is removed and a
 * TraceSinkError names the file and the cause.
 */
export class FsSink implements TraceSink {
  readonly location: string;
  constructor(readonly dir: string) {
    if (typeof dir !== 'string' || dir === '') throw new WgprofError('TRACE_SINK_BAD_DIR', `directory is ${JSON.stringify(dir)}; expected a non-empty path.`);
    this.location = dir;
  }

  async open(name: string): Promise<TraceSinkWriter> {
    checkFileName(name);
    if (!isNode)
      throw new WgprofError('TRACE_SINK_UNSUPPORTED', `FsSink("${this.dir}") needs Node's fs; in a page use OpfsSink, DownloadSink or CallbackSink.`);
    const fs = await import('node:fs/promises');
    const path = await import('node:path');
    const dir = path.resolve(this.dir);
    const finalPath = path.join(dir, name);
    await ensureDir(fs, path, dir);
    await removeStaleTempFiles(fs, path, dir);
    const tempPath = path.join(dir, tempFileName(name));
    let handle: import('node:fs/promises').FileHandle;
    try {
      handle = await fs.open(tempPath, 'wx');
    } catch (error) {
      throw traceFsError(error, finalPath);
    }
    let closed = false;
    const close = async (): Promise<void> => {
      if (!closed) {
        closed = true;
        await handle.close();
      }
    };
    const discard = async (): Promise<void> => {
      await close().catch(() => undefined);
      await fs.rm(tempPath, { force: true }).catch(() => undefined);
    };
    return {
      async write(chunk) {
        let at = 0;
        try {
          while (at < chunk.length) {
            const { bytesWritten } = await handle.write(chunk, at, chunk.length - at);
            at += bytesWritten;
          }
        } catch (error) {
          throw traceFsError(error, finalPath);
        }
      },
      async commit() {
        try {
          await handle.sync();
          await close();
          await fs.rename(tempPath, finalPath);
        } catch (error) {
          await discard();
          throw traceFsError(error, finalPath);
        }
        return finalPath;
      },
      abort: discard,
    };
  }
}

/** Collects the bytes and hands them to `callback(name, bytes)` on commit (tests, custom uploads). */
export class CallbackSink implements TraceSink {
  readonly location = 'callback';
  constructor(private readonly callback: (name: string, bytes: Uint8Array) => void | Promise<void>) {}

  async open(name: string): Promise<TraceSinkWriter> {
    checkFileName(name);
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
    checkFileName(name);
    const storage = (globalThis as { navigator?: { storage?: { getDirectory?: () => Promise<FileSystemDirectoryHandle> } } }).navigator?.storage;
    if (!storage?.getDirectory)
      throw new WgprofError('TRACE_SINK_UNSUPPORTED', 'OpfsSink needs navigator.storage.getDirectory() (a secure-context page); use FsSink in Node.');
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
    checkFileName(name);
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

/** Options of sinkForDir for remote directories. */
export interface SinkForDirOptions {
  /** Where a failed upload keeps its file (default defaultFallbackDir()); false: nowhere (the error says the file is lost). */
  fallbackDir?: string | false;
  retry?: RetryOptions;
}

/**
 * The sink for a `torch_profiler_dir`, the one path every writer (Profiler, CLI, server) takes:
 * a local path → FsSink; `file://` → FsSink on its path; `http(s)://` → HttpSink (PUT each file to
 * `{dir}/{name}`); `s3://bucket/prefix` → S3Sink (@aws-sdk/client-s3); `gs://bucket/prefix` → GcsSink
 * (@google-cloud/storage). Remote sinks retry with backoff and keep a failed file in the fallback
 * directory. Any other scheme → TRACE_SINK_UNSUPPORTED naming it.
 */
export function sinkForDir(dir: string, options: SinkForDirOptions = {}): TraceSink {
  const scheme = uriScheme(dir);
  if (scheme === null) return new FsSink(dir);
  if (scheme === 'file') return new FsSink(decodeURIComponent(new URL(dir).pathname));
  const fallbackDir = options.fallbackDir ?? defaultFallbackDir();
  const remote = { ...(fallbackDir === false ? {} : { fallback: new FsSink(fallbackDir) }), ...(options.retry ? { retry: options.retry } : {}) };
  if (scheme === 'http' || scheme === 'https') return new HttpSink(dir, remote);
  if (scheme === 's3') return new S3Sink(dir, remote);
  if (scheme === 'gs') return new GcsSink(dir, remote);
  throw new WgprofError(
    'TRACE_SINK_UNSUPPORTED',
    `torch_profiler_dir ${JSON.stringify(dir)} uses the "${scheme}://" scheme, which wgprof cannot write to. ` +
      'Use a local directory, file://, http(s):// (each file is PUT to {dir}/{name}), s3://bucket/prefix, gs://bucket/prefix, ' +
      'or pass a sink (CallbackSink, HttpSink, OpfsSink, DownloadSink) and upload from there.',
  );
}
