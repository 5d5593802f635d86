// The browser build's size, as scripts/build.mjs prints and checks it: what a page downloads before an
// entry runs (the entry and every chunk it imports statically, transitively; each file gzipped on its
// own, as a server sends it), and the budget of the profiler alone (dist/browser/wgprof.js).
import { gzipSync } from 'node:zlib';

/** wgprof.js with its chunks (profiler, config, trace writer, readers), gzipped. */
export const BROWSER_BUDGET_GZIP_BYTES = 150_000;

/** The output files an entry of a split esbuild build loads up front: itself, then its static imports (lazy chunks excluded). */
export function entryFiles(metafile, entry) {
  const files = [];
  const visit = (path) => {
    if (files.includes(path)) return;
    if (!metafile.outputs[path]) throw new Error(`${path} is not an output of this build (outputs: ${Object.keys(metafile.outputs).join(', ')})`);
    files.push(path);
    for (const imp of metafile.outputs[path].imports) if (imp.kind === 'import-statement' && !imp.external) visit(imp.path);
  };
  visit(entry);
  return files;
}

/** Raw and gzipped bytes of an entry with its chunks; `read(path)` gives a file's bytes. */
export function entrySize(metafile, entry, read) {
  const files = entryFiles(metafile, entry);
  const bytes = files.map(read);
  return {
    entry,
    files,
    rawBytes: bytes.reduce((sum, b) => sum + b.length, 0),
    gzipBytes: bytes.reduce((sum, b) => sum + gzipSync(b, { level: 6 }).length, 0),
  };
}

export function formatKB(bytes) {
  return `${(bytes / 1000).toFixed(1)} kB`;
}

/** The build's error when `size` is over `budgetBytes` gzipped, else undefined. */
export function budgetError(size, budgetBytes = BROWSER_BUDGET_GZIP_BYTES) {
  if (size.gzipBytes <= budgetBytes) return undefined;
  return (
    `BROWSER_BUDGET_EXCEEDED: ${size.entry} with its chunks is ${formatKB(size.gzipBytes)} gzipped ` +
    `(${formatKB(size.gzipBytes - budgetBytes)} over its ${formatKB(budgetBytes)} budget). ` +
    'Run `node scripts/build.mjs --no-types --analyze` to see what is biggest in it, and move what the profiler ' +
    'does not need behind a subpath (as wgprof/engine) or a dynamic import.'
  );
}
