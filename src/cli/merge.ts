// `wgprof merge A B ... -o OUT`: one trace from several (workers, shards, frontend + worker), ids and
// pids remapped so nothing collides, aligned on wall-clock time; still a valid trace.

import { errorMessage } from '../util/errors.js';
import { processIo } from './command.js';
import type { Command, CommandIo } from './command.js';

const HELP = `usage: wgprof merge TRACE TRACE... -o OUT [--json]

Merges traces (*.pt.trace.json[.gz]: workers, shards, a frontend and its worker) into one that
Perfetto, HTA and TensorBoard open as one timeline. Ids (External id, correlation, flow ids, Python
ids) are shifted so nothing collides, host pids shared by two inputs are renumbered, each input's
devices get their own indices (deviceProperties concatenated), and times are aligned on wall clock
(each input's baseTimeNanoseconds onto the earliest). Every event is kept; the inputs' "Record Window
End" events become one at the end. The top-level wgprof.merged lists what each input became.

options:
  -o, --output OUT   the merged trace; gzipped when it ends in .gz (written to a temp file, then renamed)
  --json             print what went where as JSON

exit status: 0 written, 1 an input could not be read or OUT could not be written, 2 bad arguments.
`;

interface Args {
  inputs: string[];
  output: string;
  json: boolean;
}

/** The whole argument parsing of `merge`, in one place. */
export function parseMergeArgs(argv: string[]): Args | string {
  const inputs: string[] = [];
  let output: string | undefined;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (flag === '-o' || flag === '--output') {
      output = inline ?? argv[++i];
      if (output === undefined || output === '') return `${flag} needs a file name`;
    } else if (flag === '--json') json = true;
    else if (arg.startsWith('-')) return `unknown option ${JSON.stringify(arg)}`;
    else inputs.push(arg);
  }
  if (output === undefined) return 'missing -o OUT (the merged trace to write)';
  if (inputs.length < 2) return `expected at least two traces to merge; got ${inputs.length}`;
  if (inputs.includes(output)) return `-o ${output} is also an input; write the merged trace elsewhere`;
  return { inputs, output, json };
}

export async function runMerge(argv: string[], io: CommandIo): Promise<number> {
  const args = parseMergeArgs(argv);
  if (typeof args === 'string') {
    io.err(`wgprof merge: ${args}\n\n${HELP}`);
    return 2;
  }
  const { mergeTraces } = await import('../report/merge.js');
  let result;
  try {
    result = await mergeTraces(args.inputs, args.output);
  } catch (error) {
    io.err(`wgprof merge: ${errorMessage(error)}\n`);
    return 1;
  }
  if (args.json) io.out(JSON.stringify(result, null, 2) + '\n');
  else {
    io.out(`wrote ${result.path}: ${result.events} events from ${result.inputs.length} traces\n`);
    for (const i of result.inputs)
      io.out(
        `  ${i.path}: ${i.events} events, ids +${i.idOffset}, times +${(i.shiftNs / 1e9).toFixed(3)} s, pids ${JSON.stringify(i.pids)}, devices ` +
          `${JSON.stringify(i.devices)}\n`,
      );
  }
  return 0;
}

export const command: Command = {
  summary: 'merge traces (workers, shards) into one, ids and pids remapped, aligned on wall clock',
  help: HELP,
  main: (argv) => runMerge(argv, processIo),
};
