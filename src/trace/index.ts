// The trace side of wgprof: CaptureRecord → plan (checked, nested, step totals) → one emission pass →
// Kineto JSON bytes → gzip → sinks (file naming, atomic writing). What reads traces back is in src/report.
export { buildTrace, serializeTrace, serializeTraceBytes } from './serialize.js';
export type { SerializeStats, TraceByteChunks, TraceChunks } from './serialize.js';
export { planTrace, stepCosts, TRIMONTH_NS } from './plan.js';
export type { StepCosts, TraceBuildOptions, TracePlan } from './plan.js';
export { MEMCPY_NAMES, MEMORY_COUNTER_NAME } from './emit.js';
export type { TraceEventConsumer } from './emit.js';
export { exportCapture } from './export.js';
export type { ExportOptions, ExportResult } from './export.js';
export { concatBytes, encodeTrace, yieldToEventLoop } from './encode.js';
export type { EncodeOptions, GzipLevel } from './encode.js';
export { keyAveragesFileName, sanitizeWorkerName, traceFileName, uriScheme } from './files.js';
export { CallbackSink, DownloadSink, FsSink, GcsSink, HttpSink, OpfsSink, S3Sink, TraceSinkError, defaultFallbackDir, sinkForDir } from './sinks.js';
export type {
  HttpSinkOptions,
  ObjectStoreSinkOptions,
  RetryOptions,
  SinkForDirOptions,
  TraceSink,
  TraceSinkErrorCode,
  TraceSinkWriter,
  UploadSinkOptions,
} from './sinks.js';
export { hasCompressionStream, writeTrace } from './write.js';
export type { GzipEngine, WriteTraceOptions, WrittenTrace } from './write.js';
export { fmtUs, sanitizeEventName } from './json.js';
export { GPU_ACTIVITY_CATS, isRuntimeCat } from './kineto.js';
export type { KinetoTrace, TraceArgs, TraceDeviceProperties, TraceDistributedInfo, TraceEvent, TraceJson, TraceProvenance } from './kineto.js';
export { CUDA_LAUNCH, LAUNCH_NAMES, LAUNCH_NAMES_ENV, WEBGPU_CALL_ARG, launchNamesFromEnv, parseLaunchNames } from './launch-names.js';
export type { LaunchNames } from './launch-names.js';
