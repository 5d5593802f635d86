// /start_profile and /stop_profile: the server's Profiler and the control over it. The Profiler is
// the same one `wgprof run` and createEngine({ profilerConfig }) use; the server only gives it an
// output that records each file's fate, so /stop_profile can answer with the files written and,
// precisely, the ones that failed (code, cause, and where a failed upload was kept), and serializes
// start/stop so toggles from concurrent clients apply in order.

import type { ProfilerConfig } from '../config/index.js';
import type { Engine } from '../engine/engine.js';
import { defaultTraceOutput, type TraceOutput } from '../profiler/output.js';
import { Profiler, type TraceKind } from '../profiler/profiler.js';
import type { LaunchNames } from '../trace/launch-names.js';
import { TraceSinkError, sinkForDir, type SinkForDirOptions } from '../trace/sinks.js';
import { WgprofError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';

export interface ProfileFailure {
  /** The file (path or URL) that was not written, or the trace's name prefix when it failed before naming one. */
  file: string;
  code: string;
  message: string;
  /** Where a failed upload was kept, else null. */
  fallback: string | null;
}

export interface StopProfileResult {
  /** Files written since the previous stop (worker and frontend traces, key-averages table). */
  files: string[];
  failures: ProfileFailure[];
}

export function profileFailure(error: unknown, file: string): ProfileFailure {
  if (error instanceof TraceSinkError) return { file: error.file, code: error.code, message: error.message, fallback: error.fallbackPath ?? null };
  return { file, code: error instanceof WgprofError ? error.code : 'PROFILER_EXPORT_FAILED', message: errorMessage(error), fallback: null };
}

/**
 * The Profiler's default output, with traces written through `sinkForDir(dir, sinkOptions)` (the
 * server's fallback directory and retries for remote dirs) and every file's outcome reported. The
 * key-averages table goes where the default puts it (skipped for URI dirs, as vLLM).
 */
function reportingOutput(config: ProfilerConfig, sinkOptions: SinkForDirOptions, report: (file: string, failure?: ProfileFailure) => void): TraceOutput {
  const traces = defaultTraceOutput(config, sinkForDir(config.torch_profiler_dir, sinkOptions));
  const tables = defaultTraceOutput(config, undefined);
  return {
    async exportTrace(record, options) {
      try {
        const exported = await traces.exportTrace(record, options);
        report(exported.file);
        return exported;
      } catch (error) {
        report('', profileFailure(error, `${options.workerName}.*.pt.trace.json${options.useGzip ? '.gz' : ''}`));
        throw error;
      }
    },
    async writeKeyAverages(rank, table) {
      try {
        const path = await tables.writeKeyAverages(rank, table);
        if (path !== undefined) report(path);
        return path;
      } catch (error) {
        report('', profileFailure(error, `profiler_out_${rank}.txt`));
        throw error;
      }
    },
  };
}

export interface ServerProfilerOptions {
  sink?: SinkForDirOptions;
  /** ProfilerOptions.launchNames. */
  launchNames?: LaunchNames;
  onFile?: (ok: boolean) => void;
}

/** The control over the engine's profiler: serialized start/stop, with each stop's files and failures. */
export class ProfileControl {
  readonly profiler: Profiler;
  private chain: Promise<unknown> = Promise.resolve();
  private failures: ProfileFailure[] = [];

  constructor(config: ProfilerConfig, options: ServerProfilerOptions = {}) {
    const report = (file: string, failure?: ProfileFailure): void => {
      if (failure) this.failures.push(failure);
      options.onFile?.(failure === undefined);
      if (!failure) log.info(`profiler: wrote ${file}`);
    };
    const onTraceWritten = (file: string, kind: TraceKind): void => log.debug(`profiler: ${kind} file ${file}`);
    this.profiler =
      config.profiler === 'torch'
        ? new Profiler(config, { output: reportingOutput(config, options.sink ?? {}, report), onTraceWritten, ...(options.launchNames ? { launchNames: options.launchNames } : {}) })
        : new Profiler(config, { onTraceWritten });
  }

  get mode(): string {
    return this.profiler.config.profiler ?? 'none';
  }

  /** Started and not stopped (vLLM's `_active`). */
  get active(): boolean {
    return this.profiler.active;
  }

  /** /start_profile: a start while active is ignored, as in vLLM. */
  start(engine: Engine): Promise<{ alreadyActive: boolean }> {
    return this.serial(async () => {
      const alreadyActive = this.profiler.active;
      engine.startProfile();
      return { alreadyActive };
    });
  }

  /** /stop_profile: resolves once every file is written (or failed), with both lists. */
  stop(engine: Engine): Promise<StopProfileResult> {
    return this.serial(async () => {
      let files: string[] = [];
      try {
        files = await engine.stopProfile();
      } catch (error) {
        this.failures.push(profileFailure(error, 'profile'));
      }
      return { files, failures: this.failures.splice(0) };
    });
  }

  private serial<T>(job: () => Promise<T>): Promise<T> {
    const next = this.chain.then(job);
    this.chain = next.catch(() => undefined);
    return next;
  }
}
