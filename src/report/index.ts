// What reads traces: parsing a trace file back, the contract validator, and torch-style key averages.
export { parseTraceBytes, parseTraceFile } from './parse.js';
export { validateTrace } from './validate.js';
export { formatBytes, formatKeyAveragesTable, formatTimeUs, keyAverages, KEY_AVERAGES_SORT_KEYS, sortKeyAverages } from './key-averages.js';
export type { KeyAverageRow, KeyAverages, KeyAveragesSortKey, KeyAveragesTableOptions } from './key-averages.js';
export { dumpKeyAverages, formatProfilerTable, writeTextFile } from './table-file.js';
export type { DumpKeyAveragesOptions } from './table-file.js';
