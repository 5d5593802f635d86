// How the Profiler turns capture records into files: the worker and frontend traces and the
// key-averages table. The default exports through src/trace in one pass (the table is built from the
// very events written, src/report's key averages); tests inject their own.

import type { CaptureRecord } from '../capture/model.js';
import type { ProfilerConfig } from '../config/schema.js';
import { formatProfilerTable, writeTextFile } from '../report/table-file.js';
import { KeyAveragesAccumulator } from '../report/key-averages.js';
import { exportCapture } from '../trace/export.js';
import { uriScheme } from '../trace/files.js';
import type { LaunchNames } from '../trace/launch-names.js';
import type { StepCosts } from '../trace/plan.js';
import { sinkForDir, type TraceSink } from '../trace/sinks.js';

export type { TraceSink } from '../trace/sinks.js';

export interface ExportedTrace {
  /** Path (or the sink's name) of the file written. */
  file: string;
  /** Its file name, `{worker}.{time_ns}.pt.trace.json[.gz]` (the key-averages table is named after it). */
  name: string;
  /** The key-averages table of what was written (when asked for). */
  table?: string;
  /** Per-step totals, in step order. */
  steps: StepCosts[];
}

export interface TraceOutput {
  /**
   * Writes one trace (`{worker}.{time_ns}.pt.trace.json[.gz]`); with `table`, also returns the
   * key-averages table of exactly what was written: torch's `key_averages().table(sort_by=
   * "self_cuda_time_total")` (100 rows), or by self CPU time (50 rows) when there is no GPU time, as vLLM does.
   */
  exportTrace(record: CaptureRecord, options: { workerName: string; useGzip: boolean; table: boolean; launchNames?: LaunchNames }): Promise<ExportedTrace>;
  /**
   * Writes the key-averages table as the file `name` (`{worker}.{time_ns}.profiler_out.txt`, named
   * after its trace); resolves to its path, or undefined when skipped (URI dir without a sink).
   */
  writeKeyAverages(name: string, table: string): Promise<string | undefined>;
}

/** Writes into `config.torch_profiler_dir` (a local dir, file:// or http(s)://), or into `sink` when given. */
export function defaultTraceOutput(config: ProfilerConfig, sink: TraceSink | undefined): TraceOutput {
  const dir = config.torch_profiler_dir;
  return {
    async exportTrace(record, { workerName, useGzip, table, launchNames }) {
      // The table's accumulator sees the events as they are written (parents first per thread, as it needs).
      const events = table ? new KeyAveragesAccumulator() : undefined;
      const exported = await exportCapture(record, {
        ...(sink ? { sink } : { dir }),
        useGzip,
        workerName,
        ...(events ? { events } : {}),
        ...(launchNames ? { launchNames } : {}),
      });
      const out: ExportedTrace = { file: exported.trace.path, name: exported.trace.name, steps: exported.steps };
      if (events) out.table = formatProfilerTable(events.result());
      return out;
    },
    async writeKeyAverages(name, table) {
      // vLLM skips the table file for URI dirs (plain file I/O cannot write there).
      if (!sink && uriScheme(dir) !== null) return undefined;
      // vLLM writes it with print(table, file=f): a trailing newline.
      return writeTextFile(sink ?? sinkForDir(dir), name, `${table}\n`);
    },
  };
}
