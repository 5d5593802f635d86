// What a profile that could not be written looks like to a caller: one ProfileFailure per file not
// written (which file, the stable code, the cause, where a failed upload was kept), gathered into the
// ProfilerExportError that Profiler.stop() rejects with. `wgprof run` exits 1 on it; `wgprof serve`
// answers /stop_profile with a 500 listing the same failures.

import { TraceSinkError } from '../trace/sinks.js';
import { WgprofError, errorMessage } from '../util/errors.js';

/** The files a profiler writes: the worker trace, the frontend trace, the key-averages table. */
export type TraceKind = 'worker' | 'frontend' | 'key_averages';

export interface ProfileFailure {
  /** Which file it was; absent for a failure outside the profiler (e.g. a server's own). */
  kind?: TraceKind;
  /**
   * The file (path or URL) that was not written, or its name pattern (`{worker}.*.pt.trace.json.gz`)
   * when it failed before its name was chosen (e.g. the capture could not be collected).
   */
  file: string;
  /** A stable code: a TraceSinkError's (TRACE_DISK_FULL, TRACE_READ_ONLY, ...) or another WgprofError's. */
  code: string;
  /** The cause, naming the file. */
  message: string;
  /** Where a failed upload was kept instead, else null. */
  fallback: string | null;
}

/** 'worker trace', 'frontend trace', 'key-averages table' (for messages). */
export function traceKindLabel(kind: TraceKind): string {
  return kind === 'key_averages' ? 'key-averages table' : `${kind} trace`;
}

/** A failure of `file` (kind `kind`) from the error that stopped it. */
export function profileFailure(error: unknown, file: string, kind?: TraceKind): ProfileFailure {
  const failure: ProfileFailure =
    error instanceof TraceSinkError
      ? { file: error.file, code: error.code, message: error.message, fallback: error.fallbackPath ?? null }
      : {
          file,
          code: error instanceof WgprofError ? error.code : 'PROFILER_EXPORT_FAILED',
          message: `${file} was not written: ${errorMessage(error)}`,
          fallback: null,
        };
  return kind === undefined ? failure : { kind, ...failure };
}

/**
 * `Profiler.stop()` rejects with this when a file of the windows it stopped could not be written
 * (code PROFILER_EXPORT_FAILED), or, with the `strict` option, after any failure while profiling
 * (code PROFILER_FAILED: e.g. a GPU readback, a hook). `files` holds what was written all the same.
 */
export class ProfilerExportError extends WgprofError {
  /** The files that were written by the windows this stop() ended. */
  readonly files: string[];
  /** Each file that was not written. */
  readonly failures: ProfileFailure[];
  /** Failures that lost no file (reported only with `strict`): readbacks, hooks, callbacks. */
  readonly errors: Error[];

  constructor(files: string[], failures: ProfileFailure[], errors: Error[]) {
    const lines = failures.map((f) => `  ${f.kind ? `${traceKindLabel(f.kind)}: ` : ''}${f.message}`);
    for (const error of errors) lines.push(`  ${errorMessage(error)}`);
    const head =
      failures.length > 0
        ? `${failures.length} profile file(s) could not be written${files.length > 0 ? ` (${files.length} were)` : ''}:`
        : `${errors.length} failure(s) while profiling (strict):`;
    super(
      failures.length > 0 ? 'PROFILER_EXPORT_FAILED' : 'PROFILER_FAILED',
      `${head}\n${lines.join('\n')}`,
      errors.length > 0 ? { cause: errors[0] } : undefined,
    );
    this.name = 'ProfilerExportError';
    this.files = files;
    this.failures = failures;
    this.errors = errors;
  }
}
