// `wgprof summarize TRACE`: the key-averages table (torch's key_averages().table()) of a trace file
// wgprof (or torch) wrote, .json or .json.gz.

import { errorMessage } from '../util/errors.js';
import type { Command } from './main.js';

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

function parseArgs(argv: string[]): Args | string {
  let file: string | undefined;
  let sort: string | undefined;
  let limit: number | undefined;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    if (flag === '--json') json = true;
    else if (flag === '--sort') {
      sort = value();
      if (sort === undefined) return '--sort needs a key';
    } else if (flag === '--limit') {
      const text = value();
      const n = text !== undefined && /^\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(n) || n < 1) return `--limit is ${JSON.stringify(text ?? '')}; expected a positive integer`;
      limit = n;
    } else if (arg.startsWith('-')) return `unknown option ${JSON.stringify(arg)}`;
    else if (file === undefined) file = arg;
    else return `unexpected argument ${JSON.stringify(arg)} (one TRACE file at a time)`;
  }
  if (file === undefined) return 'missing TRACE (a *.pt.trace.json[.gz] file)';
  return { file, json, ...(sort !== undefined ? { sort } : {}), ...(limit !== undefined ? { limit } : {}) };
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
    return 2;
  }
  const { KEY_AVERAGES_SORT_KEYS, formatKeyAveragesTable, keyAverages, sortKeyAverages } = await import('../report/key-averages.js');
  if (args.sort !== undefined && !(KEY_AVERAGES_SORT_KEYS as readonly string[]).includes(args.sort)) {
    io.err(`wgprof summarize: --sort is ${JSON.stringify(args.sort)}; expected one of ${KEY_AVERAGES_SORT_KEYS.join(', ')}\n`);
    return 2;
  }
  const { digestTrace } = await import('../report/digest.js');
  const { warnSkipped } = await import('../report/parse.js');
  let digest;
  try {
    // Streamed: memory stays bounded by names and steps, whatever the trace's size.
    digest = await digestTrace(args.file);
  } catch (error) {
    io.err(`wgprof summarize: ${errorMessage(error)}\n`);
    return 1;
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
  return 0;
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
