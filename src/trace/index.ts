// The trace side of wgprof: CaptureRecord -> Kineto JSON (object or streamed text), file naming,
// sinks, atomic writing. What reads traces back is in src/report.
export { buildTrace, serializeTrace, serializeTraceBytes, MEMCPY_NAMES, MEMORY_COUNTER_NAME, TRIMONTH_NS } from './build.js';
export type { SerializeStats, TraceBuildOptions, TraceByteChunks, TraceChunks } from './build.js';
export { concatBytes, encodeTrace, yieldToEventLoop } from './encode.js';
export type { EncodeOptions, GzipLevel } from './encode.js';
export { keyAveragesFileName, sanitizeWorkerName, traceFileName, uriScheme } from './files.js';
export { CallbackSink, DownloadSink, FsSink, HttpSink, OpfsSink, sinkForDir } from './sinks.js';
export type { HttpSinkOptions, TraceSink, TraceSinkWriter } from './sinks.js';
export { dumpKeyAverages, writeTrace } from './write.js';
export type { DumpKeyAveragesOptions, GzipEngine, WriteTraceOptions, WrittenTrace } from './write.js';
export { fmtUs, sanitizeEventName } from './json.js';
export { GPU_ACTIVITY_CATS, isRuntimeCat } from './kineto.js';
export type { KinetoTrace, TraceArgs, TraceDeviceProperties, TraceDistributedInfo, TraceEvent, TraceJson, TraceProvenance } from './kineto.js';
