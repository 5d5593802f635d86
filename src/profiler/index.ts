// The profiler: vLLM's WorkerProfiler state machine, the frontend (API-layer) profiler, the 'cuda'
// capture-range marker, per-step costs, and the Profiler that ties them to an instrumented device.
export { Profiler, createProfiler, factsFromDevice, hostName, hostPid } from './profiler.js';
export type { CaptureSource, ProfilerOptions, TraceKind } from './profiler.js';
export { ProfilerExportError } from './failures.js';
export type { ProfileFailure } from './failures.js';
export { noProfiler } from './hooks.js';
export type { EngineProfilerHooks, ProfileStartOptions, ProfileStopOptions } from './hooks.js';
export { WorkerProfiler } from './worker-profiler.js';
export type { CaptureStopReason, WorkerProfilerDriver, WorkerProfilerOptions, WorkerProfilerState } from './worker-profiler.js';
export { FrontendProfiler } from './frontend.js';
export type { FrontendProfilerOptions, SpanArgs } from './frontend.js';
export { CudaRangeMarker, PROFILE_MEASURE, PROFILE_START_MARK, PROFILE_STOP_MARK } from './cuda-range.js';
export type { CudaRangeOptions, RangeEdge, UserTiming } from './cuda-range.js';
export { defaultTraceOutput } from './output.js';
export type { ExportedTrace, TraceOutput } from './output.js';
export * from '../playwright/chromium-tracing.js';
