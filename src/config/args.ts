// vLLM's command-line forms of the profiler config (FlexibleArgumentParser + argparse + pydantic):
//   --profiler-config '<json>'   --profiler-config=<json>
//   --profiler-config.KEY=VALUE  --profiler-config.KEY VALUE   --profiler-config.KEY+ A,B (lists)
// `--profiler_config` is accepted too (vLLM turns underscores in an option name into dashes).

import { log } from '../util/log.js';
import { clip, describeGiven, type ProfilerConfigIssue } from './errors.js';
import { ProfilerConfigError } from './errors.js';
import { JsonSyntaxError, parseJson } from './json.js';
import { validateProfilerConfig, type ParseProfilerConfigOptions, type ProfilerConfigCoercion } from './parse.js';
import { PROFILER_CONFIG_KEYS, fieldKind, type ProfilerConfig, type ProfilerConfigKey } from './schema.js';

/**
 * Takes every `--profiler-config*` argument out of `argv` (`rest` keeps the others, in order, and
 * everything from a bare `--` on) and parses them with vLLM's precedence: the dotted keys are gathered
 * into one object (a later key wins, with vLLM's "Found duplicate keys" warning) appended AFTER all
 * arguments, and argparse keeps only the last value. So the config is the dotted keys if any, else the
 * last JSON; an earlier JSON is dropped (with a warning) but still validated, as argparse validates
 * every value it reads. A dotted value is JSON when it is JSON (`2024` is a number), else a
 * human-readable integer (1k = 1000, 1K = 1024), else the text. `config` is undefined when there were none.
 * @throws ProfilerConfigError listing every problem of every value, and malformed arguments.
 */
export function profilerConfigFromArgs(
  argv: readonly string[],
  options: ParseProfilerConfigOptions = {},
): { config: ProfilerConfig | undefined; rest: string[]; coerced: ProfilerConfigCoercion[] } {
  const rest: string[] = [];
  const issues: ProfilerConfigIssue[] = [];
  const values: { option: string; value: unknown }[] = [];
  const dotted: Record<string, unknown> = {};
  const duplicates = new Set<string>();
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
    const option = clip(arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg, 80);
    let text = parsed.inlineValue;
    if (text === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) {
        const example = parsed.key === undefined ? ` '{"profiler": "torch", "torch_profiler_dir": "./vllm_profile"}'` : '=VALUE or ' + `${option} VALUE`;
        issues.push({ path: parsed.key ?? '', message: `${option} expects a ${parsed.key === undefined ? 'JSON ' : ''}value, e.g. ${option}${example}.` });
        continue;
      }
      text = next;
      i++;
    }
    if (parsed.key === undefined) {
      try {
        values.push({ option, value: parseJson(text) });
      } catch (error) {
        if (!(error instanceof JsonSyntaxError)) throw error;
        issues.push({ path: '', message: `${option}: ${error.message}` });
      }
      continue;
    }
    const key = parsed.key.endsWith('+') ? parsed.key.slice(0, -1) : parsed.key;
    const problem = dottedKeyProblem(option, key, parsed.key.endsWith('+'));
    if (problem) {
      issues.push(problem);
      continue;
    }
    // vLLM's `KEY+ a,b`: a list of the comma-separated texts, appended to the key's list so far.
    const value = parsed.key.endsWith('+') ? [...(Array.isArray(dotted[key]) ? dotted[key] : []), ...text.split(',')] : vllmCliValue(text);
    if (Object.hasOwn(dotted, key) && !parsed.key.endsWith('+')) duplicates.add(key);
    Object.defineProperty(dotted, key, { value, enumerable: true, writable: true, configurable: true });
  }
  if (values.length === 0 && Object.keys(dotted).length === 0 && issues.length === 0) return { config: undefined, rest, coerced: [] };
  if (duplicates.size > 0) log.warn(`Found duplicate keys ${[...duplicates].map((k) => `profiler-config.${k}`).join(', ')}; the later value is used.`);
  if (Object.keys(dotted).length > 0) values.push({ option: '--profiler-config.KEY', value: dotted });
  if (values.length > 1) {
    log.warn(
      `--profiler-config given ${values.length} times (dotted keys count as one value, after all arguments); as in vLLM only the last is used: ` +
        `${values.length - 1} earlier value(s) ignored. Put every key in one JSON, or use only dotted keys.`,
    );
  }
  let last: ReturnType<typeof validateProfilerConfig> | undefined;
  for (const { option, value } of values) {
    try {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        const message =
          `${option}: given ${describeGiven(value)}; expected a JSON object such as '{"profiler": "torch", "torch_profiler_dir": ` +
          `"./vllm_profile"}'. To set one key use ${option}.KEY=VALUE.`;
        throw new ProfilerConfigError([{ path: '', message }]);
      }
      last = validateProfilerConfig(value, options);
    } catch (error) {
      if (!(error instanceof ProfilerConfigError)) throw error;
      issues.push(...error.issues);
      last = undefined;
    }
  }
  if (issues.length > 0 || !last) throw new ProfilerConfigError(issues);
  return { config: last.config, rest, coerced: last.coerced };
}

/** Recognizes `--profiler-config[.KEY][=VALUE]` (and `--profiler_config...`): key undefined for the JSON form. */
export function matchProfilerConfigArg(arg: string): { key: string | undefined; inlineValue: string | undefined } | undefined {
  if (!arg.startsWith('--')) return undefined;
  const body = arg.slice(2);
  const eq = body.indexOf('=');
  const head = eq < 0 ? body : body.slice(0, eq);
  const dot = head.indexOf('.');
  const name = dot < 0 ? head : head.slice(0, dot);
  if (name.replace(/_/g, '-') !== 'profiler-config') return undefined;
  return { key: dot < 0 ? undefined : head.slice(dot + 1), inlineValue: eq < 0 ? undefined : body.slice(eq + 1) };
}

function dottedKeyProblem(option: string, key: string, list: boolean): ProfilerConfigIssue | undefined {
  if (key === '') return { path: '', message: `${option}: missing key after the '.'; e.g. --profiler-config.delay_iterations=2.` };
  if (key.includes('.')) {
    const top = clip(key.slice(0, key.indexOf('.')), 80);
    return {
      path: top,
      message:
        `${option}: the profiler config is flat; ${JSON.stringify(top)} has no nested keys. Use --profiler-config.KEY=VALUE with one of: ` +
        `${PROFILER_CONFIG_KEYS.join(', ')}.`,
    };
  }
  if (list && (PROFILER_CONFIG_KEYS as string[]).includes(key) && fieldKind(key as ProfilerConfigKey) !== 'activities') {
    return {
      path: key,
      message:
        `${option}: the list form (KEY+) does not apply to ${key}, which takes one value (only torch_profiler_activities is a list). Use ` +
        `--profiler-config.${key}=VALUE.`,
    };
  }
  return undefined;
}

/** FlexibleArgumentParser's typing of a dotted value: json.loads, else human_readable_int, else the string. */
export function vllmCliValue(text: string): unknown {
  try {
    return parseJson(text);
  } catch {
    return humanReadableInt(text) ?? text;
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
    const decimal = { k: 1e3, m: 1e6, g: 1e9, t: 1e12 }[suffix];
    if (decimal !== undefined) return Math.trunc(Number(number) * decimal);
    // vLLM: "Decimals are not allowed with binary suffixes".
    return /^\d+$/.test(number) ? Number(number) * 2 ** (10 * ('KMGT'.indexOf(suffix) + 1)) : undefined;
  }
  // Python's int(): optional sign, digits with single underscores between them.
  return /^[+-]?\d+(?:_\d+)*$/.test(value) ? Number(value.replace(/_/g, '')) : undefined;
}
