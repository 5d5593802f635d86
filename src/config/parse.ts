// parseProfilerConfig: converts inputs as vLLM's pydantic does in lax mode ("2" → 2, "false" → false),
// validates against the schema and vLLM's rules, lists every problem in one ProfilerConfigError,
// resolves torch_profiler_dir for the runtime and checks it can be written, and logs vLLM's once-only
// warnings in vLLM's order (the overhead warning comes before the dir errors, as in vLLM's validator).

import { log } from '../util/log.js';
import { isNode } from '../util/runtime.js';
import { ProfilerConfigError, describeGiven, fieldValueIssue, unknownKeyIssue } from './errors.js';
import type { ProfilerConfigIssue } from './errors.js';
import { JsonSyntaxError, parseJson } from './json.js';
import { absoluteLocalPath, isUriPath, nodeDirIssue, nodePathEnvironment, type DirCheckOptions } from './paths.js';
import { OVERHEAD_WARNING, PROFILER_CONFIG_KEYS, crossFieldIssues, fieldKind, profilerConfigFields, wantsOverheadWarning } from './schema.js';
import type { ProfilerConfig, ProfilerConfigKey } from './schema.js';

export interface ParseProfilerConfigOptions extends DirCheckOptions {
  /**
   * How torch_profiler_dir is resolved (default 'node' under Node, else 'browser'). 'node': vLLM's
   * abspath(expanduser()) for local paths, URIs verbatim, then checked writable (NUL, PATH_MAX/NAME_MAX,
   * scheme). 'browser': kept verbatim as a logical name for the trace sink; a leading "~" is rejected.
   */
  runtime?: 'node' | 'browser';
}

/** A value vLLM's pydantic converted (lax mode) rather than took as given. */
export interface ProfilerConfigCoercion {
  key: ProfilerConfigKey;
  given: unknown;
  value: unknown;
}

/** Key under which the overhead warning is logged once per process (as vLLM's warning_once). */
export const OVERHEAD_WARNING_KEY = 'profiler-config:overhead';

/**
 * Validates a ProfilerConfig given as an object (e.g. a parsed vLLM `--profiler-config` JSON), as JSON
 * text, or as undefined (vLLM's defaults). Returns every key with defaults filled in and
 * torch_profiler_dir normalized. Idempotent: parsing a parsed config returns an equal config.
 * @throws ProfilerConfigError (code PROFILER_CONFIG_INVALID) listing every problem found.
 */
export function parseProfilerConfig(input: unknown, options: ParseProfilerConfigOptions = {}): ProfilerConfig {
  return validateProfilerConfig(input, options).config;
}

/** parseProfilerConfig that also says which values were converted as pydantic's lax mode converts them. */
export function validateProfilerConfig(
  input: unknown,
  options: ParseProfilerConfigOptions = {},
): { config: ProfilerConfig; coerced: ProfilerConfigCoercion[] } {
  let raw: unknown = input === undefined ? {} : input;
  if (typeof raw === 'string') {
    try {
      raw = parseJson(raw);
    } catch (error) {
      if (!(error instanceof JsonSyntaxError)) throw error;
      throw new ProfilerConfigError([{ path: '', message: error.message }], { cause: error });
    }
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    const message = `given ${describeGiven(raw)}; expected a JSON object such as {"profiler": "torch", "torch_profiler_dir": "./vllm_profile"}.`;
    throw new ProfilerConfigError([{ path: '', message }]);
  }
  const given = raw as Record<string, unknown>;
  const object: Record<string, unknown> = {};
  const coerced: ProfilerConfigCoercion[] = [];
  const issues: ProfilerConfigIssue[] = [];
  const unknown = Object.keys(given).filter((key) => !(PROFILER_CONFIG_KEYS as string[]).includes(key));
  issues.push(...unknown.slice(0, 20).map(unknownKeyIssue));
  if (unknown.length > 20) issues.push({ path: '', message: `and ${unknown.length - 20} more unknown keys. Valid keys: ${PROFILER_CONFIG_KEYS.join(', ')}.` });
  for (const key of Object.keys(given)) {
    if ((PROFILER_CONFIG_KEYS as string[]).includes(key)) {
      const value = lax(key as ProfilerConfigKey, given[key]);
      if (value !== given[key]) coerced.push({ key: key as ProfilerConfigKey, given: given[key], value });
      object[key] = value;
    }
  }
  const result = profilerConfigFields.safeParse(object);
  if (!result.success) {
    const bad = new Set(result.error.issues.map((issue) => issue.path[0] as ProfilerConfigKey));
    for (const key of bad) issues.push(fieldValueIssue(key, given[key], object[key]));
  } else if (unknown.length === 0 && wantsOverheadWarning(result.data)) {
    // vLLM's validator warns first, then raises the dir errors: the warning shows for a config the rules reject, too.
    log.warnOnce(OVERHEAD_WARNING_KEY, OVERHEAD_WARNING);
  }
  issues.push(...crossFieldIssues(object));
  const dir = object['torch_profiler_dir'];
  const resolved = typeof dir === 'string' && dir !== '' ? resolveDir(dir, options) : '';
  if (typeof resolved === 'object') issues.push(resolved);
  if (issues.length > 0 || !result.success) throw new ProfilerConfigError(issues);
  const config = { ...result.data, torch_profiler_dir: resolved as string };
  if (config.capture_torch_profiler)
    log.warnOnce('profiler-config:capture', 'capture_torch_profiler has no effect on WebGPU: there is no CUDA graph capture to profile.');
  return { config, coerced };
}

/**
 * pydantic's lax-mode conversions for a field (pydantic-core str_as_bool, int_as_bool, str_as_int,
 * float_as_int); a value no rule converts is returned as is, for the schema to reject.
 */
function lax(key: ProfilerConfigKey, value: unknown): unknown {
  switch (fieldKind(key)) {
    case 'boolean':
      if (value === 0 || value === 1) return value === 1;
      if (typeof value !== 'string') return value;
      if (value === '1' || /^(t|y|on|yes|true)$/i.test(value)) return true;
      if (value === '0' || /^(f|n|no|off|false)$/i.test(value)) return false;
      return value;
    case 'count': {
      if (typeof value === 'boolean') return value ? 1 : 0;
      if (typeof value !== 'string') return value;
      // Python's int() syntax: surrounding whitespace, a sign, single underscores between digits, a ".000" tail.
      const match = /^\s*([+-]?)(\d(?:_?\d)*)(?:\.0+)?\s*$/.exec(value);
      return match ? Number(`${match[1]}${match[2]!.replace(/_/g, '')}`) + 0 : value;
    }
    default:
      return value;
  }
}

/** The normalized torch_profiler_dir, or the issue that prevents using it. */
function resolveDir(dir: string, options: ParseProfilerConfigOptions): string | ProfilerConfigIssue {
  if ((options.runtime ?? (isNode ? 'node' : 'browser')) === 'browser') {
    if (dir === '~' || dir.startsWith('~/')) {
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
  if (!env && !isUriPath(dir)) {
    return {
      path: 'torch_profiler_dir',
      message:
        `given the local path ${JSON.stringify(dir)} with runtime 'node', but this runtime has no process.cwd() to make it absolute. Pass { ` +
        `runtime: 'browser' } or an absolute path or URI.`,
    };
  }
  const resolved = env && !isUriPath(dir) ? absoluteLocalPath(dir, env) : dir;
  return nodeDirIssue(resolved, options) ?? resolved;
}

/**
 * vLLM's `ProfilerConfig.compute_hash()`: md5 of `str([])` (no factor), the same for every config as
 * in vLLM, since no profiler field changes the computation graph. It matches vLLM; it tells no configs apart.
 */
export function computeHash(_config?: ProfilerConfig): string {
  return 'd751713988987e9331980363e24189ce';
}
