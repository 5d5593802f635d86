// parseProfilerConfig: validates a config (object or JSON text) against the schema, lists every problem
// in one ProfilerConfigError, normalizes torch_profiler_dir for the runtime, and logs vLLM's once-only
// overhead warning.

import { log } from '../util/log.js';
import { isNode } from '../util/runtime.js';
import { ProfilerConfigError, describeGiven, issuesFromZod } from './errors.js';
import type { ProfilerConfigIssue } from './errors.js';
import { JsonSyntaxError, parseJsonStrict } from './json.js';
import { md5Hex } from './md5.js';
import { absoluteLocalPath, isUriPath, nodePathEnvironment, startsWithHome } from './paths.js';
import { OVERHEAD_WARNING, crossFieldIssues, profilerConfigSchema, wantsOverheadWarning } from './schema.js';
import type { ProfilerConfig } from './schema.js';

export interface ParseProfilerConfigOptions {
  /**
   * How torch_profiler_dir is resolved; default: 'node' under Node, 'browser' elsewhere.
   * - 'node': vLLM's rule. URIs (scheme://, scheme longer than one character) are kept verbatim; a
   *   local path gets "~" expanded to the home directory and is made absolute against process.cwd().
   * - 'browser': there is no file system path, cwd or home. The value is kept verbatim as a logical
   *   name (the trace sink maps it to a download name, an OPFS folder or a callback's argument); URIs
   *   are kept; a leading "~" is rejected, since there is no home directory to expand it into.
   */
  runtime?: 'node' | 'browser';
}

/** Key under which the overhead warning is logged once per process (as vLLM's warning_once). */
export const OVERHEAD_WARNING_KEY = 'profiler-config:overhead';

/**
 * Validates a ProfilerConfig given as an object (e.g. a parsed vLLM `--profiler-config` JSON), as
 * JSON text, or as undefined (vLLM's defaults). Returns all 11 keys with defaults filled in and
 * torch_profiler_dir normalized (see ParseProfilerConfigOptions.runtime). Idempotent: parsing a
 * parsed config returns an equal config.
 * @throws ProfilerConfigError (code PROFILER_CONFIG_INVALID) listing every problem found.
 */
export function parseProfilerConfig(input: unknown, options: ParseProfilerConfigOptions = {}): ProfilerConfig {
  return validateProfilerConfig(input, [], options);
}

/**
 * The shared core of parseProfilerConfig and the CLI parser: `earlierIssues` (e.g. a JSON syntax error
 * in one of several arguments) are reported together with everything wrong with `input`.
 */
export function validateProfilerConfig(input: unknown, earlierIssues: ProfilerConfigIssue[], options: ParseProfilerConfigOptions): ProfilerConfig {
  const issues = [...earlierIssues];
  let raw: unknown = input === undefined ? {} : input;
  if (typeof raw === 'string') {
    try {
      raw = parseJsonStrict(raw);
    } catch (error) {
      if (!(error instanceof JsonSyntaxError)) throw error;
      throw new ProfilerConfigError([...issues, { path: '', message: error.message }], { cause: error });
    }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    issues.push({
      path: '',
      message: `given ${describeGiven(raw)}; expected a JSON object such as {"profiler": "torch", "torch_profiler_dir": "./vllm_profile"}.`,
    });
    throw new ProfilerConfigError(issues);
  }
  const object = raw as Record<string, unknown>;
  const runtime = options.runtime ?? (isNode ? 'node' : 'browser');
  const result = profilerConfigSchema.safeParse(object);
  if (result.success && issues.length === 0) {
    const dir = resolveDir(result.data.torch_profiler_dir, runtime);
    if (typeof dir === 'object') throw new ProfilerConfigError([dir]);
    const config: ProfilerConfig = { ...result.data, torch_profiler_dir: dir };
    if (wantsOverheadWarning(config)) log.warnOnce(OVERHEAD_WARNING_KEY, OVERHEAD_WARNING);
    return config;
  }
  if (!result.success) issues.push(...issuesFromZod(result.error.issues, object));
  // zod skips refinements after some field errors (e.g. a non-integer); run the rules directly so the
  // error still lists every problem.
  for (const issue of crossFieldIssues(object)) {
    if (!issues.some((i) => i.path === issue.path && i.message === issue.message)) issues.push(issue);
  }
  const dir = object['torch_profiler_dir'];
  if (typeof dir === 'string') {
    const dirIssue = resolveDir(dir, runtime);
    if (typeof dirIssue === 'object') issues.push(dirIssue);
  }
  throw new ProfilerConfigError(issues);
}

/** The normalized torch_profiler_dir, or the issue that prevents normalizing it. */
function resolveDir(dir: string, runtime: 'node' | 'browser'): string | ProfilerConfigIssue {
  if (dir === '' || isUriPath(dir)) return dir;
  if (runtime === 'browser') {
    if (startsWithHome(dir, false)) {
      return {
        path: 'torch_profiler_dir',
        message:
          `given ${JSON.stringify(dir)}; a browser has no home directory to expand "~" into. ` +
          'Use a name such as "vllm_profile" (the browser trace sink maps it to a download, OPFS folder or callback) or a URI such as "https://host/upload".',
      };
    }
    return dir;
  }
  const env = nodePathEnvironment();
  if (!env) {
    return {
      path: 'torch_profiler_dir',
      message: `given the local path ${JSON.stringify(dir)} with runtime 'node', but this runtime has no process.cwd() to make it absolute. Pass { runtime: 'browser' } or an absolute path or URI.`,
    };
  }
  return absoluteLocalPath(dir, env);
}

/**
 * vLLM's `ProfilerConfig.compute_hash()`: the md5 hex digest of `str(factors)` where factors is empty,
 * i.e. md5("[]") = "d751713988987e9331980363e24189ce". It is the same for every config, exactly as in
 * vLLM: no profiler field changes the computation graph, which is what vLLM's config hashes identify
 * (compile caches). Use it to match vLLM's value, not to tell configs apart.
 */
export function computeHash(_config?: ProfilerConfig): string {
  // Python's str(factors) for vLLM's empty factor list.
  return md5Hex('[]');
}
