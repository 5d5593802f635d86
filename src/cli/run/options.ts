// `wgprof run`'s options: parsing, bounds, and the checks that catch an impossible combination before
// the (slow) engine start, so every usage mistake exits 2 with a message naming the flag.

import { readFile } from 'node:fs/promises';
import type { ProfilerConfig } from '../../config/index.js';
import { DEFAULT_MAX_BATCH_TOKENS, DEFAULT_MAX_SLOTS } from '../../engine/engine.js';
import { getPreset, presetNames, type PresetName } from '../../engine/presets.js';
import type { GpuBackend } from '../../gpu/device.js';
import type { LaunchNames } from '../../trace/launch-names.js';
import { errorMessage } from '../../util/errors.js';
import { backendOption, choiceOption, intOption, launchNamesOption, numberOption, parseCommandArgs } from '../args.js';
import { UsageError } from '../command.js';

/** Prompts used when none are given (cycled through by --requests). */
export const DEFAULT_PROMPTS: readonly string[] = ['The quick brown fox', 'WebGPU inference profiling', 'Once upon a time,', 'Hello, world! Tell me about'];
export const DEFAULT_REQUESTS = 4;
export const DEFAULT_RUN_MAX_TOKENS = 16;
/** Every request and its text stay in memory until the run ends; 10M requests exhaust the V8 heap. */
export const MAX_REQUESTS = 100_000;
export const MAX_RUN_MAX_TOKENS = 1_000_000;
/** The engine dispatches one workgroup row per batch token; WebGPU's maxComputeWorkgroupsPerDimension is 65535. */
export const MAX_BATCH_TOKENS = 65_535;
export const MAX_SLOTS = 4096;

export interface RunOptions {
  model: PresetName;
  prompts: string[];
  requests: number;
  maxTokens: number;
  temperature: number;
  topK: number;
  stop: string[];
  seed: number;
  maxBatchTokens: number | undefined;
  maxSlots: number | undefined;
  backend: GpuBackend;
  json: boolean;
  quiet: boolean;
  profilerConfig: ProfilerConfig | undefined;
  /** --launch-names: how the trace names launches; undefined = the profiler's default ($WGPROF_LAUNCH_NAMES, else webgpu). */
  launchNames: LaunchNames | undefined;
}

const RUN_OPTIONS = {
  model: { type: 'string', example: 'tiny' },
  prompt: { type: 'string', multiple: true, example: '"Hello"' },
  'prompts-file': { type: 'string', example: 'prompts.txt' },
  requests: { type: 'string' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string', example: '0.8' },
  'top-k': { type: 'string' },
  stop: { type: 'string', multiple: true, example: '"."' },
  seed: { type: 'string' },
  'max-batch-tokens': { type: 'string' },
  'max-slots': { type: 'string' },
  backend: { type: 'string', example: 'auto' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
  'launch-names': { type: 'string', example: 'cuda' },
} as const;

/**
 * Parses `wgprof run` arguments (`--flag value` or `--flag=value`, and vLLM's `--profiler-config`
 * forms). Prompts from --prompts-file are read by `loadPrompts`; here the file name is kept. Throws
 * UsageError (and the profiler config's ProfilerConfigError) naming the flag, the value given and what is valid.
 */
export function parseRunArgs(argv: readonly string[]): RunOptions & { promptsFile: string | undefined } {
  const { values: v, profilerConfig } = parseCommandArgs(argv, { command: 'run', options: RUN_OPTIONS, profilerConfig: true });
  for (const [flag, list] of [
    ['--prompt', v.prompt],
    ['--stop', v.stop],
  ] as const) {
    if (list?.includes('')) throw new UsageError(`${flag} must not be empty.`);
  }
  const int = (flag: keyof typeof RUN_OPTIONS, min: number, max: number, what: string) => {
    const text = v[flag] as string | undefined;
    return text === undefined ? undefined : intOption(`--${flag}`, text, { min, max, what });
  };
  const options = {
    model: v.model === undefined ? 'tiny' : choiceOption('--model', v.model, presetNames),
    prompts: [...(v.prompt ?? [])],
    requests: int('requests', 1, MAX_REQUESTS, 'how many requests to run') ?? 0,
    maxTokens: int('max-tokens', 1, MAX_RUN_MAX_TOKENS, 'tokens to generate per request') ?? DEFAULT_RUN_MAX_TOKENS,
    temperature: v.temperature === undefined ? 1 : numberOption('--temperature', v.temperature, { min: 0, what: '0 = greedy' }),
    topK: int('top-k', -1, Number.MAX_SAFE_INTEGER, '0 or -1 = no limit') ?? 0,
    stop: [...(v.stop ?? [])],
    seed: v.seed === undefined ? 0 : /^-?\d+$/.test(v.seed) && Number.isSafeInteger(Number(v.seed)) ? Number(v.seed) : badSeed(v.seed),
    maxBatchTokens: int('max-batch-tokens', 1, MAX_BATCH_TOKENS, 'tokens per engine iteration; the engine dispatches one workgroup row per token'),
    maxSlots: int('max-slots', 1, MAX_SLOTS, 'requests decoding at once'),
    backend: v.backend === undefined ? 'auto' : backendOption(v.backend),
    json: v.json ?? false,
    quiet: v.quiet ?? false,
    profilerConfig,
    launchNames: launchNamesOption(v['launch-names'], profilerConfig?.profiler, process.env),
    promptsFile: v['prompts-file'],
  } satisfies RunOptions & { promptsFile: string | undefined };
  const slots = options.maxSlots ?? DEFAULT_MAX_SLOTS;
  const tokens = options.maxBatchTokens ?? DEFAULT_MAX_BATCH_TOKENS;
  if (tokens < slots) {
    // The engine's rule (vLLM's max_num_batched_tokens >= max_num_seqs): decoding requests would starve.
    throw new UsageError(
      `--max-batch-tokens (${tokens}) must be ≥ --max-slots (${slots}), so every running request can decode one token per iteration; ` +
        'raise --max-batch-tokens or lower --max-slots.',
    );
  }
  return options;
}

function badSeed(text: string): never {
  throw new UsageError(`--seed must be an integer; got ${JSON.stringify(text.slice(0, 80))}.`);
}

/** The final prompt list: --prompt values, then the file's lines; the built-in prompts when neither is given. */
export async function loadPrompts(options: { prompts: string[]; promptsFile: string | undefined }): Promise<string[]> {
  const prompts = [...options.prompts];
  if (options.promptsFile !== undefined) {
    let text: string;
    try {
      text = await readFile(options.promptsFile, 'utf8');
    } catch (error) {
      throw new UsageError(`--prompts-file ${JSON.stringify(options.promptsFile)} cannot be read: ${errorMessage(error)}.`);
    }
    const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
    if (lines.length === 0)
      throw new UsageError(`--prompts-file ${JSON.stringify(options.promptsFile)} has no prompts (one per line; empty lines are skipped).`);
    prompts.push(...lines);
  }
  return prompts.length > 0 ? prompts : [...DEFAULT_PROMPTS];
}

/** The limits WebGPU guarantees; the engine asks the adapter for more when the model needs more. */
const DEFAULT_BUFFER_BYTES = 134_217_728;

/**
 * Checks that the GPU buffers `options` need fit the adapter (asking it only when they exceed WebGPU's
 * default limits), so a too-large --max-batch-tokens or --max-slots is our usage error naming the flag
 * and its maximum, not Dawn's limit error.
 */
export async function checkDeviceLimits(options: RunOptions): Promise<void> {
  const config = getPreset(options.model);
  const maxSlots = options.maxSlots ?? DEFAULT_MAX_SLOTS;
  const maxBatchTokens = options.maxBatchTokens ?? DEFAULT_MAX_BATCH_TOKENS;
  const { modelDeviceLimits } = await import('../../engine/runner.js');
  const needed = modelDeviceLimits(config, { maxSlots, maxBatchTokens }).maxStorageBufferBindingSize;
  if (needed <= DEFAULT_BUFFER_BYTES) return;
  const { requestGpuDevice } = await import('../../gpu/device.js');
  let allowed: number;
  try {
    const runtime = await requestGpuDevice({ backend: options.backend });
    allowed = Math.min(runtime.adapter.limits.maxStorageBufferBindingSize, runtime.adapter.limits.maxBufferSize);
    runtime.destroy();
  } catch {
    return; // No device: the engine start reports that, with the fix.
  }
  if (needed <= allowed) return;
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  const limit = `this adapter allows at most ${mib(allowed)} per buffer (maxStorageBufferBindingSize / maxBufferSize)`;
  const { dModel: d, dFF, vocabSize, contextLength } = config;
  const model = 4 * Math.max(vocabSize * d, contextLength * d, 3 * d * d, d * dFF);
  if (model > allowed) {
    throw new UsageError(`--model ${config.name} needs a GPU buffer of ${mib(model)}, but ${limit}; use a smaller --model or an adapter with larger limits.`);
  }
  const perToken = 4 * Math.max(3 * d, dFF);
  const perSlot = 4 * Math.max(contextLength * d, vocabSize);
  const fixes: string[] = [];
  if (maxBatchTokens * perToken > allowed) fixes.push(`--max-batch-tokens ${Math.floor(allowed / perToken)} or less`);
  if (maxSlots * perSlot > allowed) fixes.push(`--max-slots ${Math.floor(allowed / perSlot)} or less`);
  throw new UsageError(
    `--max-batch-tokens ${maxBatchTokens} and --max-slots ${maxSlots} need a GPU buffer of ${mib(needed)} for model ${config.name}, but ${limit}: use ` +
      `${fixes.join(' and ')}.`,
  );
}
