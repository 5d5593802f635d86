// package.json is what npm users and bundlers see: module type, an exports map whose conditions are in
// the order resolvers read them, side effects only where wgprof/auto installs itself, optional peers,
// exact versions the lock file installs, and a version the code reports identically. (What the packed
// package holds and how it installs: test/browser/package.spec.ts.)

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WGPROF_VERSION } from '../../src/version.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

interface PackageJson {
  name: string;
  version: string;
  type?: string;
  sideEffects?: unknown;
  bin?: Record<string, string>;
  exports?: Record<string, string | Record<string, string>>;
  engines?: Record<string, string>;
  files?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  optionalDependencies?: Record<string, string>;
}

const text = readFileSync(`${root}package.json`, 'utf8');
const pkg = JSON.parse(text) as PackageJson;
/** An exact version: no ^, ~, ranges, tags, or URLs. */
const EXACT_VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
const conditionEntries = Object.entries(pkg.exports ?? {}).filter(([key]) => key !== './package.json') as [string, Record<string, string>][];

describe('package.json', () => {
  test('is written as npm writes it: no duplicate keys (JSON.parse would keep only the last one silently)', () => {
    assert.equal(text, `${JSON.stringify(pkg, null, 2)}\n`);
  });

  test('is an ES module package for Node >= 20.16 with the wgprof bin', () => {
    assert.equal(pkg.name, 'wgprof');
    assert.equal(pkg.type, 'module');
    assert.equal(pkg.engines?.['node'], '>=20.16');
    assert.equal(pkg.bin?.['wgprof'], 'dist/cli.js');
    assert.match(readFileSync(`${root}src/cli/main.ts`, 'utf8'), /^#!\/usr\/bin\/env node\n/, 'the CLI entry keeps its shebang');
  });

  test('every export lists "types" first and "default" last, any "browser" target between them, all under ./dist/', () => {
    assert.ok(
      conditionEntries.some(([key]) => key === '.'),
      'has a "." export',
    );
    assert.equal(pkg.exports?.['./package.json'], './package.json');
    for (const [key, conditions] of conditionEntries) {
      assert.equal(typeof conditions, 'object', `exports["${key}"] is a conditions object`);
      const names = Object.keys(conditions);
      // Resolvers take the first condition that matches: "types" after "default" is never read, nor is anything after "default".
      assert.equal(names[0], 'types', `exports["${key}"]: "types" first (got ${names.join(', ')})`);
      assert.equal(names.at(-1), 'default', `exports["${key}"]: "default" last (got ${names.join(', ')})`);
      assert.deepEqual(
        names.slice(1, -1).filter((n) => n !== 'browser'),
        [],
        `exports["${key}"]: only "browser" between (got ${names.join(', ')})`,
      );
      assert.match(conditions['types']!, /^\.\/dist\/types\/.+\.d\.ts$/, `exports["${key}"].types`);
      assert.match(conditions['default']!, /^\.\/dist\/[^/]+\.js$/, `exports["${key}"].default is a Node build at the top of dist/`);
      if (conditions['browser'] !== undefined) assert.match(conditions['browser'], /^\.\/dist\/browser\/[^/]+\.js$/, `exports["${key}"].browser`);
      const source = conditions['types']!.replace(/^\.\/dist\/types\//, '').replace(/\.d\.ts$/, '.ts');
      assert.ok(existsSync(`${root}${source}`), `exports["${key}"] is built from ${source}, which exists`);
    }
  });

  test('every entry a page can import has a browser build; the Playwright fixture (Node side) has none', () => {
    const browserless = conditionEntries.filter(([, c]) => c['browser'] === undefined).map(([key]) => key);
    assert.deepEqual(browserless, ['./playwright']);
  });

  test('only wgprof/auto has side effects: sideEffects lists exactly its builds', () => {
    const auto = pkg.exports?.['./auto'] as Record<string, string> | undefined;
    assert.ok(auto, 'has a ./auto export');
    // The classic script (page.addInitScript, <script src>) is not in the exports map but installs itself too.
    const expected = [auto['default'], auto['browser'], './dist/browser/wgprof-auto.js'].sort();
    assert.deepEqual([...(pkg.sideEffects as string[])].sort(), expected);
  });

  test('ships dist/ without the test bundles built into dist/test/', () => {
    assert.ok(pkg.files?.includes('dist'));
    assert.ok(pkg.files?.includes('!dist/test'));
  });

  test('peer dependencies are optional and tested: each is marked optional and installed as a devDependency at its version', () => {
    const peers = Object.entries(pkg.peerDependencies ?? {});
    assert.ok(peers.length > 0);
    for (const [name, version] of peers) {
      assert.equal(pkg.peerDependenciesMeta?.[name]?.optional, true, `${name} is an optional peer: users who never use it must not have to install it`);
      assert.equal(pkg.devDependencies?.[name], version, `${name}@${version} is what the tests run against`);
    }
    assert.deepEqual(Object.keys(pkg.peerDependenciesMeta ?? {}).sort(), Object.keys(pkg.peerDependencies ?? {}).sort());
  });

  test('pins every dependency to an exact version', () => {
    for (const group of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'] as const) {
      for (const [name, spec] of Object.entries(pkg[group] ?? {})) {
        assert.match(spec, EXACT_VERSION, `${group}["${name}"] is "${spec}": pin it to an exact version (no ^ or ~)`);
      }
    }
  });

  test('package-lock.json agrees with package.json (npm ci would refuse otherwise)', () => {
    const lock = JSON.parse(readFileSync(`${root}package-lock.json`, 'utf8')) as {
      version: string;
      packages: Record<
        string,
        { version?: string; dependencies?: Record<string, string>; devDependencies?: Record<string, string>; peerDependencies?: Record<string, string> }
      >;
    };
    const rootEntry = lock.packages[''];
    assert.ok(rootEntry);
    assert.equal(lock.version, pkg.version);
    assert.deepEqual(rootEntry.dependencies ?? {}, pkg.dependencies ?? {});
    assert.deepEqual(rootEntry.devDependencies ?? {}, pkg.devDependencies ?? {});
    assert.deepEqual(rootEntry.peerDependencies ?? {}, pkg.peerDependencies ?? {});
    for (const [name, spec] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
      assert.equal(lock.packages[`node_modules/${name}`]?.version, spec, `the lock file installs ${name}@${spec}`);
    }
  });

  test('src/version.ts equals the package version', () => {
    assert.match(pkg.version, EXACT_VERSION);
    assert.equal(WGPROF_VERSION, pkg.version);
  });
});
