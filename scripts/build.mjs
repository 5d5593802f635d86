#!/usr/bin/env node
// Builds dist/ from the sources (runs on `npm ci` and `npm pack` through `prepare`, and from
// scripts/bootstrap.sh when stale):
//   dist/index.js, dist/engine.js, dist/ort.js, dist/auto.js, dist/playwright.js
//                                    the package's entries for Node: wgprof, wgprof/engine, wgprof/ort,
//                                    wgprof/auto, wgprof/playwright (dependencies external)
//   dist/cli.js                      the `wgprof` command
//   dist/browser/                    the browser build: the `browser` export condition (bundlers) and pages'
//                                    <script type="module">. Minified ES modules with their dependencies
//                                    bundled; code shared between entries is in dist/browser/chunks/.
//     wgprof.js                      wgprof: the profiler, config, trace writer and readers
//     wgprof-engine.js               wgprof/engine (loads the profiler from wgprof.js's chunks)
//     wgprof-ort.js                  wgprof/ort (onnxruntime-web stays the page's)
//     wgprof-auto-module.js          wgprof/auto as an ES module
//     wgprof-auto.js                 wgprof/auto as a classic script: page.addInitScript({ path }) or <script src>
//   dist/types/                      declarations for the `exports` map (tsc, skipped with --no-types)
//
// Node-only modules (node:*, dawn.node's `webgpu`) are only ever loaded by dynamic imports on Node code
// paths; the browser build replaces them with a module that throws NODE_ONLY, so a bundler never has to
// resolve them. The build prints each browser entry's size (with every chunk it imports: what a page
// downloads before the entry runs) and fails when wgprof.js is over its gzipped budget.
// `--analyze` also lists what is biggest inside wgprof.js.
import { analyzeMetafile, build } from 'esbuild';
import { BROWSER_BUDGET_GZIP_BYTES, budgetError, entrySize, formatKB } from './browser-size.mjs';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const withTypes = !process.argv.includes('--no-types');
const analyze = process.argv.includes('--analyze');
const common = { bundle: true, format: 'esm', sourcemap: true, loader: { '.wgsl': 'text' }, logLevel: 'warning', absWorkingDir: root };

/** node:* and `webgpu` → a module that throws when a browser ever loads it (it only happens on Node code paths). */
const nodeOnlyStub = {
  name: 'node-only-stub',
  setup(b) {
    b.onResolve({ filter: /^(node:.*|webgpu)$/ }, (args) => ({ path: args.path, namespace: 'node-only' }));
    b.onLoad({ filter: /.*/, namespace: 'node-only' }, (args) => {
      const message =
        `NODE_ONLY: "${args.path}" is not in wgprof's browser build: the code that loads it runs under Node only. ` +
        'In a page, write traces through a browser sink (CallbackSink, OpfsSink, DownloadSink) or an http(s):// torch_profiler_dir.';
      return { contents: `throw Object.assign(new Error(${JSON.stringify(message)}), { code: 'NODE_ONLY' });\n`, loader: 'js' };
    });
  },
};

const started = Date.now();
await build({
  ...common,
  platform: 'node',
  target: 'node20',
  entryPoints: {
    index: 'src/index.ts',
    cli: 'src/cli/main.ts',
    engine: 'src/engine/index.ts',
    ort: 'src/ort/index.ts',
    auto: 'src/auto/index.ts',
    playwright: 'src/playwright/index.ts',
  },
  outdir: 'dist',
  packages: 'external',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
});
chmodSync(join(root, 'dist/cli.js'), 0o755);

// Chunk names carry content hashes: clear the previous build's so none are left behind (and packed).
rmSync(join(root, 'dist/browser'), { recursive: true, force: true });
const browser = { ...common, platform: 'browser', target: 'chrome120', minify: true, plugins: [nodeOnlyStub] };
const browserEntries = {
  wgprof: 'src/index.ts',
  'wgprof-engine': 'src/engine/index.ts',
  'wgprof-ort': 'src/ort/index.ts',
  'wgprof-auto-module': 'src/auto/index.ts',
};
const browserBuild = await build({
  ...browser,
  entryPoints: browserEntries,
  outdir: 'dist/browser',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  external: ['onnxruntime-web', 'onnxruntime-web/*'],
  metafile: true,
});
// The init script runs before any module of the page: a classic script, installing itself when loaded.
const autoBuild = await build({ ...browser, format: 'iife', entryPoints: { 'wgprof-auto': 'src/auto/index.ts' }, outdir: 'dist/browser', metafile: true });

const read = (path) => readFileSync(join(root, path));
const sizes = [
  ...Object.keys(browserEntries).map((name) => entrySize(browserBuild.metafile, `dist/browser/${name}.js`, read)),
  entrySize(autoBuild.metafile, 'dist/browser/wgprof-auto.js', read),
];
process.stderr.write('wgprof: browser build (minified; each entry with the chunks it imports; gzip -6):\n');
for (const s of sizes) {
  const budget = s.entry === 'dist/browser/wgprof.js' ? `  (budget ${formatKB(BROWSER_BUDGET_GZIP_BYTES)} gzipped)` : '';
  process.stderr.write(
    `  ${s.entry.padEnd(36)} ${formatKB(s.rawBytes).padStart(9)} raw ${formatKB(s.gzipBytes).padStart(9)} gzipped  ${s.files.length} file(s)${budget}\n`,
  );
}
const core = sizes.find((s) => s.entry === 'dist/browser/wgprof.js');
if (analyze) {
  const closure = Object.fromEntries(Object.entries(browserBuild.metafile.outputs).filter(([path]) => core.files.includes(path)));
  process.stderr.write(await analyzeMetafile({ inputs: browserBuild.metafile.inputs, outputs: closure }));
}
const overBudget = budgetError(core);
if (overBudget) {
  process.stderr.write(`wgprof: ${overBudget}\n`);
  process.exit(1);
}

if (withTypes) {
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
}
mkdirSync(join(root, 'dist'), { recursive: true });
writeFileSync(join(root, 'dist/.stamp'), String(Date.now()));
process.stderr.write(`wgprof: built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
if (!existsSync(join(root, 'dist/cli.js'))) process.exit(1);
