// wgprof/ort: profile onnxruntime-web sessions (JSEP or the native WebGPU EP; page or Node).
// onnxruntime-web is an optional peer dependency: nothing here imports it.
export { profileOrt, OrtProfiler } from './ort-profiler.js';
export type { OrtProfilerOptions } from './ort-profiler.js';
export { opCost, opFlops, shapesFromProfileArg } from './cost.js';
export type { TensorShape } from './cost.js';
export { attributeCapture, dispatchesPerRun, profileRuns } from './attribute.js';
export type { AttributionStats, KernelAttribution, RunSpan, SessionProfile } from './attribute.js';
export { parseProfileLines } from './profile-output.js';
export type { JsepKernelRecord, OrtBuild, OrtModuleLike, OrtProfileEvent, OrtSessionLike } from './types.js';
