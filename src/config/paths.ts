// torch_profiler_dir as vLLM resolves it (URIs kept verbatim; local paths become
// `os.path.abspath(os.path.expanduser(dir))`), then checked against what wgprof can write, so a dir that
// can never be written is refused when the config is read, not after the run. No static node:* import:
// this module is part of the browser bundle; under Node the built-ins come from process.getBuiltinModule.

import { BUILT_IN_DIR_SCHEMES, PACKAGE_DIR_SCHEMES, uriScheme } from '../trace/files.js';
import type { ProfilerConfigIssue } from './errors.js';
import { clip } from './errors.js';

/** Linux's limits: a path of at most PATH_MAX - 1 bytes, components of at most NAME_MAX bytes. */
export const PATH_MAX = 4096;
export const NAME_MAX = 255;
/** The longest dir accepted: room is left for "/" and a trace file name of NAME_MAX bytes. */
export const MAX_DIR_BYTES = PATH_MAX - 1 - (1 + NAME_MAX);

/** True for vLLM's `_is_uri_path`: `scheme://` with a scheme longer than one character (`C://x` is a path). */
export function isUriPath(path: string): boolean {
  return uriScheme(path) !== null;
}

export interface NodePathEnvironment {
  cwd: string;
  /** `~`: $HOME, else the password database's entry for this user (as Python and os.homedir() do). */
  homedir: string;
  resolve: (...paths: string[]) => string;
  /** `~name`: the user's home directory, undefined for an unknown user (pwd.getpwnam). */
  userHome: (name: string) => string | undefined;
}

type Builtin = <T>(id: string) => T;
const builtin = (globalThis as { process?: { getBuiltinModule?: Builtin } }).process?.getBuiltinModule;

/** The cwd/home/resolve of this Node process, or undefined where there is none (a browser). */
export function nodePathEnvironment(): NodePathEnvironment | undefined {
  if (!builtin) return undefined;
  const path = builtin<{ resolve(...p: string[]): string }>('node:path');
  const os = builtin<{ homedir(): string; userInfo(): { username: string; homedir: string } }>('node:os');
  const fs = builtin<{ readFileSync(file: string, encoding: 'utf8'): string }>('node:fs');
  return {
    cwd: process.cwd(),
    homedir: os.homedir(),
    resolve: (...p) => path.resolve(...p),
    userHome(name) {
      try {
        const me = os.userInfo();
        if (me.username === name) return me.homedir;
        for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
          const fields = line.split(':');
          if (fields[0] === name && fields.length >= 7) return fields[5];
        }
      } catch {
        // No password database (or no access): the user is unknown, as for Python.
      }
      return undefined;
    },
  };
}

/** Python's `os.path.expanduser`: `~` and `~/x` from the home, `~name/x` from that user's entry; an unknown user is left as is. */
export function expandUser(dir: string, env: NodePathEnvironment): string {
  if (!dir.startsWith('~')) return dir;
  const slash = dir.indexOf('/');
  const end = slash < 0 ? dir.length : slash;
  const home = end === 1 ? env.homedir : env.userHome(dir.slice(1, end));
  if (home === undefined) return dir;
  return home.replace(/\/+$/, '') + dir.slice(end) || '/';
}

/** `os.path.abspath(os.path.expanduser(dir))`: absolute and normalized; POSIX keeps exactly two leading slashes. */
export function absoluteLocalPath(dir: string, env: NodePathEnvironment): string {
  const expanded = expandUser(dir, env);
  const joined = expanded.startsWith('/') ? expanded : `${env.cwd}/${expanded}`;
  const resolved = env.resolve(joined);
  // posixpath.normpath keeps exactly two leading slashes (POSIX leaves their meaning to the system).
  return /^\/\/(?!\/)/.test(joined) ? `/${resolved}` : resolved;
}

export interface DirCheckOptions {
  /** Whether an npm package can be loaded (default: import.meta.resolve succeeds). For tests. */
  packageResolves?: (name: string) => boolean;
}

/** Whether `name` resolves from here, as the sink's `import(name)` would: a cheap probe, nothing is loaded. */
export function packageResolves(name: string): boolean {
  try {
    import.meta.resolve(name);
    return true;
  } catch {
    return false;
  }
}

const SUPPORTED =
  'a local directory, file://, http(s):// (each file is PUT to {dir}/{name}), s3:// (with @aws-sdk/client-s3 installed) or gs:// (with ' +
  '@google-cloud/storage installed)';

/** The problem that makes `dir` (resolved for Node) unwritable, or undefined. */
export function nodeDirIssue(dir: string, options: DirCheckOptions = {}): ProfilerConfigIssue | undefined {
  const issue = (message: string): ProfilerConfigIssue => ({ path: 'torch_profiler_dir', message: `given ${JSON.stringify(clip(dir))}; ${message}` });
  const nul = dir.indexOf('\0');
  if (nul >= 0) return issue(`it contains a NUL byte at position ${nul}, which no file system or URL can hold. Remove it.`);
  const bytes = new TextEncoder().encode(dir).length;
  if (bytes > MAX_DIR_BYTES) {
    return issue(
      `it is ${bytes} bytes long; a path may hold ${PATH_MAX - 1} bytes (PATH_MAX) and the trace file names need up to ${NAME_MAX + 1} of them, so ` +
        `use a dir of at most ${MAX_DIR_BYTES} bytes.`,
    );
  }
  const scheme = uriScheme(dir);
  if (scheme === null) {
    const long = dir.split('/').find((part) => new TextEncoder().encode(part).length > NAME_MAX);
    return long === undefined
      ? undefined
      : issue(`the path component ${JSON.stringify(clip(long, 40))} is longer than ${NAME_MAX} bytes (NAME_MAX); shorten it.`);
  }
  if (BUILT_IN_DIR_SCHEMES.includes(scheme)) return undefined;
  const pkg = PACKAGE_DIR_SCHEMES[scheme];
  if (pkg !== undefined) {
    if ((options.packageResolves ?? packageResolves)(pkg)) return undefined;
    return issue(`"${scheme}://" dirs are written through the optional package ${pkg}, which is not installed. Run: npm install ${pkg}`);
  }
  return issue(`wgprof cannot write to "${clip(scheme, 40)}://" dirs. Use ${SUPPORTED}, or pass a sink to the Profiler and upload from there.`);
}
