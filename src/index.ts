// `wgprof`: the public API, an explicit list (test/unit/api-report.test.ts checks it against
// test/unit/api/*.api.txt; `npm run api-report` rewrites those after a deliberate change).
// Node loads dist/index.js; bundlers for the browser, and pages, load dist/browser/wgprof.js (the
// `browser` export condition). The same names either way. Optional parts are subpaths:
// wgprof/engine (the inference engine), wgprof/ort, wgprof/auto, wgprof/playwright.

// Profiling any WebGPU workload: attach to a device, start, step per iteration, stop.
export { Profiler, createProfiler } from './profiler/profiler.js';
export type { ProfilerOptions, TraceKind } from './profiler/profiler.js';
export { ProfilerExportError } from './profiler/failures.js';
export type { ProfileFailure } from './profiler/failures.js';
export { noProfiler } from './profiler/hooks.js';
export type { EngineProfilerHooks, ProfileStartOptions, ProfileStopOptions } from './profiler/hooks.js';
export type { LaunchNames } from './trace/launch-names.js';
// 'cuda' mode under Playwright: resolves once Chromium's tracing really started or stopped at a window edge.
export { captureRangeSettled } from './profiler/cuda-range.js';
export type { RangeEdge } from './profiler/cuda-range.js';
export type { StepCosts } from './trace/plan.js';

// vLLM's ProfilerConfig: parse (object, JSON text, CLI arguments), defaults, docs, hash.
export {
  parseProfilerConfig,
  validateProfilerConfig,
  profilerConfigFromArgs,
  shouldProfileFrontend,
  computeHash,
  ProfilerConfigError,
  profilerConfigSchema,
  PROFILER_CONFIG_DEFAULTS,
  PROFILER_CONFIG_KEYS,
  describeProfilerConfigFields,
} from './config/index.js';
export type {
  ProfilerConfig,
  ProfilerConfigInput,
  ProfilerConfigKey,
  ProfilerKind,
  ProfilerConfigIssue,
  ProfilerConfigFieldInfo,
  ParseProfilerConfigOptions,
  ProfilerConfigCoercion,
} from './config/index.js';

// A device: the page's navigator.gpu, or dawn.node (the `webgpu` package) under Node.
export { requestGpuDevice } from './gpu/device.js';
export type { GpuBackend, GpuDeviceOptions, GpuRuntime } from './gpu/device.js';

// Naming and costing dispatches: kernel descriptors, and the hint that ties a dispatch to one.
export { defineKernel, ceilDiv } from '../kernels/define.js';
export type { KernelDescriptor, Workgroups } from '../kernels/define.js';
export { noteDispatch } from './instrument/hints.js';

// What a capture holds (handed to ProfilerOptions.beforeExport / onCapture, and to writeTrace).
export type {
  AdapterFacts,
  CaptureRecord,
  ClockFit,
  CopyRecord,
  CpuSpanRecord,
  DispatchRecord,
  KernelCost,
  MemoryRecord,
  StepRecord,
  TimestampInfo,
  TimestampMode,
  TraceMeta,
} from './capture/model.js';

// Writing traces, and where they go.
export { writeTrace } from './trace/write.js';
export type { GzipEngine, WriteTraceOptions, WrittenTrace } from './trace/write.js';
export type { TraceBuildOptions } from './trace/plan.js';
export { CallbackSink, DownloadSink, FsSink, GcsSink, HttpSink, OpfsSink, S3Sink, TraceSinkError, sinkForDir } from './trace/sinks.js';
export type {
  HttpSinkOptions,
  ObjectStoreSinkOptions,
  RetryOptions,
  SinkForDirOptions,
  TraceSink,
  TraceSinkErrorCode,
  TraceSinkWriter,
  UploadSinkOptions,
} from './trace/sinks.js';
export type { KinetoTrace, TraceArgs, TraceDeviceProperties, TraceDistributedInfo, TraceEvent, TraceJson, TraceProvenance } from './trace/kineto.js';

// Reading traces back: whole or streamed, the contract validator, torch-style key averages.
export { parseTraceBytes, parseTraceFile } from './report/parse.js';
export { readTrace, readTraceBytes } from './report/read.js';
export type { ReadTraceOptions, TraceEventHandler, TraceReadResult } from './report/read.js';
export { validateTrace } from './report/validate.js';
export type { ValidateTraceOptions } from './report/validate.js';
export { checkStepTotals } from './report/step-totals.js';
export type { StepTotalsCheck } from './report/step-totals.js';
export { htaModel, htaCriticalPath } from './report/hta.js';
export type { HtaCriticalPath, HtaModel, HtaRow } from './report/hta.js';
export { keyAverages, sortKeyAverages, formatKeyAveragesTable, KeyAveragesAccumulator, KEY_AVERAGES_SORT_KEYS } from './report/key-averages.js';
export type {
  KeyAverageRow,
  KeyAverages,
  KeyAveragesAccumulatorOptions,
  KeyAveragesAccumulatorStats,
  KeyAveragesSortKey,
  KeyAveragesTableOptions,
} from './report/key-averages.js';

// Errors, logging, version.
export { WgprofError } from './util/errors.js';
export { setLogSink } from './util/log.js';
export type { LogLevel, LogSink } from './util/log.js';
export { WGPROF_VERSION } from './version.js';
