// The package as a user installs it: `npm pack` from a clean copy of the sources (its `prepare` builds
// dist/ there, declarations included, so the working tree's dist/ is never rewritten under running
// tests), then `npm ci` of the tarball into an empty project. Offline where the npm cache allows: the
// project's lock file pins wgprof's dependencies to the versions (and integrity hashes) of this
// repository's package-lock.json, which `npm ci` put in the cache; --prefer-offline reaches the
// registry only for a tarball the cache lacks.

import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

interface PackageJson {
  name: string;
  version: string;
  files: string[];
  bin?: Record<string, string>;
  exports: Record<string, unknown>;
  dependencies: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [key: string]: unknown;
}

export interface PackedPackage {
  /** The temporary folder holding everything below; `cleanup()` removes it. */
  root: string;
  tarball: string;
  /** Paths inside the tarball (relative to the package root), from `npm pack --json`. */
  files: string[];
  /** The project the tarball is installed into (node_modules/wgprof, node_modules/.bin/wgprof). */
  appDir: string;
  /** The installed package: appDir/node_modules/wgprof. */
  installedDir: string;
  cleanup(): void;
}

/**
 * The environment without npm's `npm_*` variables: under `npm test` they describe this repository's
 * run (its prefix, its package), and an npm started for another folder must not read them as config.
 */
export function envWithoutNpm(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !key.toLowerCase().startsWith('npm_')));
}

/** Runs a command; resolves to its stdout, rejects with its exit status and the end of its output. */
export function run(
  command: string,
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv = envWithoutNpm(),
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    execFile(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) fail(new Error(`${command} ${args.join(' ')} (in ${cwd}) failed: ${error.message}\n${stderr.slice(-4000)}${stdout.slice(-2000)}`));
      else done({ stdout, stderr });
    });
  });
}

/**
 * The lock file of a project that depends on the tarball only: the tarball's entry, then every package
 * its dependencies need, copied from this repository's package-lock.json (same nested paths, versions
 * and integrity hashes), found the way Node resolves them (nearest node_modules first).
 */
export function appLockfile(pkg: PackageJson, repoLock: { packages: Record<string, LockEntry> }, tarballSpec: string, integrity: string): unknown {
  const packages: Record<string, unknown> = {
    '': { name: 'app', dependencies: { [pkg.name]: tarballSpec } },
    [`node_modules/${pkg.name}`]: {
      version: pkg.version,
      resolved: tarballSpec,
      integrity,
      dependencies: pkg.dependencies,
      ...(pkg.bin ? { bin: pkg.bin } : {}),
      ...(pkg.peerDependencies ? { peerDependencies: pkg.peerDependencies, peerDependenciesMeta: pkg.peerDependenciesMeta } : {}),
    },
  };
  const locate = (from: string, name: string): string => {
    for (let dir = from; ;) {
      const path = `${dir ? `${dir}/` : ''}node_modules/${name}`;
      if (repoLock.packages[path]) return path;
      if (!dir) throw new Error(`package-lock.json has no ${name} for ${from || 'the root'}: run npm install`);
      const cut = dir.lastIndexOf('/node_modules/');
      dir = cut < 0 ? '' : dir.slice(0, cut);
    }
  };
  const queue = Object.keys(pkg.dependencies).map((name) => locate('', name));
  for (let path = queue.pop(); path !== undefined; path = queue.pop()) {
    if (packages[path]) continue;
    const entry = repoLock.packages[path]!;
    // dev/devOptional/peer describe the repository's install, not the app's.
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...kept } = entry;
    packages[path] = kept;
    for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) queue.push(locate(path, name));
  }
  return { name: 'app', lockfileVersion: 3, requires: true, packages };
}

/** Packs the package from a copy of its sources and installs the tarball into a new empty project. */
export async function packAndInstall(): Promise<PackedPackage> {
  const root = mkdtempSync(join(tmpdir(), 'wgprof-pack-'));
  const cleanup = () => rmSync(root, { recursive: true, force: true });
  try {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as PackageJson;
    // What `prepare` builds from, plus what the package ships (dist/ is built fresh there).
    const sources = new Set([
      'package.json',
      'tsconfig.json',
      'tsconfig.build.json',
      'scripts',
      ...pkg.files.filter((f) => !f.startsWith('!') && f !== 'dist'),
    ]);
    const copy = join(root, 'source');
    for (const path of sources) if (existsSync(join(REPO_ROOT, path))) cpSync(join(REPO_ROOT, path), join(copy, path), { recursive: true });
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(copy, 'node_modules'), 'dir');
    const packed = await run('npm', ['pack', '--json', '--pack-destination', root], copy);
    const [info] = JSON.parse(packed.stdout) as { filename: string; integrity: string; files: { path: string }[] }[];
    if (!info) throw new Error(`npm pack printed no package: ${packed.stdout.slice(0, 500)}`);
    const tarball = join(root, info.filename);

    const appDir = join(root, 'app');
    mkdirSync(appDir);
    const spec = `file:../${info.filename}`;
    writeFileSync(
      join(appDir, 'package.json'),
      `${JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { [pkg.name]: spec } }, null, 2)}\n`,
    );
    const repoLock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
    writeFileSync(join(appDir, 'package-lock.json'), `${JSON.stringify(appLockfile(pkg, repoLock, spec, info.integrity), null, 2)}\n`);
    await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], appDir);
    return { root, tarball, files: info.files.map((f) => f.path), appDir, installedDir: join(appDir, 'node_modules', pkg.name), cleanup };
  } catch (error) {
    cleanup();
    throw error;
  }
}
