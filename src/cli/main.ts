#!/usr/bin/env node
// The `wgprof` command. Subcommands load lazily so `--help` and `doctor` start fast.

import { errorMessage } from '../util/errors.js';
import { EXIT, type Command } from './command.js';

export type { Command } from './command.js';

/**
 * The commands. A two-word command (`bench serve`, as vLLM's `vllm bench serve`) is one entry whose
 * name holds the space; its file is the words joined by '-' (src/cli/bench-serve.ts).
 */
const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  doctor: { summary: 'check the WebGPU runtime: adapter, features, timestamp mode', load: async () => (await import('./doctor.js')).command },
  config: { summary: 'validate a --profiler-config and print it normalized with its hash', load: async () => (await import('./config.js')).command },
  run: { summary: 'run the inference engine (optionally profiled)', load: async () => (await import('./run.js')).command },
  summarize: { summary: 'print the key-averages table of a trace wgprof wrote', load: async () => (await import('./summarize.js')).command },
  serve: {
    summary: 'serve the engine over HTTP: OpenAI completions, /start_profile, /stop_profile, /metrics',
    load: async () => (await import('./serve.js')).command,
  },
  'bench serve': {
    summary: 'load-test a running server (rate or concurrency), optionally profiled',
    load: async () => (await import('./bench-serve.js')).command,
  },
  report: { summary: 'write one self-contained HTML report (charts, tables) of one or more traces', load: async () => (await import('./report.js')).command },
  compare: { summary: 'compare two traces per kernel / op / step; exit 1 on a regression', load: async () => (await import('./compare.js')).command },
  merge: {
    summary: 'merge traces (workers, shards) into one, ids and pids remapped, aligned on wall clock',
    load: async () => (await import('./merge.js')).command,
  },
};

/** The command `argv` names (two words first) and the arguments after its name. */
export function findCommand(argv: readonly string[]): { name: string; rest: string[] } | undefined {
  const two = argv.length >= 2 ? `${argv[0]} ${argv[1]}` : undefined;
  if (two !== undefined && commands[two]) return { name: two, rest: argv.slice(2) };
  const one = argv[0];
  if (one !== undefined && commands[one]) return { name: one, rest: argv.slice(1) };
  return undefined;
}

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
    "Run `wgprof <command> --help` for a command's options.",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? EXIT.ok : EXIT.usage;
  }
  if (name === '--version' || name === '-V') {
    const { WGPROF_VERSION } = await import('../version.js');
    process.stdout.write(`${WGPROF_VERSION}\n`);
    return EXIT.ok;
  }
  const found = findCommand(argv);
  if (!found) {
    const group = Object.keys(commands).filter((c) => c.startsWith(`${name} `));
    const hint =
      group.length > 0 ? `"${name}" needs a subcommand: ${group.map((c) => `wgprof ${c}`).join(', ')}` : `unknown command ${JSON.stringify(name.slice(0, 80))}`;
    process.stderr.write(`wgprof: ${hint}\n\n${usage()}\n`);
    return EXIT.usage;
  }
  const { rest } = found;
  const command = await commands[found.name]!.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.help.trimEnd() + '\n');
    return EXIT.ok;
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
      process.exitCode = EXIT.failed;
    },
  );
}
