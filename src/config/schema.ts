// vLLM's ProfilerConfig (vllm/config/profiler.py) as one zod schema: field names, types, defaults and
// docs (STYLE §4). The seed's 11 fields (vLLM v0.13-v0.15) come first, then the fields vLLM main added.
// Keys stay vLLM's flat snake_case so a user's `--profiler-config` JSON is accepted unchanged. The
// field types here are strict; parse.ts first converts inputs as pydantic's lax mode does ("2" → 2).
// zod/mini (the tree-shakable build, ~7 kB gzipped where classic zod is ~90 kB in the browser bundle):
// docs go into zod's global registry, which `z.toJSONSchema` and describeProfilerConfigFields read.

import * as z from 'zod/mini';

/** vLLM's `ProfilerKind`. */
export const PROFILER_KINDS = ['torch', 'cuda'] as const;
export type ProfilerKind = (typeof PROFILER_KINDS)[number];

/** vLLM's torch profiler activities; WebGPU has CPU and its GPU (mapped onto CUDA), no XPU. */
export const TORCH_PROFILER_ACTIVITIES = ['CPU', 'CUDA'] as const;

/** Registers the field's docs (vLLM's docstring, and what it means on WebGPU where that needs saying). */
function documented<T extends z.ZodMiniType>(schema: T, description: string, wgprof?: string): T {
  z.globalRegistry.add(schema, wgprof ? { description, wgprof } : { description });
  return schema;
}
const bool = (value: boolean, doc: string, wgprof?: string) => documented(z._default(z.boolean(), value), doc, wgprof);
const count = (value: number, min: number, doc: string, wgprof?: string) => documented(z._default(z.int().check(z.minimum(min)), value), doc, wgprof);

// Descriptions are vLLM's docstrings (whitespace collapsed); `wgprof` notes say what a field means on WebGPU.
const fields = {
  profiler: documented(
    z._default(z.nullable(z.enum(PROFILER_KINDS)), null),
    "Which profiler to use. Defaults to None. Options are:\n- 'torch': Use PyTorch profiler.\n- 'cuda': Use CUDA profiler.",
    "'torch': in-process capture, Kineto trace files in torch_profiler_dir. 'cuda': an external capture range (as vLLM's " +
      'cudaProfilerStart/Stop serves nsys): no in-process capture; the window is marked with performance.mark/measure, ' +
      "pushDebugGroup/popDebugGroup per iteration and, under Playwright, Chromium's own tracing.",
  ),
  torch_profiler_dir: documented(
    z._default(z.string(), ''),
    "Directory to save torch profiler traces. Both AsyncLLM's CPU traces and worker's traces (CPU & GPU) will be saved under " +
      'this directory. Note that it must be an absolute path.',
    "Required when profiler is 'torch'. Node: abspath(expanduser()); URIs (scheme://) kept verbatim if writable: file://, " +
      'http(s)://, s3:// and gs:// with their SDK package installed. Browser: a logical name for the trace sink; "~" is rejected.',
  ),
  torch_profiler_with_stack: bool(
    true,
    'If `True`, enables stack tracing in the torch profiler. Enabled by default.',
    'JavaScript stack frames recorded at dispatch time.',
  ),
  torch_profiler_with_flops: bool(
    false,
    'If `True`, enables FLOPS counting in the torch profiler. Disabled by default.',
    "FLOP estimates from each kernel's cost(shape); a kernel without an estimate gets none (never 0).",
  ),
  torch_profiler_use_gzip: bool(true, 'If `True`, saves torch profiler traces in gzip format. Enabled by default'),
  torch_profiler_dump_cuda_time_total: bool(
    true,
    'If `True`, dumps total CUDA time in torch profiler traces. Enabled by default.',
    'Writes {worker}.{time_ns}.profiler_out.txt beside the trace: a key-averages table sorted by self GPU time.',
  ),
  torch_profiler_record_shapes: bool(
    false,
    'If `True`, records tensor shapes in the torch profiler. Disabled by default.',
    'Input Dims / Input type on each op.',
  ),
  torch_profiler_with_memory: bool(
    false,
    'If `True`, enables memory profiling in the torch profiler. Disabled by default.',
    'GPU buffer (and query set, texture) allocations of the attached device: [memory] events and a counter track.',
  ),
  ignore_frontend: bool(
    false,
    "If `True`, disables the front-end profiling of AsyncLLM when using the 'torch' profiler. This is needed to reduce overhead " +
      'when using delay/limit options, since the front-end profiling does not track iterations and will capture the entire range.',
  ),
  delay_iterations: count(
    0,
    0,
    'Number of engine iterations to skip before starting profiling. Defaults to 0, meaning profiling starts immediately after ' + 'receiving /start_profile.',
  ),
  max_iterations: count(0, 0, 'Maximum number of engine iterations to profile after starting profiling. Defaults to 0, meaning no limit.'),
  // ---- vLLM main ----
  capture_torch_profiler: bool(
    false,
    'If `True`, enables a torch profiler during CUDA graph capture on rank 0. Traces are saved to a `capture_traces` subdirectory ' +
      "under `torch_profiler_dir`. Requires `profiler` to be set to 'torch'.",
    'WebGPU has no CUDA graph capture: accepted (with its rule) and logged as having no effect.',
  ),
  detailed_trace_annotation: bool(
    false,
    'If `True`, uses detailed annotations with roofline metrics (sk, sqsq, sqsk) in profiler trace events. If `False`, uses ' +
      'simple annotations with only context/generation request counts and token counts. Disabled by default.',
  ),
  warmup_iterations: count(
    0,
    0,
    'Number of warmup iterations for PyTorch profiler schedule. During warmup, the profiler runs but data is discarded. This helps ' +
      'reduce noise from JIT compilation and other one-time costs in the profiled trace. Defaults to 0 (schedule-based profiling ' +
      'disabled, recording all iterations). Set to a positive value (e.g., 2) to enable schedule-based profiling.',
  ),
  active_iterations: count(
    5,
    1,
    'Number of active iterations for PyTorch profiler schedule. This is the number of iterations where profiling data is actually ' +
      'collected. Defaults to 5 active iterations.',
  ),
  wait_iterations: count(
    0,
    0,
    'Number of wait iterations for PyTorch profiler schedule. During wait, the profiler is completely off with zero overhead. This ' +
      'allows skipping initial iterations before warmup begins. Defaults to 0 (no wait period).',
  ),
  torch_profiler_activities: documented(
    z._default(
      z.nullable(
        z.array(z.enum(TORCH_PROFILER_ACTIVITIES)).check(
          z.minLength(1),
          z.refine((list) => new Set(list).size === list.length),
        ),
      ),
      null,
    ),
    "Activities the torch profiler records (None = the platform's: CPU and the GPU). Requires `profiler` to be 'torch'.",
    "'CUDA' is the WebGPU device. Without 'CPU' the frontend (AsyncLLM) trace is not written.",
  ),
};

/** Fields that, like torch_profiler_dir, vLLM accepts only with profiler 'torch' (given a non-default value). */
const TORCH_ONLY: Record<string, string> = {
  capture_torch_profiler: 'Set "profiler": "torch", or remove capture_torch_profiler.',
  torch_profiler_activities: 'Set "profiler": "torch", or remove torch_profiler_activities.',
};

/** The fields without the cross-field rules (parse.ts applies those itself, once, so it can list every problem). */
export const profilerConfigFields = z.strictObject(fields);

/** The whole config, rules included, for callers that validate with zod directly. Use parseProfilerConfig for lax inputs and clear errors. */
export const profilerConfigSchema = profilerConfigFields.check(
  z.superRefine((config, ctx) => {
    for (const issue of crossFieldIssues(config)) ctx.addIssue({ code: 'custom', path: [issue.path], message: issue.message });
  }),
);

/** What callers may pass (every key optional). */
export type ProfilerConfigInput = z.input<typeof profilerConfigSchema>;
/** A validated config: every key present. */
export type ProfilerConfig = z.output<typeof profilerConfigSchema>;
export type ProfilerConfigKey = keyof ProfilerConfig;

/** Every key, in declaration order. */
export const PROFILER_CONFIG_KEYS = Object.keys(fields) as ProfilerConfigKey[];

/** vLLM's defaults (`ProfilerConfig()`). */
export const PROFILER_CONFIG_DEFAULTS: Readonly<ProfilerConfig> = Object.freeze(profilerConfigSchema.parse({}));

export const TORCH_DIR_HOW_TO_SET =
  'Set it with --profiler-config.torch_profiler_dir=./vllm_profile on the command line, or the JSON key "torch_profiler_dir": "./vllm_profile"';

/**
 * vLLM's `_validate_profiler_config` errors (its ValueError texts, then how to fix them): THE place for
 * the cross-field rules. Takes the object as given: fields of the wrong type are skipped here (they get
 * their own type error), so one error can list every problem.
 */
export function crossFieldIssues(config: Record<string, unknown>): { path: ProfilerConfigKey; message: string }[] {
  const issues: { path: ProfilerConfigKey; message: string }[] = [];
  const profiler = config['profiler'] ?? null;
  if (profiler !== null && profiler !== 'torch' && profiler !== 'cuda') return issues;
  const dir = config['torch_profiler_dir'] ?? '';
  if (typeof dir === 'string' && dir && profiler !== 'torch') {
    issues.push({
      path: 'torch_profiler_dir',
      message:
        `torch_profiler_dir is only applicable when profiler is set to 'torch' (given torch_profiler_dir ${JSON.stringify(dir)} with profiler ` +
        `${JSON.stringify(profiler)}). ` +
        `Set "profiler": "torch" to write traces there, or remove torch_profiler_dir.`,
    });
  }
  if (typeof dir === 'string' && profiler === 'torch' && !dir) {
    issues.push({
      path: 'torch_profiler_dir',
      message: `torch_profiler_dir must be set when profiler is 'torch' (given profiler "torch" and no torch_profiler_dir). ${TORCH_DIR_HOW_TO_SET}.`,
    });
  }
  for (const [key, fix] of Object.entries(TORCH_ONLY) as [ProfilerConfigKey, string][]) {
    const value = config[key];
    if (profiler !== 'torch' && value !== undefined && value !== null && value !== false) {
      issues.push({ path: key, message: `${key} is only applicable when profiler is set to 'torch' (given profiler ${JSON.stringify(profiler)}). ${fix}` });
    }
  }
  return issues;
}

/** vLLM's warning_once text (vllm/config/profiler.py). */
export const OVERHEAD_WARNING = "Using 'torch' profiler with delay_iterations or max_iterations while ignore_frontend is False may result in high overhead.";

/** Whether vLLM would log OVERHEAD_WARNING for this config. */
export function wantsOverheadWarning(config: Pick<ProfilerConfig, 'profiler' | 'delay_iterations' | 'max_iterations' | 'ignore_frontend'>): boolean {
  return config.profiler === 'torch' && (config.delay_iterations > 0 || config.max_iterations > 0) && !config.ignore_frontend;
}

/** vLLM's `ProfilerConfig.should_profile_frontend`: the AsyncLLM (frontend) trace is recorded. */
export function shouldProfileFrontend(config: ProfilerConfig): boolean {
  const activities = config.torch_profiler_activities;
  return config.profiler === 'torch' && !config.ignore_frontend && (activities === null || activities.includes('CPU'));
}

export type ProfilerConfigFieldKind = 'profiler' | 'string' | 'boolean' | 'count' | 'activities';

const KIND_BY_TYPE: Record<string, ProfilerConfigFieldKind> = { string: 'string', boolean: 'boolean', number: 'count', array: 'activities' };

/** The field's kind, from its schema (decides how a value is coerced and how a bad one is explained). */
export function fieldKind(key: ProfilerConfigKey): ProfilerConfigFieldKind {
  if (key === 'profiler') return 'profiler';
  type Def = { type: string; innerType?: { def: Def } };
  const inner = (fields[key].def.innerType as { def: Def }).def;
  return KIND_BY_TYPE[inner.type === 'nullable' ? inner.innerType!.def.type : inner.type]!;
}

/** The least value of a count field (0, or 1 for active_iterations). */
export function minimumOf(key: ProfilerConfigKey): number {
  return key === 'active_iterations' ? 1 : 0;
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
  count: 'integer >= MIN',
  activities: "list of 'CPU' | 'CUDA', or null",
};

/** Every field with its type, default and description, in declaration order (for --help and the README). */
export function describeProfilerConfigFields(): ProfilerConfigFieldInfo[] {
  return PROFILER_CONFIG_KEYS.map((name) => {
    const meta = z.globalRegistry.get(fields[name]) as { description?: string; wgprof?: string } | undefined;
    const type = TYPE_NAMES[fieldKind(name)].replace('MIN', String(minimumOf(name)));
    const info: ProfilerConfigFieldInfo = { name, type, default: PROFILER_CONFIG_DEFAULTS[name], description: meta?.description ?? '' };
    if (meta?.wgprof) info.wgprof = meta.wgprof;
    return info;
  });
}
