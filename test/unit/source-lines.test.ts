// Source lines stay readable: Prettier wraps code at 160 columns but not strings or comments, so this
// checks what it cannot (issue: "88 source lines over 160 characters"). Tests and benches are exempt:
// their long lines are expected output and regular expressions matched whole.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAX_COLUMNS = 160;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.(ts|mjs|js)$/.test(entry.name) ? [path] : [];
  });
}

describe('source lines', () => {
  it(`no line in src/, kernels/ or scripts/ is longer than ${MAX_COLUMNS} characters`, () => {
    const files = ['src', 'kernels', 'scripts'].flatMap((dir) => sources(join(ROOT, dir)));
    assert.ok(files.length > 50, `found ${files.length} source files`);
    const long: string[] = [];
    for (const file of files) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (line.length > MAX_COLUMNS) long.push(`${relative(ROOT, file)}:${i + 1} (${line.length} characters)`);
        });
    }
    assert.deepEqual(long, [], 'wrap the string or comment (Prettier does not)');
  });
});
