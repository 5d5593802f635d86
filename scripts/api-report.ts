// The public API report: for each entry of package.json's `exports`, every name it exports with its
// kind (class, function, const, interface, type, ...), as TypeScript resolves the entry's declarations.
// test/unit/api-report.test.ts compares it with the checked-in test/unit/api/*.api.txt, and
// test/browser/package.spec.ts with the packed package's .d.ts, so the surface cannot grow (or shrink)
// unnoticed.
//
//   npm run api-report      rewrites test/unit/api/*.api.txt after a deliberate change (review the diff)

import { readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
/** Where the checked-in reports live. */
export const API_REPORT_DIR = join(REPO_ROOT, 'test/unit/api');

export interface ApiEntry {
  /** The `exports` key: '.', './engine', ... */
  subpath: string;
  /** Its import specifier: 'wgprof', 'wgprof/engine', ... */
  specifier: string;
  /** The `types` target, e.g. './dist/types/src/index.d.ts'. */
  types: string;
  /** The source the declarations are emitted from, relative to the package root: 'src/index.ts'. */
  source: string;
  /** The report's file name: 'wgprof.api.txt', 'wgprof-engine.api.txt', ... */
  reportName: string;
}

/** The entries of a package.json's `exports` that have types (every one but './package.json'). */
export function apiEntries(pkg: { name: string; exports: Record<string, unknown> }): ApiEntry[] {
  return Object.entries(pkg.exports).flatMap(([subpath, target]) => {
    const types = typeof target === 'object' && target !== null ? (target as Record<string, unknown>)['types'] : undefined;
    if (typeof types !== 'string') return [];
    const specifier = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.replace(/^\.\//, '')}`;
    const source = types.replace(/^\.\/dist\/types\//, '').replace(/\.d\.ts$/, '.ts');
    return [{ subpath, specifier, types, source, reportName: `${specifier.replace(/\//g, '-')}.api.txt` }];
  });
}

const KINDS: [ts.SymbolFlags, string][] = [
  [ts.SymbolFlags.Class, 'class'],
  [ts.SymbolFlags.Function, 'function'],
  [ts.SymbolFlags.Enum, 'enum'],
  [ts.SymbolFlags.Variable, 'const'],
  [ts.SymbolFlags.Interface, 'interface'],
  [ts.SymbolFlags.TypeAlias, 'type'],
  [ts.SymbolFlags.Module, 'namespace'],
];

function kindOf(symbol: ts.Symbol, checker: ts.TypeChecker, packageRoot: string): string {
  const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
  // A binding of another package passed on as is (`export { expect } from '@playwright/test'`): what it is
  // belongs to that package, and an optional peer may not even be installed where the report is made.
  const root = `${packageRoot.replace(/\\/g, '/').replace(/\/$/, '')}/`;
  const ownFile = (d: ts.Declaration) => d.getSourceFile().fileName.startsWith(root) && !d.getSourceFile().fileName.startsWith(`${root}node_modules/`);
  if (!(target.declarations ?? []).some(ownFile)) return 'external';
  const kinds = KINDS.filter(([flag]) => target.flags & flag).map(([, name]) => {
    if (name !== 'const') return name;
    // `let`/`var` are not `const`: a mutable export is worth seeing in the report.
    const declaration = target.declarations?.find(ts.isVariableDeclaration);
    const list = declaration?.parent;
    return list && ts.isVariableDeclarationList(list) && !(list.flags & ts.NodeFlags.Const) ? 'let' : 'const';
  });
  // `export type { SomeClass }` exports no value: say so, since code cannot `new` or call it.
  const typeOnly = symbol.declarations?.some((d) => ts.isExportSpecifier(d) && (d.isTypeOnly || d.parent.parent.isTypeOnly)) ?? false;
  const valueKinds = new Set(['class', 'function', 'enum', 'const', 'let', 'namespace']);
  const text = kinds.length > 0 ? kinds.join(' & ') : 'unknown';
  return typeOnly && kinds.some((k) => valueKinds.has(k)) ? `type-only ${text}` : text;
}

/**
 * The report of each file (an entry's source or its .d.ts, inside `packageRoot`): a header line, then
 * `kind name` per export, sorted by name. One program for all files; only symbols are resolved, nothing
 * is type-checked.
 */
export function apiReports(files: readonly { path: string; title: string }[], packageRoot: string): string[] {
  const program = ts.createProgram(
    files.map((f) => f.path),
    {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      noEmit: true,
      skipLibCheck: true,
      types: [],
      noLib: true,
    },
  );
  const checker = program.getTypeChecker();
  return files.map(({ path, title }) => {
    const source = program.getSourceFile(path);
    if (!source) throw new Error(`api-report: ${path} is not in the program (missing file?)`);
    const moduleSymbol = checker.getSymbolAtLocation(source);
    const exports = moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : [];
    const lines = exports.map((s) => `${kindOf(s, checker, packageRoot)} ${s.name}`).sort(byName);
    return `# ${title}: ${exports.length} exports (regenerate: npm run api-report)\n${lines.join('\n')}\n`;
  });
}

/** By name, case-insensitively, then exactly (no locale: the order must not depend on the machine). */
function byName(a: string, b: string): number {
  const key = (line: string) => {
    const name = line.slice(line.lastIndexOf(' ') + 1);
    return [name.toLowerCase(), name];
  };
  const [ka, kb] = [key(a), key(b)];
  for (let i = 0; i < 2; i++) if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1;
  return 0;
}

/** The reports of this repository's entries, from their sources. */
export function sourceApiReports(root = REPO_ROOT): { entry: ApiEntry; report: string }[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown> };
  const entries = apiEntries(pkg);
  const reports = apiReports(
    entries.map((e) => ({ path: join(root, e.source), title: `${e.specifier} (${e.source})` })),
    root,
  );
  return entries.map((entry, i) => ({ entry, report: reports[i]! }));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (!process.argv.includes('--write')) {
    process.stderr.write('usage: node scripts/run-ts.mjs scripts/api-report.ts --write   (npm run api-report)\n');
    process.exit(2);
  }
  mkdirSync(API_REPORT_DIR, { recursive: true });
  const reports = sourceApiReports();
  const names = new Set(reports.map((r) => r.entry.reportName));
  for (const stale of readdirSync(API_REPORT_DIR).filter((f) => f.endsWith('.api.txt') && !names.has(f))) rmSync(join(API_REPORT_DIR, stale));
  for (const { entry, report } of reports) writeFileSync(join(API_REPORT_DIR, entry.reportName), report);
  process.stdout.write(`api-report: wrote ${reports.length} reports to ${API_REPORT_DIR} (review with git diff)\n`);
}
