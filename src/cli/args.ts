// The one argument parser of every `wgprof` command: vLLM's `--profiler-config` forms first (a pre-pass,
// see src/config/args.ts), then node:util parseArgs for the command's own options, with "did you mean"
// for unknown options and value helpers that accept decimal integers only.
//
//   const args = parseCommandArgs(argv, {
//     command: 'report',
//     options: { out: { type: 'string', example: 'report.html' }, open: { type: 'boolean' } },
//     positionals: { name: 'TRACE', min: 1, max: 1 },
//   });
//   args.values.out; args.positionals[0];
//   const limit = intOption('--limit', args.values.limit ?? '100', { min: 1, max: 10_000, what: 'rows' });
//
// Every problem is a UsageError (exit 2), or the config's ProfilerConfigError (also exit 2).

import { parseArgs } from 'node:util';
import { profilerConfigFromArgs, type ParseProfilerConfigOptions, type ProfilerConfig, type ProfilerConfigCoercion } from '../config/index.js';
import { editDistance } from '../config/suggest.js';
import type { GpuBackend } from '../gpu/device.js';
import { LAUNCH_NAMES, launchNamesFromEnv, type LaunchNames } from '../trace/launch-names.js';
import { errorMessage } from '../util/errors.js';
import { UsageError } from './command.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** Repeatable; the values come as an array. */
  multiple?: boolean;
  /** A sample value for "--x needs a value (e.g. --x SAMPLE)". */
  example?: string;
}

export interface CommandArgsSpec<O extends Record<string, OptionSpec>> {
  /** The command's name, for "see wgprof NAME --help". */
  command: string;
  /** Long options without the leading "--". */
  options: O;
  /** Positional arguments; none unless given. */
  positionals?: { name: string; min?: number; max?: number };
  /** Take vLLM's `--profiler-config` forms (with these parse options). */
  profilerConfig?: boolean | ParseProfilerConfigOptions;
}

type ValueOf<S extends OptionSpec> = S['type'] extends 'boolean' ? boolean : S['multiple'] extends true ? string[] : string;

export interface CommandArgs<O extends Record<string, OptionSpec>> {
  values: { [K in keyof O]?: ValueOf<O[K]> };
  positionals: string[];
  /** The parsed `--profiler-config`, when the spec takes it and it was given. */
  profilerConfig: ProfilerConfig | undefined;
  /** Config values converted as vLLM's pydantic converts them in lax mode ("2" → 2). */
  coerced: ProfilerConfigCoercion[];
}

/** Parses `argv` (the arguments after the command name) by `spec`; throws UsageError or ProfilerConfigError. */
export function parseCommandArgs<O extends Record<string, OptionSpec>>(argv: readonly string[], spec: CommandArgsSpec<O>): CommandArgs<O> {
  let rest: readonly string[] = argv;
  let profilerConfig: ProfilerConfig | undefined;
  let coerced: ProfilerConfigCoercion[] = [];
  if (spec.profilerConfig) {
    ({ config: profilerConfig, rest, coerced } = profilerConfigFromArgs(argv, spec.profilerConfig === true ? {} : spec.profilerConfig));
  }
  // Normalize `--flag value` to `--flag=value` so a value may start with "-" (parseArgs would call
  // `--seed -5` ambiguous), and check option names here to suggest the nearest one.
  const normalized: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--') {
      normalized.push(...rest.slice(i));
      break;
    }
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      normalized.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const option = Object.hasOwn(spec.options, name) && arg.startsWith('--') ? spec.options[name]! : undefined;
    if (!option) throw unknownOption(arg, spec);
    if (option.type === 'boolean') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value (given ${JSON.stringify(clipArg(arg))}).`);
      normalized.push(arg);
    } else if (eq >= 0) normalized.push(arg);
    else if (rest[i + 1] === undefined) throw new UsageError(`--${name} needs a value (e.g. --${name} ${option.example ?? '16'}).`);
    else normalized.push(`--${name}=${rest[++i]!}`);
  }
  const options = Object.fromEntries(Object.entries(spec.options).map(([name, o]) => [name, { type: o.type, multiple: o.multiple ?? false }]));
  let parsed;
  try {
    parsed = parseArgs({ args: normalized, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message} (see wgprof ${spec.command} --help).`);
  }
  const { name = 'ARGUMENT', min = 0, max = 0 } = spec.positionals ?? {};
  if (parsed.positionals.length > max) {
    const extra = parsed.positionals[max]!;
    throw new UsageError(
      `unexpected argument ${JSON.stringify(clipArg(extra))}${max > 0 ? ` (at most ${max} ${name})` : ''} (see wgprof ${spec.command} --help).`,
    );
  }
  if (parsed.positionals.length < min) throw new UsageError(`missing ${name} (see wgprof ${spec.command} --help).`);
  return { values: { ...parsed.values } as CommandArgs<O>['values'], positionals: parsed.positionals, profilerConfig, coerced };
}

function clipArg(arg: string): string {
  return arg.length > 80 ? `${arg.slice(0, 80)}...` : arg;
}

function unknownOption(arg: string, spec: CommandArgsSpec<Record<string, OptionSpec>>): UsageError {
  const name = clipArg(arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg);
  const valid = [...Object.keys(spec.options).map((o) => `--${o}`), ...(spec.profilerConfig ? ['--profiler-config'] : []), '--help'];
  const close = valid.map((f) => [f, editDistance(name, f)] as const).sort((a, b) => a[1] - b[1])[0];
  const hint = close && close[1] <= 3 ? ` Did you mean ${close[0]}?` : '';
  return new UsageError(`unknown option ${JSON.stringify(clipArg(arg))}.${hint} Valid options: ${valid.join(', ')} (see wgprof ${spec.command} --help).`);
}

/** A decimal integer flag value within [min, max] (no hex, exponent, fraction or spaces). */
export function intOption(flag: string, text: string, { min, max = Number.MAX_SAFE_INTEGER, what }: { min: number; max?: number; what: string }): number {
  const value = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${flag} must be an integer ≥ ${min} (${what}); got ${JSON.stringify(clipArg(text))}.`);
  }
  if (value > max) throw new UsageError(`${flag} is ${value}; the most it can be is ${max} (${what}).`);
  return value;
}

/** A decimal number flag value ≥ min. */
export function numberOption(flag: string, text: string, { min, what }: { min: number; what: string }): number {
  const value = /^-?(\d+\.?\d*|\.\d+)$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= min)) throw new UsageError(`${flag} must be a number ≥ ${min} (${what}); got ${JSON.stringify(clipArg(text))}.`);
  return value;
}

/** One of `choices`. */
export function choiceOption<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(text)) return text as T;
  throw new UsageError(`${flag} must be one of ${choices.join(', ')}; got ${JSON.stringify(clipArg(text))}.`);
}

/**
 * `--launch-names` (webgpu or cuda), only with a 'torch' profiler config; undefined when not given (the
 * Profiler then takes $WGPROF_LAUNCH_NAMES, checked here so that a bad value is a usage error before
 * the engine starts).
 */
export function launchNamesOption(
  text: string | undefined,
  profiler: string | null | undefined,
  env: Readonly<Record<string, string | undefined>>,
): LaunchNames | undefined {
  if (text === undefined) {
    if (profiler === 'torch') {
      try {
        launchNamesFromEnv(env);
      } catch (error) {
        throw new UsageError(errorMessage(error));
      }
    }
    return undefined;
  }
  const names = choiceOption('--launch-names', text, LAUNCH_NAMES);
  if (profiler !== 'torch') throw new UsageError('--launch-names names the launches in the trace files: it needs --profiler-config with "profiler": "torch".');
  return names;
}

/** `--backend`: auto, vulkan or null. */
export function backendOption(text: string): GpuBackend {
  if (text === 'auto' || text === 'vulkan' || text === 'null') return text;
  throw new UsageError(`--backend must be auto, vulkan or null; got ${JSON.stringify(clipArg(text))}.`);
}
