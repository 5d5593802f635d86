#!/usr/bin/env node
// Builds dist/ from the sources (runs on `npm ci` through `prepare`, and from scripts/bootstrap.sh when stale):
//   dist/index.js                    the package (Node + bundlers), dependencies left external
//   dist/cli.js                      the `wgprof` command
//   dist/browser/wgprof.js           one self-contained ES module for pages (examples/, test/browser/)
//   dist/types/                      declarations for the `exports` map (tsc, skipped with --no-types)
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const withTypes = !process.argv.includes('--no-types');
const common = { bundle: true, format: 'esm', sourcemap: true, loader: { '.wgsl': 'text' }, logLevel: 'warning', absWorkingDir: root };

const started = Date.now();
await build({
  ...common,
  platform: 'node',
  target: 'node20',
  entryPoints: { index: 'src/index.ts', cli: 'src/cli/main.ts' },
  outdir: 'dist',
  packages: 'external',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
});
chmodSync(join(root, 'dist/cli.js'), 0o755);
await build({
  ...common,
  platform: 'browser',
  target: 'chrome120',
  entryPoints: { wgprof: 'src/browser.ts' },
  outdir: 'dist/browser',
  // Node-only paths are behind runtime checks and dynamic imports; they never load in a page.
  external: ['webgpu', 'node:*', 'onnxruntime-web', 'onnxruntime-web/*'],
});
if (withTypes) {
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
}
mkdirSync(join(root, 'dist'), { recursive: true });
writeFileSync(join(root, 'dist/.stamp'), String(Date.now()));
process.stderr.write(`wgprof: built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
if (!existsSync(join(root, 'dist/cli.js'))) process.exit(1);
