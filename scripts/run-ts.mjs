#!/usr/bin/env node
// Runs a TypeScript entry point from the sources: node scripts/run-ts.mjs FILE.ts [args...]
// The child runs in its own process group and gets each SIGINT/SIGTERM/SIGHUP this process gets, once
// (a terminal's Ctrl-C reaches only this group), so `wgprof run`'s Ctrl-C handling works from here too.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const [file, ...args] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node scripts/run-ts.mjs FILE.ts [args...]\n');
  process.exit(2);
}
const register = fileURLToPath(new URL('./register.mjs', import.meta.url));
const child = spawn(process.execPath, ['--liftoff-only', '--import', register, file, ...args], { stdio: 'inherit', detached: true });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('error', (error) => {
  process.stderr.write(`run-ts: ${error.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
