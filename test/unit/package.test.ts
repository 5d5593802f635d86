// package.json is what npm users and bundlers see: module type, exports with types first, the bin,
// pinned versions, no side effects, and a version the code reports identically.

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
  optionalDependencies?: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as PackageJson;
/** An exact version: no ^, ~, ranges, tags, or URLs. */
const EXACT_VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

describe('package.json', () => {
  test('is an ES module package whose only side effect is wgprof/auto', () => {
    assert.equal(pkg.name, 'wgprof');
    assert.equal(pkg.type, 'module');
    // Only wgprof/auto has side effects (importing it installs the init script); everything else is pure.
    assert.deepEqual(pkg.sideEffects, ['./dist/auto.js', './dist/browser/wgprof-auto.js', './dist/browser/wgprof-auto-module.js']);
    assert.match(pkg.engines?.['node'] ?? '', />=\s*20/);
  });

  test('every export entry lists "types" first, then a default under ./dist/, and its source exists', () => {
    const exportsMap = pkg.exports ?? {};
    assert.ok('.' in exportsMap, 'has a "." export');
    const entries = Object.entries(exportsMap).filter(([key]) => key !== './package.json');
    assert.ok(entries.length >= 1);
    for (const [key, value] of entries) {
      assert.equal(typeof value, 'object', `exports["${key}"] is a conditions object`);
      const conditions = value as Record<string, string>;
      const names = Object.keys(conditions);
      // TypeScript takes the first matching condition: "types" after "default"/"import" is never seen.
      assert.equal(names[0], 'types', `exports["${key}"]: "types" must come first (got ${names.join(', ')})`);
      assert.match(conditions['types'] ?? '', /^\.\/dist\/types\/.+\.d\.ts$/, `exports["${key}"].types`);
      const runtime = conditions['default'] ?? conditions['import'];
      assert.match(runtime ?? '', /^\.\/dist\/.+\.js$/, `exports["${key}"] has a default/import under ./dist/`);
      assert.equal(names.at(-1), conditions['default'] !== undefined ? 'default' : names.at(-1), `exports["${key}"]: "default" comes last`);
      const source = (conditions['types'] ?? '').replace(/^\.\/dist\/types\//, '').replace(/\.d\.ts$/, '.ts');
      assert.ok(existsSync(`${root}${source}`), `exports["${key}"] is built from ${source}, which exists`);
    }
    assert.equal(exportsMap['./package.json'], './package.json');
  });

  test('has the wgprof bin, built from src/cli/main.ts', () => {
    assert.equal(pkg.bin?.['wgprof']?.replace(/^\.\//, ''), 'dist/cli.js');
    assert.ok(existsSync(`${root}src/cli/main.ts`));
    assert.match(readFileSync(`${root}src/cli/main.ts`, 'utf8'), /^#!\/usr\/bin\/env node\n/, 'the CLI entry keeps its shebang');
  });

  test('pins every dependency to an exact version', () => {
    const groups = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'] as const;
    let count = 0;
    for (const group of groups) {
      for (const [name, spec] of Object.entries(pkg[group] ?? {})) {
        assert.match(spec, EXACT_VERSION, `${group}["${name}"] is "${spec}": pin it to an exact version (no ^ or ~)`);
        count++;
      }
    }
    assert.ok(count > 0);
    assert.equal(pkg.dependencies?.['webgpu'], '0.6.2');
  });

  test('the version pattern rejects ranges (the check above can fail)', () => {
    for (const bad of ['^1.2.3', '~1.2.3', '>=1.0.0', '1.x', '*', 'latest', '1.2', 'github:a/b']) assert.doesNotMatch(bad, EXACT_VERSION, bad);
    for (const good of ['1.2.3', '0.0.1-rc.1', '4.6.7']) assert.match(good, EXACT_VERSION, good);
  });

  test('package-lock.json agrees with package.json (npm ci would refuse otherwise)', () => {
    const lock = JSON.parse(readFileSync(`${root}package-lock.json`, 'utf8')) as {
      version: string;
      packages: Record<string, { version?: string; dependencies?: Record<string, string>; devDependencies?: Record<string, string> }>;
    };
    const rootEntry = lock.packages[''];
    assert.ok(rootEntry);
    assert.equal(lock.version, pkg.version);
    assert.deepEqual(rootEntry.dependencies ?? {}, pkg.dependencies ?? {});
    assert.deepEqual(rootEntry.devDependencies ?? {}, pkg.devDependencies ?? {});
    for (const [name, spec] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
      assert.equal(lock.packages[`node_modules/${name}`]?.version, spec, `the lock file installs ${name}@${spec}`);
    }
  });

  test('src/version.ts equals the package version', () => {
    assert.match(pkg.version, EXACT_VERSION);
    assert.equal(WGPROF_VERSION, pkg.version);
  });
});
