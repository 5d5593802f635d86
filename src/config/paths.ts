// torch_profiler_dir normalization, as vLLM's validator does it: URIs are kept verbatim, local paths
// become `os.path.abspath(os.path.expanduser(dir))`. No static node:* import: this module is part of
// the browser bundle. Under Node the real `path`/`os` come from process.getBuiltinModule (Node >= 20.16);
// older Nodes get an equivalent POSIX implementation below.

/**
 * vLLM's `_is_uri_path`: the text before the first "://" is a scheme when it is longer than one
 * character, so gs://, s3://, hdfs://, abfs://, http(s):// are URIs and `C://x` is a Windows drive path.
 */
export function isUriPath(path: string): boolean {
  const index = path.indexOf('://');
  return index > 1;
}

/** True for the paths Python's expanduser would expand from the current user's home: `~`, `~/...` (and `~\...` on Windows). */
export function startsWithHome(path: string, windows = isWindows()): boolean {
  return path === '~' || path.startsWith('~/') || (windows && path.startsWith('~\\'));
}

export interface NodePathEnvironment {
  cwd: string;
  homedir: string;
  resolve: (...paths: string[]) => string;
  windows: boolean;
}

interface NodePathModule {
  resolve(...paths: string[]): string;
}
interface NodeOsModule {
  homedir(): string;
}
interface NodeProcessLike {
  cwd?: () => string;
  platform?: string;
  env?: Record<string, string | undefined>;
  getBuiltinModule?: (id: string) => unknown;
}

function nodeProcess(): NodeProcessLike | undefined {
  const candidate = (globalThis as { process?: NodeProcessLike }).process;
  return candidate && typeof candidate.cwd === 'function' ? candidate : undefined;
}

function isWindows(): boolean {
  return nodeProcess()?.platform === 'win32';
}

/** The cwd/home/resolve of this Node process, or undefined where there is none (a browser). */
export function nodePathEnvironment(): NodePathEnvironment | undefined {
  const proc = nodeProcess();
  if (!proc?.cwd) return undefined;
  const cwd = proc.cwd();
  const windows = proc.platform === 'win32';
  const path = proc.getBuiltinModule?.('node:path') as NodePathModule | undefined;
  const os = proc.getBuiltinModule?.('node:os') as NodeOsModule | undefined;
  const homedir = os?.homedir() ?? proc.env?.['HOME'] ?? proc.env?.['USERPROFILE'] ?? '';
  return {
    cwd,
    homedir,
    resolve: path ? (...paths) => path.resolve(...paths) : (...paths) => resolvePosix(cwd, ...paths),
    windows,
  };
}

/**
 * `os.path.abspath(os.path.expanduser(dir))`. Only the current user's `~` is expanded (`~name/...`
 * is not looked up in the password database, unlike Python; it is taken as a relative path).
 */
export function absoluteLocalPath(dir: string, env: NodePathEnvironment): string {
  let expanded = dir;
  if (startsWithHome(dir, env.windows)) {
    // Python strips the home's trailing separators before appending the rest.
    const home = env.homedir.replace(/[\\/]+$/, '') || '/';
    expanded = home + dir.slice(1);
  }
  return env.resolve(env.cwd, expanded);
}

/** POSIX `path.resolve` (used only when process.getBuiltinModule is missing): absolute, normalized, no trailing slash. */
export function resolvePosix(cwd: string, ...paths: string[]): string {
  let joined = '';
  for (const p of [cwd, ...paths]) {
    if (p === '') continue;
    joined = p.startsWith('/') ? p : `${joined}/${p}`;
  }
  const parts: string[] = [];
  for (const segment of joined.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') parts.pop();
    else parts.push(segment);
  }
  return `/${parts.join('/')}`;
}
