// /start_profile and /stop_profile: the server's Profiler and the control over it. The Profiler is
// the same one `wgprof run` and createEngine({ profilerConfig }) use; the server gives it an output
// that writes through the server's sink (fallback dir, retries) and counts each file written, and
// serializes start/stop so toggles from concurrent clients apply in order. /stop_profile answers with
// the files written and, from the Profiler's ProfilerExportError, precisely the ones that failed
// (code, cause, and where a failed upload was kept).

import type { ProfilerConfig } from '../config/index.js';
import type { Engine } from '../engine/engine.js';
import type { ProfileStartOptions } from '../profiler/hooks.js';
import { HttpError } from './http.js';
import { ProfilerExportError, profileFailure, type ProfileFailure } from '../profiler/failures.js';
import { defaultTraceOutput, type TraceOutput } from '../profiler/output.js';
import { Profiler, type TraceKind } from '../profiler/profiler.js';
import type { LaunchNames } from '../trace/launch-names.js';
import { sinkForDir, type SinkForDirOptions } from '../trace/sinks.js';
import { log } from '../util/log.js';

export { profileFailure, type ProfileFailure } from '../profiler/failures.js';

export interface StopProfileResult {
  /** Files written since the previous stop (worker and frontend traces, key-averages table). */
  files: string[];
  failures: ProfileFailure[];
}

/**
 * The Profiler's default output, with traces written through `sinkForDir(dir, sinkOptions)` (the
 * server's fallback directory and retries for remote dirs) and every file written reported (the
 * failures reach /stop_profile through the Profiler's ProfilerExportError). The key-averages table
 * goes where the default puts it (skipped for URI dirs, as vLLM).
 */
function reportingOutput(config: ProfilerConfig, sinkOptions: SinkForDirOptions, report: (file: string) => void): TraceOutput {
  const traces = defaultTraceOutput(config, sinkForDir(config.torch_profiler_dir, sinkOptions));
  const tables = defaultTraceOutput(config, undefined);
  return {
    async exportTrace(record, options) {
      const exported = await traces.exportTrace(record, options);
      report(exported.file);
      return exported;
    },
    async writeKeyAverages(name, table) {
      const path = await tables.writeKeyAverages(name, table);
      if (path !== undefined) report(path);
      return path;
    },
  };
}

/** The body fields /start_profile takes, and the start() option each sets. */
const START_FIELDS = { delay_iterations: 'delayIterations', max_iterations: 'maxIterations' } as const;

/**
 * /start_profile's optional JSON body, `{"delay_iterations": D, "max_iterations": M}` (both optional):
 * bounds for this session only, as vLLM main's `start(delay_iterations=, max_iterations=)` (the
 * per-request direction of RFC vllm#55207). No body, or `{}`, keeps the config's. Anything else is a
 * 400 naming the field.
 */
export function parseStartProfileBody(body: unknown): ProfileStartOptions {
  if (body === undefined) return {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError(
      400,
      'INVALID_PARAMETER',
      `the /start_profile body must be a JSON object such as {"delay_iterations": 2, "max_iterations": 3}, or empty; got ` +
        `${Array.isArray(body) ? 'an array' : JSON.stringify(body)}.`,
    );
  }
  const options: ProfileStartOptions = {};
  for (const [key, value] of Object.entries(body)) {
    if (!Object.hasOwn(START_FIELDS, key)) {
      throw new HttpError(
        400,
        'INVALID_PARAMETER',
        `/start_profile takes only "delay_iterations" and "max_iterations"; got "${key.slice(0, 60)}".`,
        key.slice(0, 60),
      );
    }
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new HttpError(
        400,
        'INVALID_PARAMETER',
        `"${key}" must be an integer >= 0 (0 = ${key === 'delay_iterations' ? 'start at once' : 'no limit'}); got ${JSON.stringify(value)?.slice(0, 60)}.`,
        key,
      );
    }
    options[START_FIELDS[key as keyof typeof START_FIELDS]] = value;
  }
  return options;
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
  private readonly onFile: ((ok: boolean) => void) | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(config: ProfilerConfig, options: ServerProfilerOptions = {}) {
    this.onFile = options.onFile;
    const report = (file: string): void => {
      options.onFile?.(true);
      log.info(`profiler: wrote ${file}`);
    };
    const onTraceWritten = (file: string, kind: TraceKind): void => log.debug(`profiler: ${kind} file ${file}`);
    this.profiler =
      config.profiler === 'torch'
        ? new Profiler(config, {
            output: reportingOutput(config, options.sink ?? {}, report),
            onTraceWritten,
            ...(options.launchNames ? { launchNames: options.launchNames } : {}),
          })
        : new Profiler(config, { onTraceWritten });
  }

  get mode(): string {
    return this.profiler.config.profiler ?? 'none';
  }

  /** Started and not stopped (vLLM's `_active`). */
  get active(): boolean {
    return this.profiler.active;
  }

  /** /start_profile, optionally bounding this session: a start while active is ignored, as in vLLM. */
  start(engine: Engine, options: ProfileStartOptions = {}): Promise<{ alreadyActive: boolean }> {
    return this.serial(async () => {
      const alreadyActive = this.profiler.active;
      engine.startProfile(options);
      return { alreadyActive };
    });
  }

  /** /stop_profile: resolves once every file is written (or failed), with both lists. */
  stop(engine: Engine): Promise<StopProfileResult> {
    return this.serial(async () => {
      let result: StopProfileResult;
      try {
        result = { files: await engine.stopProfile(), failures: [] };
      } catch (error) {
        result =
          error instanceof ProfilerExportError ? { files: error.files, failures: error.failures } : { files: [], failures: [profileFailure(error, 'profile')] };
      }
      for (const _ of result.failures) this.onFile?.(false);
      return result;
    });
  }

  private serial<T>(job: () => Promise<T>): Promise<T> {
    const next = this.chain.then(job);
    this.chain = next.catch(() => undefined);
    return next;
  }
}
