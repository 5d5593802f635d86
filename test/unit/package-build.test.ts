// The browser build's size check (scripts/browser-size.mjs, applied by scripts/build.mjs): an entry
// is what a page downloads before it runs (the entry and the chunks it imports statically), and the
// build fails with a message that says by how much and how to find what grew.

import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { BROWSER_BUDGET_GZIP_BYTES, budgetError, entryFiles, entrySize, type Metafile } from '../../scripts/browser-size.mjs';

/** entry → shared chunk → nested chunk; a lazy (dynamic) chunk and an external import are not loaded up front. */
const metafile: Metafile = {
  outputs: {
    'dist/browser/wgprof.js': {
      imports: [
        { path: 'dist/browser/chunks/shared.js', kind: 'import-statement' },
        { path: 'dist/browser/chunks/lazy.js', kind: 'dynamic-import' },
        { path: 'onnxruntime-web', kind: 'import-statement', external: true },
      ],
    },
    'dist/browser/wgprof-engine.js': { imports: [{ path: 'dist/browser/chunks/shared.js', kind: 'import-statement' }] },
    'dist/browser/chunks/shared.js': { imports: [{ path: 'dist/browser/chunks/nested.js', kind: 'import-statement' }] },
    'dist/browser/chunks/nested.js': { imports: [{ path: 'dist/browser/chunks/shared.js', kind: 'import-statement' }] },
    'dist/browser/chunks/lazy.js': { imports: [] },
  },
};

const contents: Record<string, Uint8Array> = {
  'dist/browser/wgprof.js': new TextEncoder().encode('export const a = 1;\n'.repeat(50)),
  'dist/browser/chunks/shared.js': new TextEncoder().encode('export const b = 2;\n'.repeat(200)),
  'dist/browser/chunks/nested.js': Uint8Array.from({ length: 3000 }, (_, i) => (i * 7919) % 251),
  'dist/browser/chunks/lazy.js': new Uint8Array(1_000_000),
};
const read = (path: string): Uint8Array => {
  const bytes = contents[path];
  if (!bytes) throw new Error(`read ${path}`);
  return bytes;
};

describe('browser build size', () => {
  test('an entry loads itself and its static chunks, transitively and once each; not lazy chunks or externals', () => {
    assert.deepEqual(entryFiles(metafile, 'dist/browser/wgprof.js'), [
      'dist/browser/wgprof.js',
      'dist/browser/chunks/shared.js',
      'dist/browser/chunks/nested.js',
    ]);
    assert.throws(() => entryFiles(metafile, 'dist/browser/missing.js'), /dist\/browser\/missing\.js is not an output of this build/);
  });

  test('sizes add up per file, raw and gzipped (as a server sends each file)', () => {
    const size = entrySize(metafile, 'dist/browser/wgprof.js', read);
    const files = ['dist/browser/wgprof.js', 'dist/browser/chunks/shared.js', 'dist/browser/chunks/nested.js'];
    assert.equal(
      size.rawBytes,
      files.reduce((sum, f) => sum + read(f).length, 0),
    );
    assert.equal(
      size.gzipBytes,
      files.reduce((sum, f) => sum + gzipSync(read(f), { level: 6 }).length, 0),
    );
    assert.ok(size.gzipBytes < size.rawBytes);
  });

  test('over the budget is an error naming the entry, its size, the excess and how to look inside; at the budget is not', () => {
    const size = { entry: 'dist/browser/wgprof.js', files: [], rawBytes: 600_000, gzipBytes: 151_234 };
    assert.equal(BROWSER_BUDGET_GZIP_BYTES, 150_000);
    const message = budgetError(size);
    assert.match(
      message ?? '',
      /^BROWSER_BUDGET_EXCEEDED: dist\/browser\/wgprof\.js with its chunks is 151\.2 kB gzipped \(1\.2 kB over its 150\.0 kB budget\)/,
    );
    assert.match(message ?? '', /node scripts\/build\.mjs --no-types --analyze/);
    assert.equal(budgetError({ ...size, gzipBytes: 150_000 }), undefined);
    assert.match(budgetError({ ...size, gzipBytes: 1001 }, 1000) ?? '', /0\.0 kB over its 1\.0 kB budget/);
  });
});
