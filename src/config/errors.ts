// ProfilerConfigError: one error that lists every problem with a config, each naming the field, what
// was given, what is expected and how to fix it. Messages are written here from the field's kind and
// the value given, not taken from zod's generic texts.

import type { z } from 'zod';
import { WgprofError } from '../util/errors.js';
import { PROFILER_CONFIG_KEYS, PROFILER_KINDS, fieldKind } from './schema.js';
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
    super('PROFILER_CONFIG_INVALID', formatIssues(issues), options);
    this.name = 'ProfilerConfigError';
    this.issues = issues;
  }
}

function formatIssues(issues: readonly ProfilerConfigIssue[]): string {
  const lines = issues.map((issue) => `  - ${issue.path ? `${issue.path}: ` : ''}${issue.message.replace(/\n/g, '\n    ')}`);
  const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
  return `invalid profiler config (${count}):\n${lines.join('\n')}`;
}

/** Fields vLLM added after the v0.13-v0.15 ProfilerConfig that wgprof mirrors; named so the error can say so. */
const NEWER_VLLM_FIELDS: Record<string, string> = {
  warmup_iterations: 'torch.profiler.schedule',
  active_iterations: 'torch.profiler.schedule',
  wait_iterations: 'torch.profiler.schedule',
  capture_torch_profiler: 'capture control',
  detailed_trace_annotation: 'trace annotation',
  torch_profiler_activities: 'activity selection',
};

/** A value as the message shows it: `the string "x"`, `2.5`, `null`, `an array [...]`. */
export function describeGiven(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  let json: string;
  try {
    json = JSON.stringify(value) ?? String(value);
  } catch {
    json = String(value);
  }
  if (json.length > 60) json = `${json.slice(0, 57)}...`;
  return Array.isArray(value) ? `an array ${json}` : typeof value === 'object' ? `an object ${json}` : `${typeof value} ${json}`;
}

export function unknownKeyIssue(key: string): ProfilerConfigIssue {
  const suggestion = nearest(key, PROFILER_CONFIG_KEYS);
  const newer = NEWER_VLLM_FIELDS[key];
  const why = newer
    ? ` It is a field of newer vLLM releases (${newer}) that wgprof does not support; remove it.`
    : ` Did you mean "${suggestion}"?`;
  return {
    path: key,
    message: `unknown key ${JSON.stringify(key)}.${why} Valid keys: ${PROFILER_CONFIG_KEYS.join(', ')}.`,
  };
}

/** The problem with `value` given for `key`, or undefined when the value has the right type and range. */
export function fieldValueIssue(key: ProfilerConfigKey, value: unknown): ProfilerConfigIssue | undefined {
  const given = describeGiven(value);
  const cli = `--profiler-config.${key}`;
  switch (fieldKind(key)) {
    case 'boolean': {
      if (typeof value === 'boolean') return undefined;
      let fix = `Write true or false (JSON booleans, no quotes), or ${cli}=true|false on the command line.`;
      if (typeof value === 'string' && /^(true|false)$/i.test(value)) fix = `Write ${value.toLowerCase()} without quotes.`;
      if (value === 1 || value === 0) fix = `Write ${value === 1 ? 'true' : 'false'} instead of ${value}.`;
      return { path: key, message: `given ${given}; expected a boolean (true or false). ${fix}` };
    }
    case 'count': {
      if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return undefined;
      const meaning = key === 'delay_iterations' ? '0 starts profiling immediately' : '0 means no limit';
      let fix = `Use a whole number of engine iterations such as 2 (${meaning}).`;
      if (typeof value === 'number' && value < 0) fix = `Iterations cannot be negative: use 0 or more (${meaning}).`;
      else if (typeof value === 'number' && Number.isFinite(value) && !Number.isInteger(value)) fix = `Round it to a whole number such as ${Math.max(0, Math.round(value))} (${meaning}).`;
      else if (typeof value === 'number' && Number.isInteger(value)) fix = `Use a number no larger than ${Number.MAX_SAFE_INTEGER}.`;
      else if (typeof value === 'string' && /^\s*\d+\s*$/.test(value)) fix = `Write ${value.trim()} without quotes.`;
      return { path: key, message: `given ${given}; expected an integer >= 0. ${fix}` };
    }
    case 'profiler': {
      if (value === null || (PROFILER_KINDS as readonly unknown[]).includes(value)) return undefined;
      let fix = `Use "torch" (in-process traces), "cuda" (external capture range) or null (profiling off).`;
      if (typeof value === 'string') {
        if (/^(null|none)$/i.test(value.trim())) fix = 'Write null without quotes to turn profiling off.';
        else fix = `Did you mean "${nearest(value, PROFILER_KINDS)}"? ${fix}`;
      }
      return { path: key, message: `given ${given}; expected "torch", "cuda" or null. ${fix}` };
    }
    case 'string': {
      if (typeof value === 'string') return undefined;
      return {
        path: key,
        message: `given ${given}; expected a directory path or URI as a string. Example: "torch_profiler_dir": "./vllm_profile" (or ${cli}=./vllm_profile).`,
      };
    }
  }
}

/**
 * Turns zod's issues for `input` into ProfilerConfigIssues: one per unknown key, one per bad field
 * (explained from the value given), custom (cross-field) messages as they are. Deduplicated.
 */
export function issuesFromZod(zodIssues: readonly z.core.$ZodIssue[], input: Record<string, unknown>): ProfilerConfigIssue[] {
  const out: ProfilerConfigIssue[] = [];
  const seen = new Set<string>();
  const add = (issue: ProfilerConfigIssue) => {
    const id = `${issue.path}\u0000${issue.message}`;
    if (seen.has(id)) return;
    seen.add(id);
    out.push(issue);
  };
  const explainedFields = new Set<string>();
  for (const issue of zodIssues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) add(unknownKeyIssue(key));
      continue;
    }
    const field = issue.path[0];
    if (issue.code === 'custom') {
      add({ path: typeof field === 'string' ? field : '', message: issue.message });
      continue;
    }
    if (typeof field === 'string' && (PROFILER_CONFIG_KEYS as readonly string[]).includes(field)) {
      if (explainedFields.has(field)) continue;
      explainedFields.add(field);
      add(
        fieldValueIssue(field as ProfilerConfigKey, input[field]) ?? {
          // zod found something the explanations above do not cover; say it in zod's words.
          path: field,
          message: `given ${describeGiven(input[field])}; ${issue.message}`,
        },
      );
      continue;
    }
    add({ path: issue.path.join('.'), message: issue.message });
  }
  return out;
}
