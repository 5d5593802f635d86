// vLLM's ProfilerConfig (vllm/config/profiler.py, v0.13-v0.15 field set) as one zod schema: the single
// source of truth for field names, types, defaults, docs and the cross-field rules (STYLE §4).
// Keys stay vLLM's flat snake_case so a user's `--profiler-config` JSON is accepted unchanged.
//
// Types are JSON's: in an object or JSON text a boolean must be true/false and a count a whole number.
// (vLLM's pydantic runs in lax mode and would also take "true", 1 or "2" there; wgprof reports those
// with the fix instead. The dotted CLI form, where everything is text, is typed leniently: args.ts.)
//
// The schema itself is pure. parseProfilerConfig (parse.ts) adds what depends on the runtime or has a
// side effect: making torch_profiler_dir absolute, and vLLM's once-only overhead warning.

import { z } from 'zod';

/** vLLM's `ProfilerKind`. */
export const PROFILER_KINDS = ['torch', 'cuda'] as const;
export type ProfilerKind = (typeof PROFILER_KINDS)[number];

// Descriptions are vLLM's docstrings (whitespace collapsed). `wgprof` notes say what the field means on WebGPU.
export const profilerConfigSchema = z
  .strictObject({
    profiler: z
      .enum(PROFILER_KINDS)
      .nullable()
      .default(null)
      .describe("Which profiler to use. Defaults to None. Options are:\n- 'torch': Use PyTorch profiler.\n- 'cuda': Use CUDA profiler.")
      .meta({
        wgprof:
          "'torch': in-process capture, Kineto trace files in torch_profiler_dir. 'cuda': an external capture range (as vLLM's cudaProfilerStart/Stop serves nsys): no in-process capture; the window is marked with performance.mark/measure, pushDebugGroup/popDebugGroup per iteration and, under Playwright, Chromium's own tracing.",
      }),
    torch_profiler_dir: z
      .string()
      .default('')
      .describe(
        "Directory to save torch profiler traces. Both AsyncLLM's CPU traces and worker's traces (CPU & GPU) will be saved under this directory. Note that it must be an absolute path.",
      )
      .meta({
        wgprof:
          'Required when profiler is \'torch\', rejected otherwise. Node: "~" is expanded and a relative path made absolute; URIs (scheme://, scheme longer than one character, e.g. gs://, s3://, https://) are kept verbatim. Browser: kept verbatim as a logical name that the trace sink maps to a download, OPFS folder or callback; "~" is rejected.',
      }),
    torch_profiler_with_stack: z
      .boolean()
      .default(true)
      .describe('If `True`, enables stack tracing in the torch profiler. Enabled by default.')
      .meta({ wgprof: 'JavaScript stack frames recorded at dispatch time.' }),
    torch_profiler_with_flops: z
      .boolean()
      .default(false)
      .describe('If `True`, enables FLOPS counting in the torch profiler. Disabled by default.')
      .meta({ wgprof: "FLOP estimates from each kernel's cost(shape); a kernel without an estimate gets none (never 0)." }),
    torch_profiler_use_gzip: z
      .boolean()
      .default(true)
      .describe('If `True`, saves torch profiler traces in gzip format. Enabled by default'),
    torch_profiler_dump_cuda_time_total: z
      .boolean()
      .default(true)
      .describe('If `True`, dumps total CUDA time in torch profiler traces. Enabled by default.')
      .meta({ wgprof: 'Writes profiler_out_{rank}.txt, a key-averages table sorted by self GPU time.' }),
    torch_profiler_record_shapes: z
      .boolean()
      .default(false)
      .describe('If `True`, records tensor shapes in the torch profiler. Disabled by default.')
      .meta({ wgprof: 'Input Dims / Input type on each op.' }),
    torch_profiler_with_memory: z
      .boolean()
      .default(false)
      .describe('If `True`, enables memory profiling in the torch profiler. Disabled by default.')
      .meta({ wgprof: 'GPU buffer (and query set, texture) allocations of the attached device: [memory] events and a counter track.' }),
    ignore_frontend: z
      .boolean()
      .default(false)
      .describe(
        "If `True`, disables the front-end profiling of AsyncLLM when using the 'torch' profiler. This is needed to reduce overhead when using delay/limit options, since the front-end profiling does not track iterations and will capture the entire range.",
      ),
    delay_iterations: z
      .int()
      .min(0)
      .default(0)
      .describe(
        'Number of engine iterations to skip before starting profiling. Defaults to 0, meaning profiling starts immediately after receiving /start_profile.',
      ),
    max_iterations: z
      .int()
      .min(0)
      .default(0)
      .describe('Maximum number of engine iterations to profile after starting profiling. Defaults to 0, meaning no limit.'),
  })
  // Runs even when a field has the wrong type (`when`), so one error lists every problem; the rules
  // only look at fields whose values are well-typed.
  .superRefine(
    (config, ctx) => {
      for (const issue of crossFieldIssues(config)) ctx.addIssue({ code: 'custom', path: [issue.path], message: issue.message });
    },
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value) },
  );

/** What callers may pass (every key optional). */
export type ProfilerConfigInput = z.input<typeof profilerConfigSchema>;
/** A validated config: all 11 keys present. */
export type ProfilerConfig = z.output<typeof profilerConfigSchema>;
export type ProfilerConfigKey = keyof ProfilerConfig;

const shape = profilerConfigSchema.shape;

/** The 11 keys in vLLM's declaration order. */
export const PROFILER_CONFIG_KEYS = Object.keys(shape) as ProfilerConfigKey[];

/** vLLM's defaults (`ProfilerConfig()`). */
export const PROFILER_CONFIG_DEFAULTS: Readonly<ProfilerConfig> = Object.freeze(profilerConfigSchema.parse({}));

export const TORCH_DIR_HOW_TO_SET =
  'Set it with --profiler-config.torch_profiler_dir=./vllm_profile on the command line, or the JSON key "torch_profiler_dir": "./vllm_profile"';

/**
 * vLLM's `_validate_profiler_config` errors (its ValueError texts, then how to fix them). Takes the
 * raw object: fields of the wrong type are skipped here (they get their own type error).
 */
export function crossFieldIssues(config: Record<string, unknown>): { path: ProfilerConfigKey; message: string }[] {
  const issues: { path: ProfilerConfigKey; message: string }[] = [];
  const profiler = config['profiler'] ?? null;
  const dir = config['torch_profiler_dir'] ?? '';
  const profilerOk = profiler === null || profiler === 'torch' || profiler === 'cuda';
  if (!profilerOk || typeof dir !== 'string') return issues;
  if (dir && profiler !== 'torch') {
    issues.push({
      path: 'torch_profiler_dir',
      message:
        `torch_profiler_dir is only applicable when profiler is set to 'torch' (given torch_profiler_dir ${JSON.stringify(dir)} with profiler ${JSON.stringify(profiler)}). ` +
        `Set "profiler": "torch" to write traces there, or remove torch_profiler_dir.`,
    });
  }
  if (profiler === 'torch' && !dir) {
    issues.push({
      path: 'torch_profiler_dir',
      message: `torch_profiler_dir must be set when profiler is 'torch' (given profiler "torch" and no torch_profiler_dir). ${TORCH_DIR_HOW_TO_SET}.`,
    });
  }
  return issues;
}

/** vLLM's warning_once text (vllm/config/profiler.py). */
export const OVERHEAD_WARNING =
  "Using 'torch' profiler with delay_iterations or max_iterations while ignore_frontend is False may result in high overhead.";

/** Whether vLLM would log OVERHEAD_WARNING for this config. */
export function wantsOverheadWarning(config: ProfilerConfig): boolean {
  const hasDelayOrLimit = config.delay_iterations > 0 || config.max_iterations > 0;
  return config.profiler === 'torch' && hasDelayOrLimit && !config.ignore_frontend;
}

export type ProfilerConfigFieldKind = 'profiler' | 'string' | 'boolean' | 'count';

/** The field's kind, from its schema (decides how a CLI value is typed and how a bad value is explained). */
export function fieldKind(key: ProfilerConfigKey): ProfilerConfigFieldKind {
  const def = shape[key].def.innerType.def;
  switch (def.type) {
    case 'nullable':
      return 'profiler';
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'number':
      return 'count';
    default:
      throw new Error(`profiler config field ${key} has unexpected schema type ${(def as { type: string }).type}`);
  }
}

export interface ProfilerConfigFieldInfo {
  name: ProfilerConfigKey;
  /** Human-readable type, e.g. "'torch' | 'cuda' | null", "boolean", "integer >= 0". */
  type: string;
  default: ProfilerConfig[ProfilerConfigKey];
  /** vLLM's docstring. */
  description: string;
  /** What the field means on WebGPU, where that needs saying. */
  wgprof?: string;
}

const TYPE_NAMES: Record<ProfilerConfigFieldKind, string> = {
  profiler: "'torch' | 'cuda' | null",
  string: 'string (path or URI)',
  boolean: 'boolean',
  count: 'integer >= 0',
};

/** Every field with its type, default and description, in declaration order (for --help and the README). */
export function describeProfilerConfigFields(): ProfilerConfigFieldInfo[] {
  return PROFILER_CONFIG_KEYS.map((name) => {
    const meta = shape[name].meta() as { description?: string; wgprof?: string } | undefined;
    const info: ProfilerConfigFieldInfo = {
      name,
      type: TYPE_NAMES[fieldKind(name)],
      default: PROFILER_CONFIG_DEFAULTS[name],
      description: meta?.description ?? '',
    };
    if (meta?.wgprof) info.wgprof = meta.wgprof;
    return info;
  });
}
