// `wgprof compare BASE NEW`: time and calls per kernel / op / step of two traces side by side, with
// the change and a noise estimate; exit 1 when a row regressed past the threshold beyond noise (a CI
// gate after a benchmark).

import { errorMessage } from '../util/errors.js';
import type { CompareKind } from '../report/compare.js';
import { processIo } from './command.js';
import type { Command, CommandIo } from './command.js';

const HELP = `usage: wgprof compare BASE NEW [--threshold 5%] [--rows kernel,op,step] [--limit N] [--json]

Compares two traces (*.pt.trace.json[.gz]) row by row: each kernel (GPU time), op (CPU time) and the
steps (wall time, GPU time per step), as mean time per step with the calls, the change, and the
noise: twice the standard error of the difference of the per-step means. A row regresses when it
grew by more than the threshold and by more than the noise (with a single step there is no spread:
the threshold alone decides).

options:
  --threshold P   growth that counts as a regression, in percent: 5%, 5 or 12.5% (default 5%)
  --rows KINDS    which rows to compare and gate on: any of kernel, op, step, comma-separated
                  (default all)
  --limit N       print at most N rows (default 100; the verdict covers every row)
  --json          print the comparison as JSON

exit status: 0 no regression, 1 a row regressed (or a trace could not be read), 2 bad arguments.
`;

interface Args {
  base: string;
  next: string;
  thresholdPct: number;
  kinds: CompareKind[];
  limit: number;
  json: boolean;
}

/** The whole argument parsing of `compare`, in one place. */
export function parseCompareArgs(argv: string[]): Args | string {
  const files: string[] = [];
  let thresholdPct = 5;
  let kinds: CompareKind[] = ['kernel', 'op', 'step'];
  let limit = 100;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    if (flag === '--json') json = true;
    else if (flag === '--threshold') {
      const text = value();
      const m = text !== undefined ? /^(\d+(?:\.\d+)?)%?$/.exec(text) : null;
      if (!m || !(Number(m[1]) >= 0)) return `--threshold is ${JSON.stringify(text ?? '')}; expected a percentage such as 5% or 12.5`;
      thresholdPct = Number(m[1]);
    } else if (flag === '--rows') {
      const text = value() ?? '';
      const list = text.split(',').filter((x) => x !== '');
      const bad = list.filter((x) => x !== 'kernel' && x !== 'op' && x !== 'step');
      if (list.length === 0 || bad.length > 0) return `--rows is ${JSON.stringify(text)}; expected kernel, op and/or step, comma-separated`;
      kinds = list as CompareKind[];
    } else if (flag === '--limit') {
      const text = value();
      const n = text !== undefined && /^\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(n) || n < 1) return `--limit is ${JSON.stringify(text ?? '')}; expected a positive integer`;
      limit = n;
    } else if (arg.startsWith('-')) return `unknown option ${JSON.stringify(arg)}`;
    else files.push(arg);
  }
  if (files.length !== 2) return `expected two traces, BASE and NEW; got ${files.length}`;
  return { base: files[0]!, next: files[1]!, thresholdPct, kinds, limit, json };
}

/** `wgprof compare` with its output streams given; resolves to the exit status. */
export async function runCompare(argv: string[], io: CommandIo): Promise<number> {
  const args = parseCompareArgs(argv);
  if (typeof args === 'string') {
    io.err(`wgprof compare: ${args}\n\n${HELP}`);
    return 2;
  }
  const { digestTrace } = await import('../report/digest.js');
  const { compareDigests, formatCompare } = await import('../report/compare.js');
  const { warnSkipped } = await import('../report/parse.js');
  let result;
  try {
    const base = await digestTrace(args.base);
    const next = await digestTrace(args.next);
    warnSkipped(base.read);
    warnSkipped(next.read);
    result = compareDigests(base, next, { thresholdPct: args.thresholdPct, kinds: args.kinds });
  } catch (error) {
    io.err(`wgprof compare: ${errorMessage(error)}\n`);
    return 1;
  }
  if (args.json) io.out(JSON.stringify({ ...result, rows: result.rows.slice(0, args.limit) }, null, 2) + '\n');
  else io.out(formatCompare(result, args.limit));
  if (result.regressions.length > 0) {
    io.err(
      `wgprof compare: ${result.regressions.length} row(s) regressed past ${args.thresholdPct}% beyond noise: ` +
        `${result.regressions.map((r) => `${r.name} (${r.kind}, +${r.deltaPct!.toFixed(1)}%)`).join(', ')}\n`,
    );
    return 1;
  }
  return 0;
}

export const command: Command = {
  summary: 'compare two traces per kernel / op / step; exit 1 on a regression',
  help: HELP,
  main: (argv) => runCompare(argv, processIo),
};
