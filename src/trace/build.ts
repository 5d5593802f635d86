// CaptureRecord -> Kineto trace. One planning pass (pure, over typed arrays) fixes every time on the
// relative-ns grid and enforces strict nesting; one emission pass walks the plan and hands each event
// to a writer: ObjectWriter builds the in-memory trace (buildTrace), TextWriter builds the JSON text in
// chunks (serializeTrace) without ever holding the whole document. Both writers see the same calls, so
// JSON.parse(serializeTrace(r)) deep-equals buildTrace(r) (test/unit/trace-build.test.ts checks it).
//
// Times: record fields are ns since performance.timeOrigin (floats). Each becomes an integer ns offset
// from `baseTimeNanoseconds` (epoch ns floored to Kineto's 7 889 238 s "trimonth" grid, taken at the
// capture start) by adding one offset computed once as bigint, then Number: exact below 2^53 ns (104 days).
//
// Nesting (DESIGN §6): complete events on one pid/tid nest strictly. Host: steps are made disjoint,
// annotations are clamped into their step, every other span that straddles a step or annotation edge
// is cut at that edge, a launch is clamped into its op, and a final stack pass clamps any child that
// outlives its parent (parents sort first on ties: earlier start, then longer, then step < annotation <
// span < op < launch). GPU stream: kernels and memcpys are siblings, so a GPU interval that starts
// before the previous one ended is shifted to start at that end (its end is kept; never a made-up
// length), and a step's gpu_user_annotation is dropped rather than allowed to cut through a kernel.
// Every adjustment is counted under `wgprof.adjustments` and noted in `wgprof.notes`.

import type { AdapterFacts } from '../gpu/device.js';
import { WgprofError } from '../util/errors.js';
import { WGPROF_VERSION } from '../version.js';
import { cleanJson, fmtUs, jsonString, jsonText, sanitizeEventName, wellFormed } from './json.js';
import type { KinetoTrace, TraceArgs, TraceDeviceProperties, TraceEvent, TraceJson, TraceProvenance } from './kineto.js';
import type { KernelCost } from '../../kernels/define.js';
import type { CaptureRecord, CopyRecord, DispatchRecord, TraceMeta } from './model.js';

export interface TraceBuildOptions {
  /** The `traceName` field (Kineto writes the file name there). Default `{workerName}.pt.trace.json`. */
  traceName?: string;
  /** Process name in the `M` events. Default: the adapter's runtime ('node' | 'browser'), else 'wgprof'. */
  processName?: string;
  /** Extra lines for `wgprof.notes`. */
  notes?: string[];
  /** serializeTrace chunk size, in UTF-16 code units (default 65536). */
  chunkChars?: number;
}

/** Kineto's ChromeTraceBaseTime interval: 3 × 30.44 days, in ns. */
export const TRIMONTH_NS = 7_889_238n * 1_000_000_000n;
/** `process_sort_index` of GPU n is n + kExceedMaxPid (Kineto output_base.h). */
const GPU_SORT_INDEX_BASE = 5_000_000;
const DEFAULT_CHUNK_CHARS = 65_536;

/** Kineto's memcpy names (CuptiActivity.h `memcpyName`) for WebGPU's three copy directions. */
export const MEMCPY_NAMES: Readonly<Record<CopyRecord['kind'], string>> = {
  HtoD: 'Memcpy HtoD (Pageable -> Device)',
  DtoD: 'Memcpy DtoD (Device -> Device)',
  DtoH: 'Memcpy DtoH (Device -> Pageable)',
};

/** The counter track Perfetto draws for allocated GPU memory (`ph: "C"`). */
export const MEMORY_COUNTER_NAME = 'GPU Memory Allocated';

// Host item kinds; the numeric value is also the tie-break rank (parents first).
const K_STEP = 0;
const K_ANNOTATION = 1;
const K_SPAN = 2;
const K_OP = 3;
const K_LAUNCH = 4;
const K_COPY = 5;
const RANK = new Uint8Array([0, 1, 2, 3, 4, 4]);

type ArgBag = Record<string, unknown>;

/** What the emission pass calls; `name`s are raw (writers sanitize and cache them). */
interface EventWriter {
  /** Characters buffered and not yet taken (0 for the object writer). */
  pending(): number;
  meta(name: string, pid: number, tid: number, tsNs: number, key: string, value: string | number): void;
  complete(cat: string, name: string, pid: number, tid: number, tsNs: number, durNs: number, args: ArgBag): void;
  instant(cat: string | undefined, scope: 't' | 'g', name: string, pid: number | string, tid: number | string, tsNs: number, args: ArgBag | undefined): void;
  counter(cat: string, name: string, pid: number, tid: number, tsNs: number, args: ArgBag): void;
  flow(ph: 's' | 'f', id: number, pid: number, tid: number, tsNs: number): void;
  /** The hot path, one call per dispatch: the cpu_op (its args depend on `opts`). */
  cpuOp(d: DispatchRecord, tsNs: number, durNs: number, opts: OpOptions): void;
  /** The launch; with a GPU interval (gsNs >= 0) also the ac2g flow and the kernel. */
  dispatchLaunch(d: DispatchRecord, tsNs: number, durNs: number, gsNs: number, gdurNs: number, ids: ThreadIds): void;
}

interface OpOptions {
  pid: number;
  tid: number;
  withShapes: boolean;
  withFlops: boolean;
  withStack: boolean;
}

interface ThreadIds {
  hostPid: number;
  hostTid: number;
  gpuPid: number;
  gpuTid: number;
}

function knownCost(d: DispatchRecord): KernelCost | undefined {
  const cost = d.cost;
  return cost && Number.isFinite(cost.flops) && Number.isFinite(cost.bytesRead) && Number.isFinite(cost.bytesWritten) ? cost : undefined;
}

/** cpu_op args in Kineto-ish order: External id, shapes (record_shapes), cost (with_flops), stack (with_stack). */
function opArgs(d: DispatchRecord, opts: OpOptions): ArgBag {
  const args: ArgBag = { 'External id': d.externalId };
  if (opts.withShapes) {
    if (d.inputDims !== undefined) args['Input Dims'] = d.inputDims;
    if (d.inputTypes !== undefined) args['Input type'] = d.inputTypes;
  }
  const cost = opts.withFlops ? knownCost(d) : undefined;
  if (cost) {
    args['flops'] = cost.flops;
    args['bytes'] = cost.bytesRead + cost.bytesWritten;
  }
  // JS frames, innermost first, joined by ";" as torch's legacy `Call stack` arg: a string arg can
  // hold anything and never breaks nesting (python_function events would need made-up durations).
  if (opts.withStack && d.stack !== undefined && d.stack.length > 0) args['Call stack'] = d.stack.join(';');
  return args;
}

/** Kineto renames a kernel literally called "kernel" (legacy tools key on it). */
function kernelName(d: DispatchRecord): string {
  return d.kernel === 'kernel' ? 'Kernel' : d.kernel;
}

function kernelArgs(d: DispatchRecord, ids: ThreadIds): ArgBag {
  const args: ArgBag = { 'External id': d.externalId, queued: 0, device: ids.gpuPid, stream: ids.gpuTid, correlation: d.correlation, grid: d.workgroups };
  if (d.workgroupSize !== undefined) args['block'] = d.workgroupSize;
  if (d.boundBufferBytes !== undefined) args['bound buffer bytes'] = d.boundBufferBytes;
  return args;
}

interface Plan {
  record: CaptureRecord;
  meta: TraceMeta;
  processName: string;
  traceName: string;
  hasGpu: boolean;
  baseNs: bigint;
  windowStart: number;
  windowEnd: number;
  // Steps, by position in start order.
  stepRec: Int32Array;
  sS: Float64Array;
  sE: Float64Array;
  aS: Float64Array; // NaN: no annotation
  aE: Float64Array;
  gaS: Float64Array; // gpu_user_annotation interval, NaN: none
  gaE: Float64Array;
  stepExt: number[];
  annExt: number[];
  stepKernels: Int32Array;
  stepGpuNs: Float64Array;
  stepFlops: Float64Array;
  stepBytes: Float64Array;
  stepCostKnown: Int32Array;
  stepFlopsGpuNs: Float64Array;
  stepPeak: Float64Array; // NaN: unknown
  // GPU intervals per dispatch / copy after the sibling rule (NaN: none).
  dGs: Float64Array;
  dGe: Float64Array;
  cGs: Float64Array;
  cGe: Float64Array;
  spanExt: Float64Array; // NaN: none
  // Host items in emission order.
  order: number[];
  iS: Float64Array;
  iE: Float64Array;
  iKind: Uint8Array;
  iRec: Int32Array;
  memOrder: number[];
  memTs: Float64Array;
  provenance: TraceProvenance;
  deviceProperties: TraceDeviceProperties[];
}

function invalid(field: string, given: unknown, expected: string): WgprofError {
  const shown = typeof given === 'bigint' ? `${given}n` : typeof given === 'string' ? JSON.stringify(given) : String(given);
  return new WgprofError('TRACE_INVALID_RECORD', `${field} is ${shown}; expected ${expected}. The capture record is malformed: fix the code that produced it.`);
}

function checkId(list: string, index: number, field: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalid(`${list}[${index}].${field}`, value, 'an integer >= 0');
}

function checkString(list: string, index: number, field: string, value: unknown): void {
  if (typeof value !== 'string') throw invalid(`${list}[${index}].${field}`, value, 'a string');
}

function checkInt(field: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw invalid(field, value, `an integer >= ${min}`);
  return value;
}

/** A finite ns time; `list[index].field` names it in the error (built only on failure: this runs per event). */
function checkNs(list: string, index: number, field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`${list}[${index}].${field}`, value, 'a finite number of ns since performance.timeOrigin');
  return value;
}

function checkMeta(record: CaptureRecord): TraceMeta {
  if (record === null || typeof record !== 'object') throw invalid('record', record, 'a CaptureRecord object');
  for (const key of ['steps', 'cpuSpans', 'dispatches', 'copies', 'memory'] as const) {
    if (!Array.isArray(record[key])) throw invalid(`record.${key}`, record[key], 'an array (possibly empty)');
  }
  const meta = record.meta;
  if (meta === null || typeof meta !== 'object') throw invalid('record.meta', meta, 'a TraceMeta object');
  if (typeof meta.timeOriginEpochNs !== 'bigint' || meta.timeOriginEpochNs <= 0n) {
    throw invalid('meta.timeOriginEpochNs', meta.timeOriginEpochNs, 'a positive bigint (performance.timeOrigin in epoch ns)');
  }
  if (typeof meta.workerName !== 'string') throw invalid('meta.workerName', meta.workerName, 'a string');
  checkInt('meta.pid', meta.pid, 0);
  checkInt('meta.tid', meta.tid, 0);
  checkInt('meta.rank', meta.rank, 0);
  checkInt('meta.worldSize', meta.worldSize, 1);
  checkInt('meta.deviceIndex', meta.deviceIndex, 0);
  checkInt('meta.streamId', meta.streamId, 1);
  if (meta.pid === meta.deviceIndex) {
    throw invalid('meta.pid', meta.pid, `a host pid different from meta.deviceIndex (${meta.deviceIndex}), because GPU events use the device index as their pid`);
  }
  return meta;
}

/** Indices 0..n-1 sorted by key (stable); skips the sort when already in order. */
function sortedIndices(n: number, key: (i: number) => number): number[] {
  const idx = new Array<number>(n);
  let sorted = true;
  let prev = -Infinity;
  for (let i = 0; i < n; i++) {
    idx[i] = i;
    const k = key(i);
    if (k < prev) sorted = false;
    prev = k;
  }
  if (!sorted) idx.sort((a, b) => key(a) - key(b) || a - b);
  return idx;
}

/** Last position p in sorted `starts` with starts[p] <= t, or -1. */
function lastAtOrBefore(starts: Float64Array, t: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid]! <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

function deviceName(adapter: AdapterFacts): string {
  const parts = [adapter.vendor, adapter.architecture].filter((p) => p !== '');
  return adapter.description || adapter.device || (parts.length > 0 ? parts.join(' ') : 'WebGPU adapter');
}

function devicePropertiesOf(meta: TraceMeta): TraceDeviceProperties[] {
  const adapter = meta.adapter;
  if (!adapter) return [];
  const limits = adapter.limits;
  const subMin = limits['subgroupMinSize'];
  const subMax = limits['subgroupMaxSize'];
  const props: TraceDeviceProperties[] = [];
  // Entry i must describe device i: devices below ours were not captured.
  for (let i = 0; i < meta.deviceIndex; i++) {
    props.push({ id: i, name: 'unknown (not captured)', totalGlobalMem: 0, computeMajor: 0, computeMinor: 0, maxThreadsPerBlock: 0, warpSize: 0, sharedMemPerBlock: 0, numSms: 0 });
  }
  props.push({
    id: meta.deviceIndex,
    name: deviceName(adapter),
    totalGlobalMem: limits['maxBufferSize'] ?? limits['maxStorageBufferBindingSize'] ?? 0,
    computeMajor: 0,
    computeMinor: 0,
    maxThreadsPerBlock: limits['maxComputeInvocationsPerWorkgroup'] ?? 0,
    warpSize: subMin !== undefined && subMin === subMax ? subMin : 0,
    sharedMemPerBlock: limits['maxComputeWorkgroupStorageSize'] ?? 0,
    numSms: 0,
    vendor: adapter.vendor,
    architecture: adapter.architecture,
    backend: adapter.backend,
  });
  return props;
}

/** Checks every field the writers rely on (once, per event) and finds the earliest time, ns. */
function scanRecord(record: CaptureRecord, withMemory: boolean): { minNs: number } {
  const { steps, dispatches, copies, cpuSpans, memory } = record;
  let minNs = Infinity;
  const see = (ns: number): void => {
    if (ns < minNs) minNs = ns;
  };
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    if (!Number.isSafeInteger(s.number) || s.number < 0) checkInt(`steps[${i}].number`, s.number, 0);
    see(checkNs('steps', i, 'startNs', s.startNs));
    see(checkNs('steps', i, 'endNs', s.endNs));
    if (s.annotationStartNs !== undefined) checkNs('steps', i, 'annotationStartNs', s.annotationStartNs);
    if (s.annotationEndNs !== undefined) checkNs('steps', i, 'annotationEndNs', s.annotationEndNs);
    if (s.annotation !== undefined) checkString('steps', i, 'annotation', s.annotation);
  }
  for (let i = 0; i < dispatches.length; i++) {
    const d = dispatches[i]!;
    see(checkNs('dispatches', i, 'opStartNs', d.opStartNs));
    see(checkNs('dispatches', i, 'opEndNs', d.opEndNs));
    checkNs('dispatches', i, 'launchStartNs', d.launchStartNs);
    checkNs('dispatches', i, 'launchEndNs', d.launchEndNs);
    checkId('dispatches', i, 'externalId', d.externalId);
    checkId('dispatches', i, 'correlation', d.correlation);
    if (typeof d.kernel !== 'string') checkString('dispatches', i, 'kernel', d.kernel);
    if (typeof d.launch !== 'string') checkString('dispatches', i, 'launch', d.launch);
    if (!Array.isArray(d.workgroups)) throw invalid(`dispatches[${i}].workgroups`, d.workgroups, 'an array [x, y, z]');
    if (d.gpuStartNs !== undefined) see(checkNs('dispatches', i, 'gpuStartNs', d.gpuStartNs));
    if (d.gpuEndNs !== undefined) see(checkNs('dispatches', i, 'gpuEndNs', d.gpuEndNs));
  }
  for (let i = 0; i < copies.length; i++) {
    const c = copies[i]!;
    see(checkNs('copies', i, 'launchStartNs', c.launchStartNs));
    see(checkNs('copies', i, 'launchEndNs', c.launchEndNs));
    checkId('copies', i, 'correlation', c.correlation);
    checkId('copies', i, 'bytes', c.bytes);
    checkString('copies', i, 'launch', c.launch);
    if (!(c.kind in MEMCPY_NAMES)) throw invalid(`copies[${i}].kind`, c.kind, '"HtoD", "DtoD" or "DtoH"');
    if (c.gpuStartNs !== undefined) see(checkNs('copies', i, 'gpuStartNs', c.gpuStartNs));
    if (c.gpuEndNs !== undefined) see(checkNs('copies', i, 'gpuEndNs', c.gpuEndNs));
  }
  for (let i = 0; i < cpuSpans.length; i++) {
    const s = cpuSpans[i]!;
    see(checkNs('cpuSpans', i, 'startNs', s.startNs));
    see(checkNs('cpuSpans', i, 'endNs', s.endNs));
    checkString('cpuSpans', i, 'name', s.name);
    if (s.cat !== 'cpu_op' && s.cat !== 'user_annotation' && s.cat !== 'python_function') throw invalid(`cpuSpans[${i}].cat`, s.cat, '"cpu_op", "user_annotation" or "python_function"');
  }
  if (withMemory) {
    for (let i = 0; i < memory.length; i++) {
      const r = memory[i]!;
      see(checkNs('memory', i, 'tsNs', r.tsNs));
      for (const key of ['addr', 'bytes', 'totalAllocatedBytes', 'totalReservedBytes'] as const) {
        if (!Number.isSafeInteger(r[key])) throw invalid(`memory[${i}].${key}`, r[key], 'an integer number of bytes (addr: an integer)');
      }
    }
  }

  return { minNs: minNs === Infinity ? 0 : minNs };
}

/** The top-level `wgprof` object: what produced the trace, and every way it departs from the raw record. */
function provenanceOf(meta: TraceMeta, counts: TraceProvenance['counts'], adj: TraceProvenance['adjustments'], extraNotes: string[]): TraceProvenance {
  const notes: string[] = [];
  const ts = meta.timestamps;
  if (counts.dispatches > 0 && counts.kernels < counts.dispatches) {
    notes.push(
      `${counts.dispatches - counts.kernels} of ${counts.dispatches} dispatches have no GPU timestamps: their kernel events are omitted (cpu_op and launch only), never given a made-up duration` +
        (ts?.note ? `. ${ts.note}` : '.'),
    );
  } else if (ts?.note) notes.push(ts.note);
  if (ts?.quantized === true) notes.push(`GPU timestamps are quantized${ts.quantumNs !== undefined ? ` to ${ts.quantumNs} ns` : ''}: kernel durations are coarse.`);
  if (adj.gpuIntervalsDropped > 0) notes.push(`${adj.gpuIntervalsDropped} GPU intervals ended before they started and were left out.`);
  if (adj.gpuIntervalsShifted > 0) {
    notes.push(`${adj.gpuIntervalsShifted} GPU intervals started before the previous one on stream ${meta.streamId} ended and were shifted to start at its end (largest shift ${adj.maxGpuShiftNs} ns), so slices never overlap.`);
  }
  if (adj.hostSpansClamped > 0) notes.push(`${adj.hostSpansClamped} host intervals were clamped to nest strictly inside their parents.`);
  if (adj.gpuAnnotationsDropped > 0) notes.push(`${adj.gpuAnnotationsDropped} steps' GPU work interleaved with another step's, so their gpu_user_annotation was left out.`);
  notes.push(...extraNotes);
  const provenance: TraceProvenance = {
    version: WGPROF_VERSION,
    workerName: meta.workerName,
    rank: meta.rank,
    worldSize: meta.worldSize,
    options: { withStack: meta.withStack === true, recordShapes: meta.recordShapes === true, withMemory: meta.withMemory === true, withFlops: meta.withFlops === true },
    counts,
    adjustments: adj,
    notes,
  };
  if (meta.adapter) provenance.adapter = cleanJson(meta.adapter);
  if (meta.timestamps) provenance.timestamps = cleanJson(meta.timestamps);
  if (meta.clock) provenance.clock = cleanJson(meta.clock);
  if (meta.extra) {
    // Extra keys never replace ours.
    const extra = cleanJson(meta.extra);
    if (extra !== null && typeof extra === 'object' && !Array.isArray(extra)) {
      for (const [key, value] of Object.entries(extra)) if (!(key in provenance)) provenance[key] = value;
    }
  }
  return provenance;
}

function plan(record: CaptureRecord, options: TraceBuildOptions): Plan {
  const meta = checkMeta(record);
  const { steps, dispatches, copies, cpuSpans, memory } = record;
  const withMemory = meta.withMemory === true;

  const { minNs } = scanRecord(record, withMemory);

  const captureEpochNs = meta.timeOriginEpochNs + BigInt(Math.floor(minNs));
  const baseNs = (captureEpochNs / TRIMONTH_NS) * TRIMONTH_NS;
  const offsetNs = Number(meta.timeOriginEpochNs - baseNs);
  // Kineto's transToRelativeTime: negative clamps to 0.
  const rel = (ns: number): number => {
    const v = Math.round(offsetNs + ns);
    return v > 0 ? v : 0;
  };

  let hostClamped = 0;
  let gpuShifted = 0;
  let maxGpuShiftNs = 0;
  let gpuDropped = 0;
  let gpuAnnotationsDropped = 0;

  // ---- steps and their annotations
  const nSteps = steps.length;
  const stepOrder = sortedIndices(nSteps, (i) => steps[i]!.startNs);
  const stepRec = new Int32Array(nSteps);
  const sS = new Float64Array(nSteps);
  const sE = new Float64Array(nSteps);
  const aS = new Float64Array(nSteps).fill(NaN);
  const aE = new Float64Array(nSteps).fill(NaN);
  for (let p = 0; p < nSteps; p++) {
    const s = steps[stepOrder[p]!]!;
    stepRec[p] = stepOrder[p]!;
    sS[p] = rel(s.startNs);
    sE[p] = rel(s.endNs);
    if (sE[p]! < sS[p]!) {
      sE[p] = sS[p]!;
      hostClamped++;
    }
    if (p > 0 && sS[p]! < sE[p - 1]!) {
      sE[p - 1] = Math.max(sS[p - 1]!, sS[p]!);
      hostClamped++;
    }
  }
  for (let p = 0; p < nSteps; p++) {
    const s = steps[stepRec[p]!]!;
    if (s.annotation === undefined) continue;
    const lo = sS[p]!;
    const hi = sE[p]!;
    const rawS = rel(s.annotationStartNs ?? s.startNs);
    const rawE = rel(s.annotationEndNs ?? s.endNs);
    const a0 = Math.min(Math.max(rawS, lo), hi);
    const a1 = Math.min(Math.max(rawE, a0), hi);
    if (a0 !== rawS || a1 !== rawE) hostClamped++;
    aS[p] = a0;
    aE[p] = a1;
  }
  const locateStep = (t: number): number => {
    const p = lastAtOrBefore(sS, t);
    return p >= 0 && t < sE[p]! ? p : -1;
  };
  // Cuts a span's end so that it does not straddle a step or annotation edge; returns the new end.
  const clampToContainers = (s: number, e: number): number => {
    const p = locateStep(s);
    if (p >= 0) {
      if (e > sE[p]!) e = sE[p]!;
      const a0 = aS[p]!;
      const a1 = aE[p]!;
      if (a0 === a0) {
        if (s >= a0 && s < a1) {
          if (e > a1) e = a1;
        } else if (s < a0 && e > a0 && e < a1) e = a0;
      }
    } else {
      const q = lastAtOrBefore(sS, e - 1);
      if (q >= 0 && e < sE[q]! && e > sS[q]! && s < sS[q]!) e = sS[q]!;
    }
    return e;
  };

  // External ids for annotations and spans come after the record's own ids.
  let maxExt = 0;
  for (const d of dispatches) if (d.externalId > maxExt) maxExt = d.externalId;
  for (const c of copies) if (c.externalId > maxExt) maxExt = c.externalId;
  let nextExt = Math.floor(maxExt) + 1;
  const stepExt: number[] = new Array<number>(nSteps);
  const annExt: number[] = new Array<number>(nSteps);
  for (let p = 0; p < nSteps; p++) {
    stepExt[p] = nextExt++;
    annExt[p] = aS[p] === aS[p] ? nextExt++ : 0;
  }

  // ---- host items
  const nD = dispatches.length;
  const nC = copies.length;
  const nSp = cpuSpans.length;
  let nAnn = 0;
  for (let p = 0; p < nSteps; p++) if (aS[p] === aS[p]) nAnn++;
  const nItems = nSteps + nAnn + nSp + 2 * nD + nC;
  const iS = new Float64Array(nItems);
  const iE = new Float64Array(nItems);
  const iKind = new Uint8Array(nItems);
  const iRec = new Int32Array(nItems);
  let n = 0;
  const push = (kind: number, rec: number, s: number, e: number): void => {
    iS[n] = s;
    iE[n] = e;
    iKind[n] = kind;
    iRec[n] = rec;
    n++;
  };
  for (let p = 0; p < nSteps; p++) push(K_STEP, p, sS[p]!, sE[p]!);
  for (let p = 0; p < nSteps; p++) if (aS[p] === aS[p]) push(K_ANNOTATION, p, aS[p]!, aE[p]!);

  const spanExt = new Float64Array(nSp).fill(NaN);
  for (let i = 0; i < nSp; i++) {
    const sp = cpuSpans[i]!;
    const s = rel(sp.startNs);
    let e = rel(sp.endNs);
    if (e < s) {
      e = s;
      hostClamped++;
    }
    const c = clampToContainers(s, e);
    if (c !== e) hostClamped++;
    push(K_SPAN, i, s, c);
    if ((sp.cat === 'cpu_op' || sp.cat === 'user_annotation') && !(sp.args && 'External id' in sp.args)) spanExt[i] = nextExt++;
  }

  const dStep = new Int32Array(nD);
  const dGs = new Float64Array(nD).fill(NaN);
  const dGe = new Float64Array(nD).fill(NaN);
  const opItem0 = n;
  for (let i = 0; i < nD; i++) {
    const d = dispatches[i]!;
    const s = rel(d.opStartNs);
    let e = rel(d.opEndNs);
    if (e < s) {
      e = s;
      hostClamped++;
    }
    const c = clampToContainers(s, e);
    if (c !== e) hostClamped++;
    push(K_OP, i, s, c);
    dStep[i] = locateStep(s);
    if (d.gpuStartNs !== undefined && d.gpuEndNs !== undefined) {
      const gs = rel(d.gpuStartNs);
      const ge = rel(d.gpuEndNs);
      if (ge >= gs) {
        dGs[i] = gs;
        dGe[i] = ge;
      } else gpuDropped++;
    }
  }
  for (let i = 0; i < nD; i++) {
    const d = dispatches[i]!;
    const os = iS[opItem0 + i]!;
    const oe = iE[opItem0 + i]!;
    const rawS = rel(d.launchStartNs);
    const rawE = rel(d.launchEndNs);
    const ls = Math.min(Math.max(rawS, os), oe);
    const le = Math.min(Math.max(rawE, ls), oe);
    if (ls !== rawS || le !== rawE) hostClamped++;
    push(K_LAUNCH, i, ls, le);
  }
  const cStep = new Int32Array(nC);
  const cGs = new Float64Array(nC).fill(NaN);
  const cGe = new Float64Array(nC).fill(NaN);
  for (let i = 0; i < nC; i++) {
    const cp = copies[i]!;
    const s = rel(cp.launchStartNs);
    let e = rel(cp.launchEndNs);
    if (e < s) {
      e = s;
      hostClamped++;
    }
    const c = clampToContainers(s, e);
    if (c !== e) hostClamped++;
    push(K_COPY, i, s, c);
    cStep[i] = locateStep(s);
    if (cp.gpuStartNs !== undefined && cp.gpuEndNs !== undefined) {
      const gs = rel(cp.gpuStartNs);
      const ge = rel(cp.gpuEndNs);
      if (ge >= gs) {
        cGs[i] = gs;
        cGe[i] = ge;
      } else gpuDropped++;
    }
  }

  // Parents first: earlier start, then longer, then lower rank. Dispatches (op, launch, op, launch...)
  // are nearly always in order already: merge that stream with the few other items instead of
  // sorting everything; fall back to a full sort when the stream is out of order.
  const cmp = (a: number, b: number): number => iS[a]! - iS[b]! || iE[b]! - iE[a]! || RANK[iKind[a]!]! - RANK[iKind[b]!]! || a - b;
  const others: number[] = [];
  for (let x = 0; x < opItem0; x++) others.push(x);
  for (let x = opItem0 + 2 * nD; x < nItems; x++) others.push(x);
  others.sort(cmp);
  const pairs = new Array<number>(2 * nD);
  let pairsSorted = true;
  for (let i = 0; i < nD; i++) {
    pairs[2 * i] = opItem0 + i;
    pairs[2 * i + 1] = opItem0 + nD + i;
  }
  for (let k = 1; k < pairs.length && pairsSorted; k++) if (cmp(pairs[k - 1]!, pairs[k]!) > 0) pairsSorted = false;
  if (!pairsSorted) pairs.sort(cmp);
  const order = new Array<number>(nItems);
  for (let a = 0, b = 0, k = 0; k < nItems; k++) {
    if (b >= pairs.length || (a < others.length && cmp(others[a]!, pairs[b]!) <= 0)) order[k] = others[a++]!;
    else order[k] = pairs[b++]!;
  }
  // Stack pass: a child never outlives its parent.
  const stack = new Int32Array(nItems);
  let sp = 0;
  for (let k = 0; k < nItems; k++) {
    const x = order[k]!;
    while (sp > 0 && iE[stack[sp - 1]!]! <= iS[x]!) sp--;
    if (sp > 0 && iE[x]! > iE[stack[sp - 1]!]!) {
      iE[x] = iE[stack[sp - 1]!]!;
      hostClamped++;
    }
    stack[sp++] = x;
  }

  // ---- GPU stream: siblings never overlap.
  const gpuIds: number[] = [];
  for (let i = 0; i < nD; i++) if (dGs[i] === dGs[i]) gpuIds.push(i);
  for (let i = 0; i < nC; i++) if (cGs[i] === cGs[i]) gpuIds.push(nD + i);
  const gStart = (g: number): number => (g < nD ? dGs[g]! : cGs[g - nD]!);
  let gpuSorted = true;
  for (let k = 1; k < gpuIds.length; k++) if (gStart(gpuIds[k]!) < gStart(gpuIds[k - 1]!)) gpuSorted = false;
  if (!gpuSorted) gpuIds.sort((a, b) => gStart(a) - gStart(b) || a - b);
  let prevEnd = -Infinity;
  const gS = new Float64Array(gpuIds.length);
  const gE = new Float64Array(gpuIds.length);
  for (let k = 0; k < gpuIds.length; k++) {
    const g = gpuIds[k]!;
    const isD = g < nD;
    const i = isD ? g : g - nD;
    let s = isD ? dGs[i]! : cGs[i]!;
    let e = isD ? dGe[i]! : cGe[i]!;
    if (s < prevEnd) {
      const shift = prevEnd - s;
      if (shift > maxGpuShiftNs) maxGpuShiftNs = shift;
      gpuShifted++;
      s = prevEnd;
      if (e < s) e = s;
      if (isD) {
        dGs[i] = s;
        dGe[i] = e;
      } else {
        cGs[i] = s;
        cGe[i] = e;
      }
    }
    gS[k] = s;
    gE[k] = e;
    if (e > prevEnd) prevEnd = e;
  }

  // ---- per-step totals and gpu_user_annotation spans
  const stepKernels = new Int32Array(nSteps);
  const stepGpuNs = new Float64Array(nSteps);
  const stepFlops = new Float64Array(nSteps);
  const stepBytes = new Float64Array(nSteps);
  const stepCostKnown = new Int32Array(nSteps);
  const stepFlopsGpuNs = new Float64Array(nSteps);
  for (let i = 0; i < nD; i++) {
    const p = dStep[i]!;
    if (p < 0) continue;
    stepKernels[p] = stepKernels[p]! + 1;
    const hasGpu = dGs[i] === dGs[i];
    if (hasGpu) stepGpuNs[p] = stepGpuNs[p]! + dGe[i]! - dGs[i]!;
    const cost = knownCost(dispatches[i]!);
    if (cost) {
      stepCostKnown[p] = stepCostKnown[p]! + 1;
      stepFlops[p] = stepFlops[p]! + cost.flops;
      stepBytes[p] = stepBytes[p]! + cost.bytesRead + cost.bytesWritten;
      if (hasGpu) stepFlopsGpuNs[p] = stepFlopsGpuNs[p]! + dGe[i]! - dGs[i]!;
    }
  }
  for (let i = 0; i < nC; i++) {
    const p = cStep[i]!;
    if (p >= 0 && cGs[i] === cGs[i]) stepGpuNs[p] = stepGpuNs[p]! + cGe[i]! - cGs[i]!;
  }
  const gaS = new Float64Array(nSteps).fill(NaN);
  const gaE = new Float64Array(nSteps).fill(NaN);
  if (nSteps > 0 && gpuIds.length > 0) {
    const first = new Int32Array(nSteps).fill(-1);
    const last = new Int32Array(nSteps).fill(-1);
    for (let k = 0; k < gpuIds.length; k++) {
      const g = gpuIds[k]!;
      const p = g < nD ? dStep[g]! : cStep[g - nD]!;
      if (p < 0) continue;
      if (first[p] === -1) first[p] = k;
      last[p] = k;
    }
    let prevAnnEnd = -Infinity;
    for (let p = 0; p < nSteps; p++) {
      const f = first[p]!;
      if (f < 0) continue;
      const l = last[p]!;
      // Kineto draws it 1 ns early and 2 ns longer; neighbours bound it so it never cuts a slice.
      let s = gS[f]! - 1;
      if (f > 0 && s < gE[f - 1]!) s = gE[f - 1]!;
      if (s < 0) s = 0;
      let e = gE[l]! + 1;
      if (l + 1 < gS.length && e > gS[l + 1]!) e = gS[l + 1]!;
      if (s < prevAnnEnd) s = prevAnnEnd;
      if (s > gS[f]! || e < s) {
        gpuAnnotationsDropped++;
        continue;
      }
      gaS[p] = s;
      gaE[p] = e;
      prevAnnEnd = e;
    }
  }

  // ---- memory
  const nM = withMemory ? memory.length : 0;
  const memTs = new Float64Array(nM);
  for (let i = 0; i < nM; i++) memTs[i] = rel(memory[i]!.tsNs);
  const memOrder = sortedIndices(nM, (i) => memTs[i]!);
  const stepPeak = new Float64Array(nSteps).fill(NaN);
  if (withMemory) {
    let m = 0;
    let level = NaN;
    for (let p = 0; p < nSteps; p++) {
      const given = steps[stepRec[p]!]!.peakAllocatedBytes;
      while (m < nM && memTs[memOrder[m]!]! < sS[p]!) level = memory[memOrder[m++]!]!.totalAllocatedBytes;
      let peak = level;
      let k = m;
      while (k < nM && memTs[memOrder[k]!]! <= sE[p]!) {
        const r = memory[memOrder[k++]!]!;
        if (peak !== peak) peak = r.totalAllocatedBytes - r.bytes;
        if (r.totalAllocatedBytes > peak) peak = r.totalAllocatedBytes;
      }
      stepPeak[p] = given !== undefined && Number.isFinite(given) ? given : peak;
    }
  }

  // ---- capture window (relative ns)
  let windowStart = Infinity;
  let windowEnd = -Infinity;
  for (let i = 0; i < nItems; i++) {
    if (iS[i]! < windowStart) windowStart = iS[i]!;
    if (iE[i]! > windowEnd) windowEnd = iE[i]!;
  }
  for (let k = 0; k < gS.length; k++) {
    if (gS[k]! < windowStart) windowStart = gS[k]!;
    if (gE[k]! > windowEnd) windowEnd = gE[k]!;
  }
  for (let p = 0; p < nSteps; p++) {
    if (gaS[p]! < windowStart) windowStart = gaS[p]!;
    if (gaE[p]! > windowEnd) windowEnd = gaE[p]!;
  }
  for (let i = 0; i < nM; i++) {
    if (memTs[i]! < windowStart) windowStart = memTs[i]!;
    if (memTs[i]! > windowEnd) windowEnd = memTs[i]!;
  }
  if (windowStart === Infinity) windowStart = windowEnd = rel(minNs);

  // ---- provenance
  let kernels = 0;
  for (const g of gpuIds) if (g < nD) kernels++;
  const provenance = provenanceOf(
    meta,
    { steps: nSteps, dispatches: nD, kernels, copies: nC, memcpys: gpuIds.length - kernels, memory: nM, cpuSpans: nSp },
    { hostSpansClamped: hostClamped, gpuIntervalsShifted: gpuShifted, maxGpuShiftNs, gpuAnnotationsDropped, gpuIntervalsDropped: gpuDropped },
    options.notes ?? [],
  );

  return {
    record,
    meta,
    processName: options.processName ?? meta.adapter?.runtime ?? 'wgprof',
    traceName: options.traceName ?? `${meta.workerName}.pt.trace.json`,
    hasGpu: meta.adapter !== undefined || gpuIds.length > 0,
    baseNs,
    windowStart,
    windowEnd,
    stepRec,
    sS,
    sE,
    aS,
    aE,
    gaS,
    gaE,
    stepExt,
    annExt,
    stepKernels,
    stepGpuNs,
    stepFlops,
    stepBytes,
    stepCostKnown,
    stepFlopsGpuNs,
    stepPeak,
    dGs,
    dGe,
    cGs,
    cGe,
    spanExt,
    order,
    iS,
    iE,
    iKind,
    iRec,
    memOrder,
    memTs,
    provenance,
    deviceProperties: devicePropertiesOf(meta),
  };
}

/** The emission pass. Yields whenever the writer holds at least `chunkChars` characters. */
function* emit(pl: Plan, w: EventWriter, chunkChars: number): Generator<void, void, undefined> {
  const { record, meta } = pl;
  const hostPid = meta.pid;
  const hostTid = meta.tid;
  const gpuPid = meta.deviceIndex;
  const gpuTid = meta.streamId;
  const t0 = pl.windowStart;

  // Metadata rows (Kineto handleDeviceInfo / handleResourceInfo).
  w.meta('process_name', hostPid, 0, t0, 'name', pl.processName);
  w.meta('process_labels', hostPid, 0, t0, 'labels', 'CPU');
  w.meta('process_sort_index', hostPid, 0, t0, 'sort_index', hostPid);
  if (pl.hasGpu) {
    w.meta('process_name', gpuPid, 0, t0, 'name', pl.processName);
    w.meta('process_labels', gpuPid, 0, t0, 'labels', `GPU ${gpuPid}`);
    w.meta('process_sort_index', gpuPid, 0, t0, 'sort_index', gpuPid + GPU_SORT_INDEX_BASE);
  }
  w.meta('thread_name', hostPid, hostTid, t0, 'name', `thread ${hostTid} (${pl.processName})`);
  w.meta('thread_sort_index', hostPid, hostTid, t0, 'sort_index', hostTid);
  if (pl.hasGpu) {
    w.meta('thread_name', gpuPid, gpuTid, t0, 'name', `stream ${gpuTid} `);
    w.meta('thread_sort_index', gpuPid, gpuTid, t0, 'sort_index', gpuTid);
  }

  const withFlops = meta.withFlops === true;
  const withMemory = meta.withMemory === true;
  const opOptions: OpOptions = { pid: hostPid, tid: hostTid, withShapes: meta.recordShapes === true, withFlops, withStack: meta.withStack === true };
  const ids: ThreadIds = { hostPid, hostTid, gpuPid, gpuTid };
  const { steps, cpuSpans, dispatches, copies, memory } = record;
  const { order, iS, iE, iKind, iRec, memOrder, memTs, dGs, dGe, cGs, cGe } = pl;
  const nM = memOrder.length;
  let m = 0;

  const emitMemoryUntil = (t: number): void => {
    while (m < nM && memTs[memOrder[m]!]! <= t) {
      const i = memOrder[m++]!;
      const r = memory[i]!;
      const ts = memTs[i]!;
      w.instant('cpu_instant_event', 't', '[memory]', hostPid, hostTid, ts, {
        'Total Reserved': r.totalReservedBytes,
        'Total Allocated': r.totalAllocatedBytes,
        Bytes: r.bytes,
        'Device Id': gpuPid,
        'Device Type': 1,
        Addr: r.addr,
        finished: false,
      });
      w.counter('gpu_memory', MEMORY_COUNTER_NAME, gpuPid, gpuTid, ts, { bytes: r.totalAllocatedBytes });
    }
  };

  for (let k = 0; k < order.length; k++) {
    const x = order[k]!;
    const s = iS[x]!;
    const dur = iE[x]! - s;
    if (withMemory) emitMemoryUntil(s);
    const i = iRec[x]!;
    switch (iKind[x]) {
      case K_STEP: {
        const step = steps[pl.stepRec[i]!]!;
        const args: ArgBag = { 'External id': pl.stepExt[i], 'Record function id': 0, kernels: pl.stepKernels[i], gpu_time_us: pl.stepGpuNs[i]! / 1000 };
        if (withFlops && pl.stepCostKnown[i]! > 0) {
          args['flops'] = pl.stepFlops[i];
          args['bytes'] = pl.stepBytes[i];
          const gpuNs = pl.stepFlopsGpuNs[i]!;
          if (gpuNs > 0) {
            // flops per ns = GFLOP/s; bytes per ns = GB/s (achieved, over kernels with a known cost).
            args['achieved_gflop_per_s'] = round6(pl.stepFlops[i]! / gpuNs);
            args['achieved_gb_per_s'] = round6(pl.stepBytes[i]! / gpuNs);
          }
        }
        if (withMemory && pl.stepPeak[i] === pl.stepPeak[i]) args['peak_allocated_bytes'] = pl.stepPeak[i];
        w.complete('user_annotation', `ProfilerStep#${step.number}`, hostPid, hostTid, s, dur, args);
        const ga = pl.gaS[i]!;
        if (ga === ga) w.complete('gpu_user_annotation', `ProfilerStep#${step.number}`, gpuPid, gpuTid, ga, pl.gaE[i]! - ga, { 'External id': pl.stepExt[i] });
        break;
      }
      case K_ANNOTATION:
        w.complete('user_annotation', steps[pl.stepRec[i]!]!.annotation ?? '', hostPid, hostTid, s, dur, { 'External id': pl.annExt[i], 'Record function id': 0 });
        break;
      case K_SPAN: {
        const span = cpuSpans[i]!;
        const ext = pl.spanExt[i]!;
        const args: ArgBag = ext === ext ? { 'External id': ext } : {};
        if (span.args) for (const key of Object.keys(span.args)) args[key] = span.args[key];
        w.complete(span.cat, span.name, hostPid, hostTid, s, dur, args);
        break;
      }
      case K_OP:
        w.cpuOp(dispatches[i]!, s, dur, opOptions);
        break;
      case K_LAUNCH: {
        const gs = dGs[i]!;
        if (gs === gs) w.dispatchLaunch(dispatches[i]!, s, dur, gs, dGe[i]! - gs, ids);
        else w.dispatchLaunch(dispatches[i]!, s, dur, -1, 0, ids);
        break;
      }
      case K_COPY: {
        const c = copies[i]!;
        // No cpu_op wraps a copy, so (like Kineto for unlinked runtime calls) no External id.
        w.complete('cuda_runtime', c.launch, hostPid, hostTid, s, dur, { correlation: c.correlation });
        const gs = cGs[i]!;
        if (gs === gs) {
          w.flow('s', c.correlation, hostPid, hostTid, s);
          const gdur = cGe[i]! - gs;
          const args: ArgBag = { device: gpuPid, stream: gpuTid, correlation: c.correlation, bytes: c.bytes };
          if (gdur > 0) args['memory bandwidth (GB/s)'] = round6(c.bytes / gdur);
          w.complete('gpu_memcpy', MEMCPY_NAMES[c.kind], gpuPid, gpuTid, gs, gdur, args);
          w.flow('f', c.correlation, gpuPid, gpuTid, gs);
        }
        break;
      }
    }
    if (w.pending() >= chunkChars) yield;
  }
  if (withMemory) emitMemoryUntil(Infinity);
  w.instant(undefined, 'g', 'Record Window End', '', '', pl.windowEnd, undefined);
}

// ---------------------------------------------------------------- writers

class ObjectWriter implements EventWriter {
  readonly events: TraceEvent[] = [];
  private readonly names = new Map<string, string>();

  pending(): number {
    return 0;
  }
  private name(raw: string): string {
    let out = this.names.get(raw);
    if (out === undefined) {
      out = sanitizeEventName(raw);
      if (this.names.size < 4096) this.names.set(raw, out);
    }
    return out;
  }
  private args(bag: ArgBag): TraceArgs {
    const out: TraceArgs = {};
    for (const key in bag) {
      const v = bag[key];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      out[wellFormed(key)] = cleanJson(v);
    }
    return out;
  }
  meta(name: string, pid: number, tid: number, tsNs: number, key: string, value: string | number): void {
    this.events.push({ ph: 'M', name, ts: tsNs / 1000, pid, tid, args: { [key]: cleanJson(value) } });
  }
  complete(cat: string, name: string, pid: number, tid: number, tsNs: number, durNs: number, args: ArgBag): void {
    this.events.push({ ph: 'X', cat, name: this.name(name), pid, tid, ts: tsNs / 1000, dur: durNs / 1000, args: this.args(args) });
  }
  instant(cat: string | undefined, scope: 't' | 'g', name: string, pid: number | string, tid: number | string, tsNs: number, args: ArgBag | undefined): void {
    const e: TraceEvent = cat === undefined ? { ph: 'i', s: scope, name, pid, tid, ts: tsNs / 1000 } : { ph: 'i', cat, s: scope, name, pid, tid, ts: tsNs / 1000 };
    if (args) e.args = this.args(args);
    this.events.push(e);
  }
  counter(cat: string, name: string, pid: number, tid: number, tsNs: number, args: ArgBag): void {
    this.events.push({ ph: 'C', cat, name, pid, tid, ts: tsNs / 1000, args: this.args(args) });
  }
  flow(ph: 's' | 'f', id: number, pid: number, tid: number, tsNs: number): void {
    const e: TraceEvent = { ph, id, pid, tid, ts: tsNs / 1000, cat: 'ac2g', name: 'ac2g' };
    if (ph === 'f') e.bp = 'e';
    this.events.push(e);
  }
  cpuOp(d: DispatchRecord, tsNs: number, durNs: number, opts: OpOptions): void {
    this.complete('cpu_op', d.kernel, opts.pid, opts.tid, tsNs, durNs, opArgs(d, opts));
  }
  dispatchLaunch(d: DispatchRecord, tsNs: number, durNs: number, gsNs: number, gdurNs: number, ids: ThreadIds): void {
    this.complete('cuda_runtime', d.launch, ids.hostPid, ids.hostTid, tsNs, durNs, { 'External id': d.externalId, correlation: d.correlation });
    if (gsNs < 0) return;
    this.flow('s', d.correlation, ids.hostPid, ids.hostTid, tsNs);
    this.complete('kernel', kernelName(d), ids.gpuPid, ids.gpuTid, gsNs, gdurNs, kernelArgs(d, ids));
    this.flow('f', d.correlation, ids.gpuPid, ids.gpuTid, gsNs);
  }
}

class TextWriter implements EventWriter {
  buf = '';
  events = 0;
  private readonly names = new Map<string, string>();
  private readonly keys = new Map<string, string>();

  pending(): number {
    return this.buf.length;
  }
  take(): string {
    const out = this.buf;
    this.buf = '';
    return out;
  }
  private sep(): string {
    return this.events++ === 0 ? '\n' : ',\n';
  }
  private name(raw: string): string {
    let out = this.names.get(raw);
    if (out === undefined) {
      out = jsonString(sanitizeEventName(raw));
      if (this.names.size < 4096) this.names.set(raw, out);
    }
    return out;
  }
  private args(bag: ArgBag): string {
    let out = '{';
    let first = true;
    for (const key in bag) {
      const v = bag[key];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      let k = this.keys.get(key);
      if (k === undefined) {
        k = jsonString(key) + ':';
        if (this.keys.size < 4096) this.keys.set(key, k);
      }
      out += (first ? '' : ',') + k + (typeof v === 'number' ? (Number.isFinite(v) ? (v === 0 ? '0' : '' + v) : 'null') : jsonText(v));
      first = false;
    }
    return out + '}';
  }
  meta(name: string, pid: number, tid: number, tsNs: number, key: string, value: string | number): void {
    this.buf += `${this.sep()}{"ph":"M","name":"${name}","ts":${fmtUs(tsNs)},"pid":${pid},"tid":${tid},"args":{${jsonString(key)}:${jsonText(value)}}}`;
  }
  complete(cat: string, name: string, pid: number, tid: number, tsNs: number, durNs: number, args: ArgBag): void {
    this.buf += `${this.sep()}{"ph":"X","cat":${jsonString(cat)},"name":${this.name(name)},"pid":${pid},"tid":${tid},"ts":${fmtUs(tsNs)},"dur":${fmtUs(durNs)},"args":${this.args(args)}}`;
  }
  instant(cat: string | undefined, scope: 't' | 'g', name: string, pid: number | string, tid: number | string, tsNs: number, args: ArgBag | undefined): void {
    const catText = cat === undefined ? '' : `"cat":${jsonString(cat)},`;
    const p = typeof pid === 'number' ? pid : jsonString(pid);
    const t = typeof tid === 'number' ? tid : jsonString(tid);
    this.buf += `${this.sep()}{"ph":"i",${catText}"s":"${scope}","name":${jsonString(name)},"pid":${p},"tid":${t},"ts":${fmtUs(tsNs)}${args ? `,"args":${this.args(args)}` : ''}}`;
  }
  counter(cat: string, name: string, pid: number, tid: number, tsNs: number, args: ArgBag): void {
    this.buf += `${this.sep()}{"ph":"C","cat":${jsonString(cat)},"name":${jsonString(name)},"pid":${pid},"tid":${tid},"ts":${fmtUs(tsNs)},"args":${this.args(args)}}`;
  }
  flow(ph: 's' | 'f', id: number, pid: number, tid: number, tsNs: number): void {
    this.buf += `${this.sep()}{"ph":"${ph}","id":${id},"pid":${pid},"tid":${tid},"ts":${fmtUs(tsNs)},"cat":"ac2g","name":"ac2g"${ph === 'f' ? ',"bp":"e"' : ''}}`;
  }
  private arr(values: readonly unknown[]): string {
    return values.length === 3 && typeof values[0] === 'number' && typeof values[1] === 'number' && typeof values[2] === 'number' && Number.isFinite(values[0] + values[1] + values[2])
      ? `[${values[0] === 0 ? 0 : values[0]},${values[1] === 0 ? 0 : values[1]},${values[2] === 0 ? 0 : values[2]}]`
      : jsonText(values);
  }
  cpuOp(d: DispatchRecord, tsNs: number, durNs: number, opts: OpOptions): void {
    let args = `{"External id":${d.externalId}`;
    if (opts.withShapes) {
      if (d.inputDims !== undefined) args += `,"Input Dims":${jsonText(d.inputDims)}`;
      if (d.inputTypes !== undefined) args += `,"Input type":${jsonText(d.inputTypes)}`;
    }
    const cost = opts.withFlops ? knownCost(d) : undefined;
    if (cost) args += `,"flops":${jsonText(cost.flops)},"bytes":${jsonText(cost.bytesRead + cost.bytesWritten)}`;
    if (opts.withStack && d.stack !== undefined && d.stack.length > 0) args += `,"Call stack":${jsonString(d.stack.join(';'))}`;
    this.buf += `${this.sep()}{"ph":"X","cat":"cpu_op","name":${this.name(d.kernel)},"pid":${opts.pid},"tid":${opts.tid},"ts":${fmtUs(tsNs)},"dur":${fmtUs(durNs)},"args":${args}}}`;
  }
  // No `cbid`: WebGPU has no CUPTI callback id, and neither HTA nor tb_plugin reads it. The launch is
  // named by the WebGPU call ('dispatchWorkgroups'), so HTA's launch statistics, which key on
  // cudaLaunchKernel & co, do not count it; its cat (cuda_runtime) is what links kernels to ops.
  dispatchLaunch(d: DispatchRecord, tsNs: number, durNs: number, gsNs: number, gdurNs: number, ids: ThreadIds): void {
    const ts = fmtUs(tsNs);
    const corr = d.correlation;
    this.buf += `${this.sep()}{"ph":"X","cat":"cuda_runtime","name":${this.name(d.launch)},"pid":${ids.hostPid},"tid":${ids.hostTid},"ts":${ts},"dur":${fmtUs(durNs)},"args":{"External id":${d.externalId},"correlation":${corr}}}`;
    if (gsNs < 0) return;
    const gs = fmtUs(gsNs);
    let args = `{"External id":${d.externalId},"queued":0,"device":${ids.gpuPid},"stream":${ids.gpuTid},"correlation":${corr},"grid":${this.arr(d.workgroups)}`;
    if (d.workgroupSize !== undefined) args += `,"block":${this.arr(d.workgroupSize)}`;
    if (d.boundBufferBytes !== undefined) args += `,"bound buffer bytes":${jsonText(d.boundBufferBytes)}`;
    this.events += 3;
    this.buf +=
      `,\n{"ph":"s","id":${corr},"pid":${ids.hostPid},"tid":${ids.hostTid},"ts":${ts},"cat":"ac2g","name":"ac2g"}` +
      `,\n{"ph":"X","cat":"kernel","name":${this.name(kernelName(d))},"pid":${ids.gpuPid},"tid":${ids.gpuTid},"ts":${gs},"dur":${fmtUs(gdurNs)},"args":${args}}}` +
      `,\n{"ph":"f","id":${corr},"pid":${ids.gpuPid},"tid":${ids.gpuTid},"ts":${gs},"cat":"ac2g","name":"ac2g","bp":"e"}`;
  }
}

// ---------------------------------------------------------------- public API

function flagsOf(meta: TraceMeta): Partial<Record<'with_stack' | 'profile_memory' | 'record_shapes' | 'with_flops', 1>> {
  const flags: Partial<Record<'with_stack' | 'profile_memory' | 'record_shapes' | 'with_flops', 1>> = {};
  if (meta.withStack) flags.with_stack = 1;
  if (meta.withMemory) flags.profile_memory = 1;
  if (meta.recordShapes) flags.record_shapes = 1;
  if (meta.withFlops) flags.with_flops = 1;
  return flags;
}

/** Builds the whole trace as a JS object (pure; the same content serializeTrace writes). */
export function buildTrace(record: CaptureRecord, options: TraceBuildOptions = {}): KinetoTrace {
  const pl = plan(record, options);
  const writer = new ObjectWriter();
  for (const _ of emit(pl, writer, Infinity)) void _;
  const trace: KinetoTrace = {
    schemaVersion: 1,
    deviceProperties: pl.deviceProperties.map((p) => cleanJson(p) as unknown as TraceDeviceProperties),
    ...flagsOf(pl.meta),
    distributedInfo: { backend: 'webgpu', rank: pl.meta.rank, world_size: pl.meta.worldSize },
    wgprof: cleanJson(pl.provenance) as unknown as TraceProvenance,
    displayTimeUnit: 'ms',
    baseTimeNanoseconds: Number(pl.baseNs),
    traceEvents: writer.events,
    traceName: cleanJson(pl.traceName) as string,
  };
  return trace;
}

/** Counters filled in while a serialized trace is consumed. */
export interface SerializeStats {
  /** `traceEvents` written so far. */
  events: number;
  /** UTF-16 code units yielded so far (= bytes for ASCII text). */
  chars: number;
}

export interface TraceChunks extends Iterable<string> {
  readonly stats: SerializeStats;
}

/**
 * The trace as JSON text in chunks of about `chunkChars` (64 Ki) characters, built event by event;
 * the whole document is never held in memory. Compact: no whitespace except `"rank": N` in
 * `distributedInfo`, which HTA finds with the regex `"rank":\s+(\d+)`. The record is checked (and
 * planned) by this call: a bad one throws WgprofError TRACE_INVALID_RECORD before any chunk.
 */
export function serializeTrace(record: CaptureRecord, options: TraceBuildOptions = {}): TraceChunks {
  const stats: SerializeStats = { events: 0, chars: 0 };
  const chunkChars = Math.max(1024, options.chunkChars ?? DEFAULT_CHUNK_CHARS);
  // Plan (and check the record) now, so a bad record throws before anything is opened or written.
  const pl = plan(record, options);
  function* chunks(): Generator<string, void, undefined> {
    const meta = pl.meta;
    let head = `{"schemaVersion":1,"deviceProperties":${jsonText(pl.deviceProperties)}`;
    for (const [key, value] of Object.entries(flagsOf(meta))) head += `,"${key}":${value}`;
    head += `,"distributedInfo":{"backend":"webgpu","rank": ${meta.rank},"world_size":${meta.worldSize}}`;
    head += `,"wgprof":${jsonText(pl.provenance)}`;
    head += `,"displayTimeUnit":"ms","baseTimeNanoseconds":${pl.baseNs.toString()},"traceEvents":[`;
    const writer = new TextWriter();
    writer.buf = head;
    for (const _ of emit(pl, writer, chunkChars)) {
      const text = writer.take();
      stats.events = writer.events;
      stats.chars += text.length;
      yield text;
    }
    const tail = writer.take() + `\n],"traceName":${jsonString(pl.traceName)}}\n`;
    stats.events = writer.events;
    stats.chars += tail.length;
    yield tail;
  }
  return { stats, [Symbol.iterator]: chunks };
}
