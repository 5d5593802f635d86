// How the Profiler turns capture records into files: the worker/frontend traces and the key-averages
// table. The default goes through src/trace (writeTrace, keyAverages, sinks); tests inject their own.

import type { ProfilerConfig } from '../config/schema.js';
import { keyAveragesFileName, uriScheme } from '../trace/files.js';
import { formatKeyAveragesTable, keyAverages } from '../report/key-averages.js';
import type { CaptureRecord } from '../capture/model.js';
import { sinkForDir, type TraceSink } from '../trace/sinks.js';
import { writeTrace } from '../trace/write.js';

export type { TraceSink } from '../trace/sinks.js';

export interface TraceOutput {
  /** Writes one trace; resolves to the path (or the sink's name) of the file written. */
  writeTrace(record: CaptureRecord, options: { workerName: string; useGzip: boolean }): Promise<string>;
  /**
   * The key-averages table of a capture: torch's `key_averages().table(sort_by="self_cuda_time_total")`
   * (100 rows), or sorted by self CPU time (50 rows) when there is no GPU time, as vLLM does.
   */
  formatKeyAverages(record: CaptureRecord): string;
  /** Writes `profiler_out_{rank}.txt`; resolves to its path, or undefined when skipped (URI dir without a sink). */
  writeKeyAverages(record: CaptureRecord, rank: number, table: string): Promise<string | undefined>;
}

/** Writes into `config.torch_profiler_dir` (a local dir, file:// or http(s)://), or into `sink` when given. */
export function defaultTraceOutput(config: ProfilerConfig, sink: TraceSink | undefined): TraceOutput {
  const dir = config.torch_profiler_dir;
  return {
    async writeTrace(record, { workerName, useGzip }) {
      const written = await writeTrace(record, { ...(sink ? { sink } : { dir }), useGzip, workerName });
      return written.path;
    },
    formatKeyAverages(record) {
      const ka = keyAverages(record);
      return formatKeyAveragesTable(ka, { sortBy: ka.hasGpuTime ? 'self_gpu' : 'self_cpu', rowLimit: ka.hasGpuTime ? 100 : 50 });
    },
    async writeKeyAverages(_record, rank, table) {
      // vLLM skips the table file for URI dirs (plain file I/O cannot write there).
      if (!sink && uriScheme(dir) !== null) return undefined;
      const target = sink ?? sinkForDir(dir);
      const writer = await target.open(keyAveragesFileName(rank));
      try {
        // vLLM writes it with print(table, file=f): a trailing newline.
        await writer.write(new TextEncoder().encode(`${table}\n`));
        return await writer.commit();
      } catch (error) {
        await writer.abort().catch(() => undefined);
        throw error;
      }
    },
  };
}
