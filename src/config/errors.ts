// ProfilerConfigError: one error that lists every problem with a config, each naming the field, what
// was given, what is expected and how to fix it. Echoed keys and values are clipped, so a huge input
// never makes a huge message.

import { WgprofError } from '../util/errors.js';
import { PROFILER_CONFIG_KEYS, PROFILER_KINDS, fieldKind, minimumOf } from './schema.js';
import type { ProfilerConfigKey } from './schema.js';
import { nearest } from './suggest.js';

export interface ProfilerConfigIssue {
  /** The field the problem is about; '' for the config as a whole (not an object, bad JSON, bad argument). */
  path: string;
  /** What is wrong, what was given and how to fix it (without the path prefix). */
  message: string;
}

export class ProfilerConfigError extends WgprofError {
  readonly issues: readonly ProfilerConfigIssue[];
  constructor(issues: ProfilerConfigIssue[], options?: { cause?: unknown }) {
    const lines = issues.map((issue) => `  - ${issue.path ? `${issue.path}: ` : ''}${issue.message.replace(/\n/g, '\n    ')}`);
    super(
      'PROFILER_CONFIG_INVALID',
      `invalid profiler config (${issues.length === 1 ? '1 problem' : `${issues.length} problems`}):\n${lines.join('\n')}`,
      options,
    );
    this.name = 'ProfilerConfigError';
    this.issues = issues;
  }
}

/** `text` cut to `max` characters (with "..." and the full length when cut). */
export function clip(text: string, max = 60): string {
  return text.length <= max ? text : `${text.slice(0, max)}... (${text.length} characters)`;
}

/** A value as the message shows it: `the string "x"`, `2.5`, `null`, `an array [...]`. Never throws. */
export function describeGiven(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return `the string ${clip(JSON.stringify(value))}`;
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value !== 'object') return `a ${typeof value}`;
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    // Cyclic, BigInt inside, or nested too deeply to serialize: say what it is, not what is in it.
  }
  const kind = Array.isArray(value) ? 'an array' : 'an object';
  return json === undefined ? kind : `${kind} ${clip(json)}`;
}

export function unknownKeyIssue(key: string): ProfilerConfigIssue {
  const shown = clip(key, 80);
  const why = key.startsWith('proton_')
    ? " It is a field of vLLM's Proton profiler (profiler 'proton': Triton on NVIDIA CUDA), which WebGPU does not have; remove it."
    : ` Did you mean "${nearest(key.slice(0, 80), PROFILER_CONFIG_KEYS)}"?`;
  return { path: shown, message: `unknown key ${JSON.stringify(shown)}.${why} Valid keys: ${PROFILER_CONFIG_KEYS.join(', ')}.` };
}

const ZERO_MEANS: Partial<Record<ProfilerConfigKey, string>> = {
  delay_iterations: '0 starts profiling immediately',
  max_iterations: '0 means no limit',
  warmup_iterations: '0 means no warmup',
  wait_iterations: '0 means no wait',
  active_iterations: 'iterations the schedule records',
};

/** Why `value` (as given; `coerced` is what lax conversion made of it) is not valid for `key`, with the fix. */
export function fieldValueIssue(key: ProfilerConfigKey, value: unknown, coerced: unknown = value): ProfilerConfigIssue {
  const given = describeGiven(value);
  const cli = `--profiler-config.${key}`;
  let message: string;
  switch (fieldKind(key)) {
    case 'boolean':
      message =
        `given ${given}; expected a boolean (true or false). Write true or false (vLLM also takes 1/0 and "yes"/"no", "on"/"off", ` +
        `"t"/"f", "y"/"n"), or ${cli}=true|false on the command line.`;
      break;
    case 'count': {
      const min = minimumOf(key);
      const meaning = ZERO_MEANS[key] ?? '';
      let fix = `Use a whole number of engine iterations such as 2 (${meaning}).`;
      if (typeof coerced === 'number' && coerced < min)
        fix = `${min === 0 ? 'Iterations cannot be negative' : 'It cannot be 0'}: use ${min} or more (${meaning}).`;
      else if (typeof coerced === 'number' && Number.isFinite(coerced) && !Number.isInteger(coerced)) {
        fix = `Round it to a whole number such as ${Math.max(min, Math.round(coerced))} (${meaning}).`;
      } else if (typeof coerced === 'number' && Number.isInteger(coerced)) fix = `Use a number no larger than ${Number.MAX_SAFE_INTEGER}.`;
      message = `given ${given}; expected an integer >= ${min}. ${fix}`;
      break;
    }
    case 'profiler': {
      let fix = `Use "torch" (in-process traces), "cuda" (external capture range) or null (profiling off).`;
      if (value === 'proton') fix = `vLLM's 'proton' profiler (Triton Proton) runs on NVIDIA CUDA only; on WebGPU use "torch" or "cuda".`;
      else if (typeof value === 'string' && /^\s*(null|none)\s*$/i.test(value))
        fix = `Write null without quotes to turn profiling off (${cli}=null on the command line).`;
      else if (typeof value === 'string') fix = `Did you mean "${nearest(value.slice(0, 80), PROFILER_KINDS)}"? ${fix}`;
      message = `given ${given}; expected "torch", "cuda" or null. ${fix}`;
      break;
    }
    case 'string': {
      const cliNote =
        typeof value === 'number' || typeof value === 'boolean' || value === null
          ? ` On the command line a value that is valid JSON is parsed as JSON, as vLLM does: quote it, e.g. ${cli}='"${String(value)}"'.`
          : '';
      message =
        `given ${given}; expected a directory path or URI as a string. Example: "torch_profiler_dir": "./vllm_profile" (or ` +
        `${cli}=./vllm_profile).${cliNote}`;
      break;
    }
    case 'activities':
      message =
        `given ${given}; expected a non-empty list of distinct activities from "CPU" and "CUDA" (the WebGPU device; there is no XPU), ` +
        `or null for both. Example: "torch_profiler_activities": ["CPU", "CUDA"] (or ${cli}+=CPU,CUDA).`;
      break;
  }
  return { path: key, message };
}
