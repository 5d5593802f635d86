// What every `wgprof <command>` module exports. Kept apart from main.ts, which imports the commands.

import { WgprofError } from '../util/errors.js';

export interface Command {
  /** One line for `wgprof --help`. */
  summary: string;
  /** Full help text for `wgprof <command> --help`. */
  help: string;
  /** Runs the command; resolves to the exit code: 0 ok, 1 the work failed, 2 bad usage (EXIT). */
  main(argv: string[]): Promise<number>;
}

/** The exit codes of every command. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A command-line mistake: printed as `wgprof <command>: <message>`, exit status 2. */
export class UsageError extends WgprofError {
  constructor(message: string) {
    super('USAGE', message);
    this.name = 'UsageError';
    // The code adds nothing for a command-line mistake.
    this.message = message;
  }
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
