#!/usr/bin/env node
// Runs a TypeScript entry point from the sources: node scripts/run-ts.mjs FILE.ts [args...]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const [file, ...args] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node scripts/run-ts.mjs FILE.ts [args...]\n');
  process.exit(2);
}
const register = fileURLToPath(new URL('./register.mjs', import.meta.url));
const result = spawnSync(process.execPath, ['--liftoff-only', '--import', register, file, ...args], { stdio: 'inherit' });
process.exit(result.status ?? 1);
