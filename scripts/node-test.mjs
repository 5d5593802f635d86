#!/usr/bin/env node
// Runs node:test over the given *.test.ts files and every *.test.ts under the given folders, sources loaded through scripts/register.mjs.
// The spec reporter writes to the terminal; `--tap=FILE` also writes node:test's TAP report there (scripts/test.sh counts from it).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findTests(dir) {
  if (statSync(dir).isFile()) return [dir];
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const tap = process.argv.find((arg) => arg.startsWith('--tap='))?.slice('--tap='.length);
const dirs = process.argv.slice(2).filter((arg) => !arg.startsWith('--tap='));
const files = dirs.flatMap(findTests);
if (files.length === 0) {
  process.stderr.write(`no *.test.ts files under ${dirs.join(', ')}\n`);
  process.exit(1);
}
const register = fileURLToPath(new URL('./register.mjs', import.meta.url));
// GPU tests share one SwiftShader (2 cores): run files one at a time there.
const concurrency = dirs.some((d) => d.includes('gpu')) ? '1' : String(Math.max(1, (await import('node:os')).cpus().length));
const result = spawnSync(
  process.execPath,
  [
    '--liftoff-only',
    '--import',
    register,
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    ...(tap ? ['--test-reporter=tap', `--test-reporter-destination=${tap}`] : []),
    ...files,
  ],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
