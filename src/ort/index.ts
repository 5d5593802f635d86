// wgprof/ort: profile onnxruntime-web sessions (JSEP or the native WebGPU EP; page or Node).
// onnxruntime-web is an optional peer dependency: nothing here imports it. The op cost model and the
// kernel attribution behind it (./cost.ts, ./attribute.ts) are the adapter's own, not exported.
export { profileOrt, OrtProfiler } from './ort-profiler.js';
export type { OrtProfilerOptions } from './ort-profiler.js';
export type { AttributionStats } from './attribute.js';
export type { OrtBuild, OrtModuleLike, OrtSessionLike } from './types.js';
