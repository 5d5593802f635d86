// Trace file names, exactly as torch's tensorboard_trace_handler makes them, with worker names made
// safe so that nothing can escape the trace directory.

import { WgprofError } from '../util/errors.js';

const MAX_WORKER_CHARS = 200;

/**
 * Keeps only `[A-Za-z0-9._-]` (anything else becomes `_`), turns runs of dots into `_` so `..` and
 * hidden names (`.x`) cannot occur, caps the length, and gives 'worker' for an empty result:
 * `../../etc/x` becomes `____etc_x`, a plain file name inside the trace directory.
 */
export function sanitizeWorkerName(name: string): string {
  let out = String(name).replace(/[^A-Za-z0-9._-]/g, '_');
  out = out.replace(/\.{2,}/g, '_');
  out = out.replace(/^\./, '_');
  if (out.length > MAX_WORKER_CHARS) out = out.slice(0, MAX_WORKER_CHARS);
  return out === '' ? 'worker' : out;
}

/** `{worker}.{time_ns}.pt.trace.json[.gz]`; time_ns is epoch ns (19 digits), as torch 2.x writes. */
export function traceFileName(workerName: string, timeNs: bigint | string, useGzip: boolean): string {
  const digits = typeof timeNs === 'bigint' ? timeNs.toString() : timeNs;
  if (!/^\d{1,20}$/.test(digits)) {
    throw new WgprofError('TRACE_BAD_TIME', `time_ns is ${JSON.stringify(digits)}; expected epoch nanoseconds as digits (e.g. 1795829617273139504).`);
  }
  return `${sanitizeWorkerName(workerName)}.${digits}.pt.trace.json${useGzip ? '.gz' : ''}`;
}

/**
 * `{worker}.{time_ns}.profiler_out.txt`: the key-averages table of the trace `traceName`
 * (`{worker}.{time_ns}.pt.trace.json[.gz]`), as the profiler writes it. vLLM main names it
 * `{worker}.profiler_out.txt`; the trace's time_ns is added so that a later window of the same
 * worker keeps its own table instead of overwriting the previous one, and each table sits beside
 * its trace.
 */
export function profilerOutFileName(traceName: string): string {
  const stem = traceName.replace(/\.pt\.trace\.json(?:\.gz)?$/, '');
  if (stem === traceName || stem === '') {
    throw new WgprofError(
      'TRACE_BAD_FILE_NAME',
      `trace file name ${JSON.stringify(traceName)} does not end in .pt.trace.json[.gz]; expected a name from traceFileName().`,
    );
  }
  return `${stem}.profiler_out.txt`;
}

/** `profiler_out_{rank}.txt`, the key-averages table vLLM v0.13-v0.15 writes beside the traces (dumpKeyAverages). */
export function keyAveragesFileName(rank: number): string {
  if (!Number.isSafeInteger(rank) || rank < 0) throw new WgprofError('TRACE_BAD_RANK', `rank is ${String(rank)}; expected an integer >= 0.`);
  return `profiler_out_${rank}.txt`;
}

/**
 * Throws TRACE_BAD_FILE_NAME unless `name` is a plain file name (no separator, NUL, `.` or `..`):
 * every sink checks the names it is given, so nothing is written outside its directory.
 */
export function checkFileName(name: string): void {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new WgprofError(
      'TRACE_BAD_FILE_NAME',
      `file name ${JSON.stringify(name)} is not a plain file name; expected no path separators (use traceFileName()).`,
    );
  }
}

/**
 * The scheme of a `scheme://` URI, lowercased, or null for a local path. Exactly vLLM's `_is_uri_path`:
 * the text before the first "://" is a scheme when it is longer than one character (so `C://x` is a
 * drive path and `my_fs://b/x` a URI). The config, the sinks and the writers all classify dirs with
 * this one function, so a dir is never a URI to one and a relative folder to another.
 */
export function uriScheme(dir: string): string | null {
  const index = dir.indexOf('://');
  return index > 1 ? dir.slice(0, index).toLowerCase() : null;
}

/** Schemes the trace sinks write with no extra package. */
export const BUILT_IN_DIR_SCHEMES: readonly string[] = ['file', 'http', 'https'];

/** Schemes written through an optional SDK package, which must be installed for the scheme to work. */
export const PACKAGE_DIR_SCHEMES: Readonly<Record<string, string>> = Object.freeze({ s3: '@aws-sdk/client-s3', gs: '@google-cloud/storage' });
