// wgprof's public API (named exports only). Node and bundlers; pages use dist/browser/wgprof.js.
export * from './gpu/index.js';
export { detectQuantization } from './gpu/timestamps.js';
export type { QuantizationReport } from './gpu/timestamps.js';
export { runProbe } from './gpu/probe.js';
export type { ProbeResult } from './gpu/probe.js';
export { WgprofError } from './util/errors.js';
export { log, setLogSink } from './util/log.js';
export type { LogLevel, LogSink } from './util/log.js';
export { noteDispatch } from './instrument/hints.js';
export type { KernelDescriptor, KernelCost } from '../kernels/define.js';
export { defineKernel, ceilDiv } from '../kernels/define.js';
export { WGPROF_VERSION } from './version.js';
export type * from './trace/model.js';
