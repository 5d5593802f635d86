// Test bundles for pages: an ES module built with esbuild from the sources (so a spec tests the code
// under test even when dist/ is stale), written to dist/{folder}/{name}.js and served at /dist/{folder}/{name}.js.
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Builds `entry` (TypeScript source, paths relative to the repository root); resolves to its URL path. */
export async function buildPageBundle(name: string, entry: string, folder: 'test' | 'bench' = 'test'): Promise<string> {
  const dir = join(REPO_ROOT, 'dist', folder);
  mkdirSync(dir, { recursive: true });
  await build({
    stdin: { contents: entry, resolveDir: REPO_ROOT, sourcefile: `${name}-entry.ts`, loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    loader: { '.wgsl': 'text' },
    outfile: join(dir, `${name}.js`),
    external: ['webgpu', 'node:*'],
    logLevel: 'warning',
  });
  return `/dist/${folder}/${name}.js`;
}
