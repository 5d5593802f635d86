// The `wgprof` command's top level: help lists every command, unknown commands are usage errors,
// --version prints the package version. Run from the sources as `node scripts/run-ts.mjs src/cli/main.ts`.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

function wgprof(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const child = spawnSync(process.execPath, [`${root}scripts/run-ts.mjs`, `${root}src/cli/main.ts`, ...args], {
    cwd: root,
    encoding: 'utf8',
    // A safety net against a hang (itself a failure), not a speed assertion.
    timeout: 60_000,
  });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

/**
 * Commands as files: every src/cli/<name>.ts that exports `command` must be reachable as `wgprof <name>`;
 * a two-word command's file joins its words with '-' (`wgprof bench serve` is src/cli/bench-serve.ts).
 */
function commandFiles(): string[] {
  return readdirSync(`${root}src/cli`)
    .filter((file) => file.endsWith('.ts') && file !== 'main.ts')
    .filter((file) => /export\s+const\s+command\b/.test(readFileSync(`${root}src/cli/${file}`, 'utf8')))
    .map((file) => file.replace(/\.ts$/, ''))
    .sort();
}

/** The command names `wgprof --help` lists under "commands:". */
function listedCommands(help: string): string[] {
  const section = help.split(/^commands:$/m)[1] ?? '';
  const names: string[] = [];
  for (const line of section.split('\n')) {
    const match = /^ {2}([a-z][a-z0-9-]*(?: [a-z][a-z0-9-]*)?) {2,}\S/.exec(line);
    if (match?.[1]) names.push(match[1]);
    else if (names.length > 0 && line.trim() === '') break;
  }
  return names.sort();
}

/** The file of a listed command: `bench serve` → bench-serve. */
const fileOf = (name: string): string => name.replace(' ', '-');

describe('wgprof CLI', () => {
  const help = wgprof('--help');

  test('--help exits 0 and lists every command with a summary', () => {
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^usage: wgprof <command>/);
    const listed = listedCommands(help.stdout);
    assert.ok(listed.includes('doctor'), `listed: ${listed.join(', ')}`);
    for (const name of commandFiles())
      assert.ok(listed.map(fileOf).includes(name), `src/cli/${name}.ts exports a command that --help does not list (listed: ${listed.join(', ')})`);
    for (const name of listed) assert.ok(commandFiles().includes(fileOf(name)), `--help lists "${name}" but src/cli/${fileOf(name)}.ts has no command`);
    assert.deepEqual(wgprof('-h').stdout, help.stdout);
    assert.deepEqual(wgprof('help').stdout, help.stdout);
  });

  test('every listed command answers --help with exit 0', () => {
    for (const name of listedCommands(help.stdout)) {
      const run = wgprof(...name.split(' '), '--help');
      assert.equal(run.status, 0, `wgprof ${name} --help: exit ${run.status}\n${run.stderr}`);
      assert.ok(run.stdout.trim().length > 0, `wgprof ${name} --help prints help`);
    }
  });

  test('an unknown command exits 2, names it, and shows the usage on stderr', () => {
    const run = wgprof('frobnicate');
    assert.equal(run.status, 2);
    assert.match(run.stderr, /unknown command "frobnicate"/);
    assert.match(run.stderr, /usage: wgprof <command>/);
    assert.equal(run.stdout, '');
  });

  test('a command group without its subcommand exits 2 and names the subcommands', () => {
    const run = wgprof('bench');
    assert.equal(run.status, 2);
    assert.match(run.stderr, /"bench" needs a subcommand: wgprof bench serve/);
  });

  test('no command at all is a usage error (exit 2) that still prints the usage', () => {
    const run = wgprof();
    assert.equal(run.status, 2);
    assert.match(run.stdout, /usage: wgprof <command>/);
  });

  test('--version and -V print the package version', () => {
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const run = wgprof(flag);
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout, `${pkg.version}\n`);
    }
  });
});
