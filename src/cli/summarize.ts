// `wgprof summarize TRACE`: the key-averages table (torch's key_averages().table()) of a trace file
// wgprof (or torch) wrote, .json or .json.gz.

import { errorMessage } from '../util/errors.js';
import { intOption, parseCommandArgs } from './args.js';
import { EXIT, UsageError, type Command } from './command.js';

const HELP = `usage: wgprof summarize TRACE [--sort KEY] [--limit N] [--json]

Prints the key-averages table of a trace (*.pt.trace.json or *.pt.trace.json.gz), one row per
kernel / op / annotation name, like torch's key_averages().table().

options:
  --sort KEY    self_gpu (default when the trace has GPU time), gpu_total, calls,
                self_cpu (default otherwise), cpu_total, flops
  --limit N     print at most N rows (default 100)
  --json        print the rows as JSON (times in µs; unknown costs are null), with the trace's
                kernel count, steps and peak GPU memory (null without memory events)

The trace is streamed (any size; gzip CRC-32 and size checked). Elements of traceEvents that are
not JSON objects are skipped with a warning.

exit status: 0 printed, 1 the file is missing, not a regular file, damaged or not a trace,
2 bad arguments.
`;

interface Args {
  file: string;
  sort?: string;
  limit?: number;
  json: boolean;
}

/** The arguments, or the usage error's message. */
function parseArgs(argv: string[]): Args | string {
  try {
    const { values, positionals } = parseCommandArgs(argv, {
      command: 'summarize',
      options: { sort: { type: 'string', example: 'self_gpu' }, limit: { type: 'string', example: '100' }, json: { type: 'boolean' } },
      positionals: { name: 'TRACE (a *.pt.trace.json[.gz] file)', min: 1, max: 1 },
    });
    const args: Args = { file: positionals[0]!, json: values.json ?? false };
    if (values.sort !== undefined) args.sort = values.sort;
    if (values.limit !== undefined) args.limit = intOption('--limit', values.limit, { min: 1, what: 'rows to print' });
    return args;
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
}

/** Where the command writes (process.stdout/stderr from the CLI; collectors in tests). */
export interface SummarizeIo {
  out(text: string): void;
  err(text: string): void;
}

/** `wgprof summarize` with its output streams given; resolves to the exit status. */
export async function runSummarize(argv: string[], io: SummarizeIo): Promise<number> {
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    io.err(`wgprof summarize: ${args}\n\n${HELP}`);
    return EXIT.usage;
  }
  const { KEY_AVERAGES_SORT_KEYS, formatKeyAveragesTable, sortKeyAverages } = await import('../report/key-averages.js');
  if (args.sort !== undefined && !(KEY_AVERAGES_SORT_KEYS as readonly string[]).includes(args.sort)) {
    io.err(`wgprof summarize: --sort is ${JSON.stringify(args.sort.slice(0, 80))}; expected one of ${KEY_AVERAGES_SORT_KEYS.join(', ')}\n`);
    return EXIT.usage;
  }
  const { digestTrace } = await import('../report/digest.js');
  const { warnSkipped } = await import('../report/parse.js');
  let digest;
  try {
    // Streamed: memory stays bounded by names and steps, whatever the trace's size.
    digest = await digestTrace(args.file);
  } catch (error) {
    io.err(`wgprof summarize: ${errorMessage(error)}\n`);
    return EXIT.failed;
  }
  warnSkipped(digest.read);
  const ka = digest.keyAverages;
  const sortBy = (args.sort ?? (ka.hasGpuTime ? 'self_gpu' : 'self_cpu')) as (typeof KEY_AVERAGES_SORT_KEYS)[number];
  sortKeyAverages(ka, sortBy);
  const limit = args.limit ?? 100;
  if (args.json) {
    io.out(
      JSON.stringify(
        {
          file: args.file,
          sortBy,
          selfCpuTotalUs: ka.selfCpuTotalUs,
          selfGpuTotalUs: ka.selfGpuTotalUs,
          kernels: digest.kernelEvents,
          steps: digest.steps.length,
          peakGpuMemoryBytes: digest.peakGpuMemoryBytes,
          skippedEvents: digest.read.skipped,
          rows: ka.rows.slice(0, limit),
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    io.out(formatKeyAveragesTable(ka, { rowLimit: limit }));
  }
  return EXIT.ok;
}

export const command: Command = {
  summary: 'print the key-averages table of a trace wgprof wrote',
  help: HELP,
  main: (argv) =>
    runSummarize(argv, {
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(text),
    }),
};
