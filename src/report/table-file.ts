// vLLM's `torch_profiler_dump_cuda_time_total`: the key-averages table as a text file, written through
// a trace sink (atomically: nothing is left under the final name when a write fails).

import type { CaptureRecord } from '../capture/model.js';
import { keyAveragesFileName, uriScheme } from '../trace/files.js';
import type { KinetoTrace } from '../trace/kineto.js';
import type { TraceSink } from '../trace/sinks.js';
import { resolveSink } from '../trace/write.js';
import { buildTrace } from '../trace/serialize.js';
import { formatKeyAveragesTable, keyAverages, type KeyAverages, type KeyAveragesSortKey } from './key-averages.js';

/** torch's `key_averages().table(sort_by="self_cuda_time_total")` (100 rows), or by self CPU time (50 rows) when there is no GPU time, as vLLM does. */
export function formatProfilerTable(ka: KeyAverages, options: { sortBy?: KeyAveragesSortKey; rowLimit?: number } = {}): string {
  return formatKeyAveragesTable(ka, {
    sortBy: options.sortBy ?? (ka.hasGpuTime ? 'self_gpu' : 'self_cpu'),
    rowLimit: options.rowLimit ?? (ka.hasGpuTime ? 100 : 50),
  });
}

/** Writes `text` as the file `name` through `sink`; resolves to where it is. */
export async function writeTextFile(sink: TraceSink, name: string, text: string): Promise<string> {
  const writer = await sink.open(name);
  try {
    await writer.write(new TextEncoder().encode(text));
    return await writer.commit();
  } catch (error) {
    await writer.abort().catch(() => undefined);
    throw error;
  }
}

export interface DumpKeyAveragesOptions {
  sink?: TraceSink;
  sortBy?: KeyAveragesSortKey;
  rowLimit?: number;
}

/**
 * Writes the key-averages table of a capture or a parsed trace to `{dir}/profiler_out_{rank}.txt`
 * (atomically). Skipped for URI dirs, as vLLM does: resolves to null then. Resolves to the path written.
 */
export async function dumpKeyAverages(
  input: CaptureRecord | KinetoTrace,
  dir: string,
  rank: number,
  options: DumpKeyAveragesOptions = {},
): Promise<string | null> {
  if (!options.sink && uriScheme(dir) !== null) return null;
  const sink = resolveSink({ dir, ...(options.sink ? { sink: options.sink } : {}) });
  const trace = 'traceEvents' in input ? input : buildTrace(input);
  const table = formatProfilerTable(keyAverages(trace), options);
  return writeTextFile(sink, keyAveragesFileName(rank), table);
}
