// vLLM's ProfilerConfig for wgprof: schema, parsing (object, JSON text, CLI arguments) and hash.
export {
  profilerConfigSchema,
  PROFILER_CONFIG_DEFAULTS,
  PROFILER_CONFIG_KEYS,
  PROFILER_KINDS,
  OVERHEAD_WARNING,
  describeProfilerConfigFields,
  shouldProfileFrontend,
} from './schema.js';
export type { ProfilerConfig, ProfilerConfigInput, ProfilerConfigKey, ProfilerKind, ProfilerConfigFieldInfo } from './schema.js';
export { parseProfilerConfig, validateProfilerConfig, computeHash, OVERHEAD_WARNING_KEY } from './parse.js';
export type { ParseProfilerConfigOptions, ProfilerConfigCoercion } from './parse.js';
export { profilerConfigFromArgs } from './args.js';
export { ProfilerConfigError } from './errors.js';
export type { ProfilerConfigIssue } from './errors.js';
export { isUriPath } from './paths.js';
