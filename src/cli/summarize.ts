// `wgprof summarize TRACE...`: the key-averages table (torch's key_averages().table()) of each trace
// file wgprof (or torch) wrote, .json or .json.gz.

import { errorMessage } from '../util/errors.js';
import { intOption, parseCommandArgs } from './args.js';
import { EXIT, UsageError, type Command } from './command.js';

const HELP = `usage: wgprof summarize TRACE... [--sort KEY] [--limit N] [--json]

Prints the key-averages table of each trace (*.pt.trace.json or *.pt.trace.json.gz), one row per
kernel / op / annotation name, like torch's key_averages().table(). With several traces (a worker's
and the frontend's, shards), each table follows a line "==> TRACE <==";  --json then prints an array.

options:
  --sort KEY    self_gpu (default when the trace has GPU time), gpu_total, calls,
                self_cpu (default otherwise), cpu_total, flops
  --limit N     print at most N rows (default 100)
  --json        print the rows as JSON (times in µs; unknown costs are null), with the trace's
                kernel count, steps and peak GPU memory (null without memory events); one
                object per trace, an array of them for several

The trace is streamed (any size; gzip CRC-32 and size checked). Elements of traceEvents that are
not JSON objects are skipped with a warning.

exit status: 0 printed, 1 a file is missing, not a regular file, damaged or not a trace (the
others are still printed), 2 bad arguments.
`;

interface Args {
  files: string[];
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
      positionals: { name: 'TRACE (a *.pt.trace.json[.gz] file)', min: 1, max: Number.MAX_SAFE_INTEGER },
    });
    const args: Args = { files: positionals, json: values.json ?? false };
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
  const limit = args.limit ?? 100;
  const several = args.files.length > 1;
  const summaries: unknown[] = [];
  let status: number = EXIT.ok;
  for (const [i, file] of args.files.entries()) {
    let digest;
    try {
      // Streamed: memory stays bounded by names and steps, whatever the trace's size.
      digest = await digestTrace(file);
    } catch (error) {
      io.err(`wgprof summarize: ${errorMessage(error)}\n`);
      status = EXIT.failed;
      continue;
    }
    warnSkipped(digest.read);
    const ka = digest.keyAverages;
    const sortBy = (args.sort ?? (ka.hasGpuTime ? 'self_gpu' : 'self_cpu')) as (typeof KEY_AVERAGES_SORT_KEYS)[number];
    sortKeyAverages(ka, sortBy);
    if (args.json) {
      summaries.push({
        file,
        sortBy,
        selfCpuTotalUs: ka.selfCpuTotalUs,
        selfGpuTotalUs: ka.selfGpuTotalUs,
        kernels: digest.kernelEvents,
        steps: digest.steps.length,
        peakGpuMemoryBytes: digest.peakGpuMemoryBytes,
        skippedEvents: digest.read.skipped,
        rows: ka.rows.slice(0, limit),
      });
    } else {
      if (several) io.out(`${i > 0 ? '\n' : ''}==> ${file} <==\n`);
      io.out(formatKeyAveragesTable(ka, { rowLimit: limit }));
    }
  }
  if (args.json && summaries.length > 0) io.out(JSON.stringify(several ? summaries : summaries[0], null, 2) + '\n');
  return status;
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
