// vLLM's command-line forms of the profiler config (FlexibleArgumentParser + pydantic):
//   --profiler-config '<json>'   --profiler-config=<json>
//   --profiler-config.KEY=VALUE  --profiler-config.KEY VALUE
// `--profiler_config` is accepted too (vLLM turns underscores in an option name into dashes).

import { log } from '../util/log.js';
import { describeGiven } from './errors.js';
import type { ProfilerConfigIssue } from './errors.js';
import { JsonSyntaxError, parseJsonStrict } from './json.js';
import { validateProfilerConfig } from './parse.js';
import type { ParseProfilerConfigOptions } from './parse.js';
import { PROFILER_CONFIG_KEYS, fieldKind } from './schema.js';
import type { ProfilerConfig, ProfilerConfigKey } from './schema.js';

/**
 * Takes every `--profiler-config*` argument out of `argv` and parses them into one config.
 * `config` is undefined when there were none; `rest` is argv without them (order kept; everything
 * from a bare `--` on is left alone).
 *
 * Precedence (a deliberate, documented difference from vLLM): all JSON arguments are merged in argv
 * order (a later JSON's key wins), then the dotted keys are applied on top in argv order (a later
 * dotted key wins). So a dotted key overrides the JSON's value wherever it stands in argv, and the
 * JSON's other keys are kept. vLLM instead keeps only the LAST `--profiler-config` value (argparse
 * "store"), and gathers the dotted keys into one JSON appended after all arguments, so mixing the two
 * forms there silently drops the JSON argument. A key set twice in the same form is logged as a
 * warning, like vLLM's "Found duplicate keys".
 *
 * Dotted values are typed as vLLM types them (JSON-parsed when possible, else human-readable
 * integers such as 1k = 1000 / 1K = 1024, else the string), then as pydantic would coerce them for the
 * field: booleans also accept 1/0, yes/no, on/off, t/f, y/n in any case; `profiler` accepts null or
 * None for null; `torch_profiler_dir` is taken verbatim (a JSON-quoted value is unquoted).
 *
 * @throws ProfilerConfigError listing every problem: malformed arguments, JSON syntax errors (with
 * position) and everything parseProfilerConfig reports.
 */
export function profilerConfigFromArgs(
  argv: readonly string[],
  options: ParseProfilerConfigOptions = {},
): { config: ProfilerConfig | undefined; rest: string[] } {
  const rest: string[] = [];
  const issues: ProfilerConfigIssue[] = [];
  const fromJson: Record<string, unknown> = {};
  const fromDotted: Record<string, unknown> = {};
  const duplicates = new Set<string>();
  let found = false;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const parsed = matchProfilerConfigArg(arg);
    if (!parsed) {
      rest.push(arg);
      continue;
    }
    found = true;
    let value = parsed.inlineValue;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) {
        issues.push({
          path: parsed.key ?? '',
          message:
            parsed.key === undefined
              ? `${arg} expects a JSON value, e.g. ${arg} '{"profiler": "torch", "torch_profiler_dir": "./vllm_profile"}'.`
              : `${arg} expects a value, e.g. ${arg}=VALUE or ${arg} VALUE.`,
        });
        continue;
      }
      value = next;
      i++;
    }

    if (parsed.key === undefined) {
      const object = parseJsonArgument(arg, value, issues);
      if (!object) continue;
      for (const [key, v] of Object.entries(object)) {
        if (Object.hasOwn(fromJson, key)) duplicates.add(key);
        setOwn(fromJson, key, v);
      }
      continue;
    }
    const keyProblem = dottedKeyProblem(arg, parsed.key);
    if (keyProblem) {
      issues.push(keyProblem);
      continue;
    }
    if (Object.hasOwn(fromDotted, parsed.key)) duplicates.add(parsed.key);
    setOwn(fromDotted, parsed.key, typeCliValue(parsed.key, value));
  }

  if (!found) return { config: undefined, rest };
  if (duplicates.size > 0) {
    log.warn(`Found duplicate keys ${[...duplicates].map((k) => `profiler-config.${k}`).join(', ')}; the later value is used.`);
  }
  const merged: Record<string, unknown> = { ...fromJson };
  for (const [key, v] of Object.entries(fromDotted)) setOwn(merged, key, v);
  return { config: validateProfilerConfig(merged, issues, options), rest };
}

interface ProfilerConfigArg {
  /** undefined for the JSON form. */
  key: string | undefined;
  /** The text after '=', when the value was attached to the option. */
  inlineValue: string | undefined;
}

/** Recognizes `--profiler-config[.KEY][=VALUE]` (and `--profiler_config...`); undefined for anything else. */
export function matchProfilerConfigArg(arg: string): ProfilerConfigArg | undefined {
  if (!arg.startsWith('--')) return undefined;
  const body = arg.slice(2);
  const eq = body.indexOf('=');
  const head = eq < 0 ? body : body.slice(0, eq);
  const dot = head.indexOf('.');
  const name = dot < 0 ? head : head.slice(0, dot);
  if (name.replace(/_/g, '-') !== 'profiler-config') return undefined;
  return { key: dot < 0 ? undefined : head.slice(dot + 1), inlineValue: eq < 0 ? undefined : body.slice(eq + 1) };
}

function parseJsonArgument(arg: string, text: string, issues: ProfilerConfigIssue[]): Record<string, unknown> | undefined {
  const option = arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg;
  let value: unknown;
  try {
    value = parseJsonStrict(text);
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
    issues.push({ path: '', message: `${option}: ${error.message}` });
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    issues.push({
      path: '',
      message: `${option}: given ${describeGiven(value)}; expected a JSON object such as '{"profiler": "torch", "torch_profiler_dir": "./vllm_profile"}'. To set one key use ${option}.KEY=VALUE.`,
    });
    return undefined;
  }
  return value as Record<string, unknown>;
}

function dottedKeyProblem(arg: string, key: string): ProfilerConfigIssue | undefined {
  const option = arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg;
  if (key === '') return { path: '', message: `${option}: missing key after the '.'; e.g. --profiler-config.delay_iterations=2.` };
  if (key.endsWith('+')) {
    return { path: key.slice(0, -1), message: `${option}: the list form (KEY+) does not apply; no profiler config field is a list. Use ${option.slice(0, -1)}=VALUE.` };
  }
  if (key.includes('.')) {
    const top = key.slice(0, key.indexOf('.'));
    return { path: top, message: `${option}: the profiler config is flat; ${JSON.stringify(top)} has no nested keys. Use --profiler-config.KEY=VALUE with one of: ${PROFILER_CONFIG_KEYS.join(', ')}.` };
  }
  return undefined;
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on', 't', 'y']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off', 'f', 'n']);

/** A dotted argument's value, typed for its field (see profilerConfigFromArgs). */
export function typeCliValue(key: string, text: string): unknown {
  const kind = (PROFILER_CONFIG_KEYS as readonly string[]).includes(key) ? fieldKind(key as ProfilerConfigKey) : undefined;
  switch (kind) {
    case 'string':
      if (text.startsWith('"')) {
        const unquoted = tryJson(text);
        if (typeof unquoted === 'string') return unquoted;
      }
      return text;
    case 'boolean': {
      const word = text.trim().toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
      return vllmCliValue(text);
    }
    case 'profiler':
      if (/^\s*(null|none)\s*$/i.test(text)) return null;
      return vllmCliValue(text);
    default:
      return vllmCliValue(text);
  }
}

/** FlexibleArgumentParser's typing of a dotted value: json.loads, else human_readable_int, else the string. */
export function vllmCliValue(text: string): unknown {
  const json = tryJson(text);
  if (json !== NOT_JSON) return json;
  const int = humanReadableInt(text);
  return int ?? text;
}

const NOT_JSON = Symbol('not JSON');

function tryJson(text: string): unknown {
  try {
    return parseJsonStrict(text);
  } catch {
    return NOT_JSON;
  }
}

/**
 * vLLM's human_readable_int: "25.6k" = 25600 and "2M" = 2_000_000 (decimal suffixes k/m/g/t),
 * "1K" = 1024 (binary K/M/G/T, whole numbers only), or a plain integer; undefined otherwise.
 */
export function humanReadableInt(text: string): number | undefined {
  const value = text.trim();
  const match = /^(\d+(?:\.\d+)?)([kKmMgGtT])$/.exec(value);
  if (match) {
    const [, number, suffix] = match as unknown as [string, string, string];
    const decimal: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12 };
    const binary: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };
    const d = decimal[suffix];
    if (d !== undefined) return Math.trunc(Number(number) * d);
    if (!/^\d+$/.test(number)) return undefined; // vLLM: "Decimals are not allowed with binary suffixes"
    return Number(number) * binary[suffix]!;
  }
  // Python's int(): optional sign, digits with single underscores between them.
  if (/^[+-]?\d+(?:_\d+)*$/.test(value)) return Number(value.replace(/_/g, ''));
  return undefined;
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
