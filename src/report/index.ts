// What reads traces: parsing a trace file back (whole, or streamed event by event), the contract
// validator, and torch-style key averages.
export { parseTraceBytes, parseTraceFile } from './parse.js';
export { validateTrace } from './validate.js';
export type { ValidateTraceOptions } from './validate.js';
export { htaCriticalPath, htaModel } from './hta.js';
export type { HtaCriticalPath, HtaModel, HtaRow } from './hta.js';
export {
  formatBytes,
  formatKeyAveragesTable,
  formatTimeUs,
  keyAverages,
  KeyAveragesAccumulator,
  KEY_AVERAGES_SORT_KEYS,
  sortKeyAverages,
} from './key-averages.js';
export type {
  KeyAverageRow,
  KeyAverages,
  KeyAveragesAccumulatorOptions,
  KeyAveragesAccumulatorStats,
  KeyAveragesSortKey,
  KeyAveragesTableOptions,
} from './key-averages.js';
export { openRegularFile, readTrace, readTraceBytes } from './read.js';
export type { ReadTraceOptions, TraceEventHandler, TraceReadResult } from './read.js';
export { checkDigestStepTotals, checkStepTotals } from './step-totals.js';
export type { StepTotalsCheck } from './step-totals.js';
export { digestTrace, TraceDigestAccumulator } from './digest.js';
export type { TraceDigest } from './digest.js';
export { dumpKeyAverages, formatProfilerTable, writeTextFile } from './table-file.js';
export type { DumpKeyAveragesOptions } from './table-file.js';
