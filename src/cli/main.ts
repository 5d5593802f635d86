#!/usr/bin/env node
// The `wgprof` command. Subcommands load lazily so `--help` and `doctor` start fast.

import { errorMessage } from '../util/errors.js';

export interface Command {
  /** One line for `wgprof --help`. */
  summary: string;
  /** Full help text for `wgprof <command> --help`. */
  help: string;
  /** Runs the command; resolves to the exit code. */
  main(argv: string[]): Promise<number>;
}

/** Where a command writes: the process's stdout/stderr from the CLI, collectors in tests. */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: CommandIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  doctor: { summary: 'check the WebGPU runtime: adapter, features, timestamp mode', load: async () => (await import('./doctor.js')).command },
  config: { summary: 'validate a --profiler-config and print it normalized with its hash', load: async () => (await import('./config.js')).command },
  run: { summary: 'run the inference engine (optionally profiled)', load: async () => (await import('./run.js')).command },
  summarize: { summary: 'print the key-averages table of a trace wgprof wrote', load: async () => (await import('./summarize.js')).command },
  report: { summary: 'write one self-contained HTML report (charts, tables) of one or more traces', load: async () => (await import('./report.js')).command },
  compare: { summary: 'compare two traces per kernel / op / step; exit 1 on a regression', load: async () => (await import('./compare.js')).command },
  merge: { summary: 'merge traces (workers, shards) into one, ids and pids remapped, aligned on wall clock', load: async () => (await import('./merge.js')).command },
};

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'usage: wgprof <command> [options]',
    '',
    'WebGPU inference profiler with vLLM ProfilerConfig semantics and PyTorch (Kineto) traces.',
    '',
    'commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `wgprof <command> --help` for a command\'s options.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    const { WGPROF_VERSION } = await import('../version.js');
    process.stdout.write(`${WGPROF_VERSION}\n`);
    return 0;
  }
  const entry = commands[name];
  if (!entry) {
    process.stderr.write(`wgprof: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help.trimEnd() + '\n');
    return 0;
  }
  return command.main(rest);
}

const isEntry = typeof process !== 'undefined' && process.argv[1] !== undefined && /(?:^|[\\/])(?:cli\.js|main\.ts|wgprof)$/.test(process.argv[1]);
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`wgprof: ${errorMessage(error)}\n`);
      process.exitCode = 1;
    },
  );
}
