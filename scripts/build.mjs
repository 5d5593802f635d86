#!/usr/bin/env node
// Builds dist/ from the sources (runs on `npm ci` through `prepare`, and from scripts/bootstrap.sh when stale):
//   dist/index.js                    the package (Node + bundlers), dependencies left external
//   dist/cli.js                      the `wgprof` command
//   dist/ort.js, dist/auto.js, dist/playwright.js   the subpath exports wgprof/ort, wgprof/auto, wgprof/playwright
//   dist/browser/wgprof.js           one self-contained ES module for pages (examples/, test/browser/)
//   dist/browser/wgprof-ort.js       wgprof/ort as one ES module for pages (onnxruntime-web stays the page's)
//   dist/browser/wgprof-auto.js      wgprof/auto as a classic script: page.addInitScript({ path }) or <script src>
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
  entryPoints: { index: 'src/index.ts', cli: 'src/cli/main.ts', ort: 'src/ort/index.ts', auto: 'src/auto/index.ts', playwright: 'src/playwright/index.ts' },
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
  entryPoints: { wgprof: 'src/browser.ts', 'wgprof-ort': 'src/ort/index.ts' },
  outdir: 'dist/browser',
  // Node-only paths are behind runtime checks and dynamic imports; they never load in a page.
  external: ['webgpu', 'node:*', 'onnxruntime-web', 'onnxruntime-web/*'],
});
// The init script runs before any module of the page: a classic script, installing itself when loaded.
await build({
  ...common,
  platform: 'browser',
  target: 'chrome120',
  format: 'iife',
  entryPoints: { 'wgprof-auto': 'src/auto/index.ts' },
  outdir: 'dist/browser',
  external: ['webgpu', 'node:*'],
});
if (withTypes) {
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
}
mkdirSync(join(root, 'dist'), { recursive: true });
writeFileSync(join(root, 'dist/.stamp'), String(Date.now()));
process.stderr.write(`wgprof: built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
if (!existsSync(join(root, 'dist/cli.js'))) process.exit(1);
