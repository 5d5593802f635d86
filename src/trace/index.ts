// The trace side of wgprof: CaptureRecord -> Kineto JSON (object or streamed text), validation,
// reading back, file naming, sinks, atomic writing, and torch-style key averages.
export { buildTrace, serializeTrace, serializeTraceBytes, MEMCPY_NAMES, MEMORY_COUNTER_NAME, TRIMONTH_NS } from './build.js';
export type { SerializeStats, TraceBuildOptions, TraceByteChunks, TraceChunks } from './build.js';
export { validateTrace } from './validate.js';
export { parseTraceBytes, parseTraceFile } from './parse.js';
export { concatBytes, encodeTrace, yieldToEventLoop } from './encode.js';
export type { EncodeOptions, GzipLevel } from './encode.js';
export { keyAveragesFileName, sanitizeWorkerName, traceFileName, uriScheme } from './files.js';
export { CallbackSink, DownloadSink, FsSink, HttpSink, OpfsSink, sinkForDir } from './sinks.js';
export type { HttpSinkOptions, TraceSink, TraceSinkWriter } from './sinks.js';
export { dumpKeyAverages, writeTrace } from './write.js';
export type { DumpKeyAveragesOptions, GzipEngine, WriteTraceOptions, WrittenTrace } from './write.js';
export { formatBytes, formatKeyAveragesTable, formatTimeUs, keyAverages, KEY_AVERAGES_SORT_KEYS, sortKeyAverages } from './key-averages.js';
export type { KeyAverageRow, KeyAverages, KeyAveragesSortKey, KeyAveragesTableOptions } from './key-averages.js';
export { fmtUs, sanitizeEventName } from './json.js';
export { GPU_ACTIVITY_CATS, isRuntimeCat } from './kineto.js';
export type { KinetoTrace, TraceArgs, TraceDeviceProperties, TraceDistributedInfo, TraceEvent, TraceJson, TraceProvenance } from './kineto.js';
