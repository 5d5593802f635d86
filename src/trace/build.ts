// CaptureRecord -> Kineto trace. One planning pass (pure, over typed arrays) fixes every time on the
// relative-ns grid and enforces strict nesting; one emission pass walks the plan and hands each event
// to a writer: ObjectWriter builds the in-memory trace (buildTrace), ByteWriter writes the JSON text as
// UTF-8 bytes in chunks (serializeTraceBytes, serializeTrace) without ever holding the whole document.
// Both writers see the same calls, so JSON.parse(serializeTrace(r)) deep-equals buildTrace(r)
// (test/unit/trace-build.test.ts checks it).
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

import { WgprofError } from '../util/errors.js';
import { WGPROF_VERSION } from '../version.js';
import { cleanJson, jsonString, jsonText, sanitizeEventName, wellFormed } from './json.js';
import { ByteOut, utf8 } from './out.js';
import type { KinetoTrace, TraceArgs, TraceDeviceProperties, TraceEvent, TraceJson, TraceProvenance } from './kineto.js';
import type { AdapterFacts, CaptureRecord, CopyRecord, DispatchRecord, KernelCost, TraceMeta } from '../capture/model.js';

export interface TraceBuildOptions {
  /** The `traceName` field (Kineto writes the file name there). Default `{workerName}.pt.trace.json`. */
  traceName?: string;
  /** Process name in the `M` events. Default: the adapter's runtime ('node' | 'browser'), else 'wgprof'. */
  processName?: string;
  /** Extra lines for `wgprof.notes`. */
  notes?: string[];
  /**
   * Chunk size of serializeTraceBytes in bytes, and so (for ASCII text) of serializeTrace in characters
   * (default 65536; at least 1024). A chunk ends after the event that reaches it.
   */
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
  /** Bytes buffered and not yet taken (0 for the object writer). */
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

type Adjustments = TraceProvenance['adjustments'];

// The planning passes below are small functions over typed arrays on purpose: V8 optimizes a small
// hot function after a few thousand iterations, a single 400-line one only after millions, and a
// trace is usually exported once per process (test/bench/trace.ts measures the first export).

/** Kineto's transToRelativeTime: ns since timeOrigin -> integer ns since the base; negative clamps to 0. */
function relNs(offsetNs: number, ns: number): number {
  const v = Math.round(offsetNs + ns);
  return v > 0 ? v : 0;
}

/** Steps made disjoint, in start order, and their annotations clamped into them (relative ns). */
class StepGrid {
  readonly n: number;
  /** Record index of the step at each position. */
  readonly stepRec: Int32Array;
  readonly sS: Float64Array;
  readonly sE: Float64Array;
  /** Annotation interval, NaN: no annotation. */
  readonly aS: Float64Array;
  readonly aE: Float64Array;

  constructor(steps: CaptureRecord['steps'], offsetNs: number, adj: Adjustments) {
    const n = steps.length;
    this.n = n;
    const stepOrder = sortedIndices(n, (i) => steps[i]!.startNs);
    const stepRec = (this.stepRec = new Int32Array(n));
    const sS = (this.sS = new Float64Array(n));
    const sE = (this.sE = new Float64Array(n));
    const aS = (this.aS = new Float64Array(n).fill(NaN));
    const aE = (this.aE = new Float64Array(n).fill(NaN));
    for (let p = 0; p < n; p++) {
      const s = steps[stepOrder[p]!]!;
      stepRec[p] = stepOrder[p]!;
      sS[p] = relNs(offsetNs, s.startNs);
      sE[p] = relNs(offsetNs, s.endNs);
      if (sE[p]! < sS[p]!) {
        sE[p] = sS[p]!;
        adj.hostSpansClamped++;
      }
      if (p > 0 && sS[p]! < sE[p - 1]!) {
        sE[p - 1] = Math.max(sS[p - 1]!, sS[p]!);
        adj.hostSpansClamped++;
      }
    }
    for (let p = 0; p < n; p++) {
      const s = steps[stepRec[p]!]!;
      if (s.annotation === undefined) continue;
      const lo = sS[p]!;
      const hi = sE[p]!;
      const rawS = relNs(offsetNs, s.annotationStartNs ?? s.startNs);
      const rawE = relNs(offsetNs, s.annotationEndNs ?? s.endNs);
      const a0 = Math.min(Math.max(rawS, lo), hi);
      const a1 = Math.min(Math.max(rawE, a0), hi);
      if (a0 !== rawS || a1 !== rawE) adj.hostSpansClamped++;
      aS[p] = a0;
      aE[p] = a1;
    }
  }

  /** Position of the step that contains t, or -1. */
  locate(t: number): number {
    const p = lastAtOrBefore(this.sS, t);
    return p >= 0 && t < this.sE[p]! ? p : -1;
  }

  /** Cuts a span's end so that it does not straddle a step or annotation edge; returns the new end. */
  clampEnd(s: number, e: number): number {
    const p = this.locate(s);
    if (p >= 0) {
      if (e > this.sE[p]!) e = this.sE[p]!;
      const a0 = this.aS[p]!;
      const a1 = this.aE[p]!;
      if (a0 === a0) {
        if (s >= a0 && s < a1) {
          if (e > a1) e = a1;
        } else if (s < a0 && e > a0 && e < a1) e = a0;
      }
    } else {
      const q = lastAtOrBefore(this.sS, e - 1);
      if (q >= 0 && e < this.sE[q]! && e > this.sS[q]! && s < this.sS[q]!) e = this.sS[q]!;
    }
    return e;
  }
}

/** Host items (steps, annotations, spans, ops, launches, copies) as parallel arrays, in push order. */
class HostItems {
  readonly iS: Float64Array;
  readonly iE: Float64Array;
  readonly iKind: Uint8Array;
  readonly iRec: Int32Array;
  n = 0;
  constructor(capacity: number) {
    this.iS = new Float64Array(capacity);
    this.iE = new Float64Array(capacity);
    this.iKind = new Uint8Array(capacity);
    this.iRec = new Int32Array(capacity);
  }
  push(kind: number, rec: number, s: number, e: number): void {
    const n = this.n++;
    this.iS[n] = s;
    this.iE[n] = e;
    this.iKind[n] = kind;
    this.iRec[n] = rec;
  }
  /** A host span [s, e] cut to its containers; an end before the start becomes the start. Both count as clamps. */
  pushClamped(kind: number, rec: number, s: number, e: number, grid: StepGrid, adj: Adjustments): void {
    if (e < s) {
      e = s;
      adj.hostSpansClamped++;
    }
    const c = grid.clampEnd(s, e);
    if (c !== e) adj.hostSpansClamped++;
    this.push(kind, rec, s, c);
  }
  /** Parents first: earlier start, then longer, then lower rank, then push order. */
  before(a: number, b: number): number {
    return this.iS[a]! - this.iS[b]! || this.iE[b]! - this.iE[a]! || RANK[this.iKind[a]!]! - RANK[this.iKind[b]!]! || a - b;
  }
}

/** Sets out[i], outEnd[i] to the GPU interval of record times; leaves NaN when there is none, or when it ends before it starts (counted). */
function gpuInterval(out: Float64Array, outEnd: Float64Array, i: number, offsetNs: number, startNs: number | undefined, endNs: number | undefined, adj: Adjustments): void {
  if (startNs === undefined || endNs === undefined) return;
  const gs = relNs(offsetNs, startNs);
  const ge = relNs(offsetNs, endNs);
  if (ge >= gs) {
    out[i] = gs;
    outEnd[i] = ge;
  } else adj.gpuIntervalsDropped++;
}

function planOps(dispatches: DispatchRecord[], offsetNs: number, grid: StepGrid, items: HostItems, adj: Adjustments, dStep: Int32Array, dGs: Float64Array, dGe: Float64Array): void {
  for (let i = 0; i < dispatches.length; i++) {
    const d = dispatches[i]!;
    const s = relNs(offsetNs, d.opStartNs);
    items.pushClamped(K_OP, i, s, relNs(offsetNs, d.opEndNs), grid, adj);
    dStep[i] = grid.locate(s);
    gpuInterval(dGs, dGe, i, offsetNs, d.gpuStartNs, d.gpuEndNs, adj);
  }
}

/** Each launch is clamped into its op (item opItem0 + i). */
function planLaunches(dispatches: DispatchRecord[], offsetNs: number, items: HostItems, opItem0: number, adj: Adjustments): void {
  const { iS, iE } = items;
  for (let i = 0; i < dispatches.length; i++) {
    const d = dispatches[i]!;
    const os = iS[opItem0 + i]!;
    const oe = iE[opItem0 + i]!;
    const rawS = relNs(offsetNs, d.launchStartNs);
    const rawE = relNs(offsetNs, d.launchEndNs);
    const ls = Math.min(Math.max(rawS, os), oe);
    const le = Math.min(Math.max(rawE, ls), oe);
    if (ls !== rawS || le !== rawE) adj.hostSpansClamped++;
    items.push(K_LAUNCH, i, ls, le);
  }
}

function planCopies(copies: CopyRecord[], offsetNs: number, grid: StepGrid, items: HostItems, adj: Adjustments, cStep: Int32Array, cGs: Float64Array, cGe: Float64Array): void {
  for (let i = 0; i < copies.length; i++) {
    const cp = copies[i]!;
    const s = relNs(offsetNs, cp.launchStartNs);
    items.pushClamped(K_COPY, i, s, relNs(offsetNs, cp.launchEndNs), grid, adj);
    cStep[i] = grid.locate(s);
    gpuInterval(cGs, cGe, i, offsetNs, cp.gpuStartNs, cp.gpuEndNs, adj);
  }
}

/**
 * Host items in emission order (parents first). Dispatches (op, launch, op, launch...) are nearly always
 * in order already: merge that stream with the few other items instead of sorting everything; fall back
 * to a full sort when the stream is out of order.
 */
function orderItems(items: HostItems, opItem0: number, nD: number): number[] {
  const nItems = items.n;
  const cmp = (a: number, b: number): number => items.before(a, b);
  const others: number[] = [];
  for (let x = 0; x < opItem0; x++) others.push(x);
  for (let x = opItem0 + 2 * nD; x < nItems; x++) others.push(x);
  others.sort(cmp);
  const pairs = new Array<number>(2 * nD);
  for (let i = 0; i < nD; i++) {
    pairs[2 * i] = opItem0 + i;
    pairs[2 * i + 1] = opItem0 + nD + i;
  }
  let pairsSorted = true;
  for (let k = 1; k < pairs.length && pairsSorted; k++) if (items.before(pairs[k - 1]!, pairs[k]!) > 0) pairsSorted = false;
  if (!pairsSorted) pairs.sort(cmp);
  const order = new Array<number>(nItems);
  for (let a = 0, b = 0, k = 0; k < nItems; k++) {
    if (b >= pairs.length || (a < others.length && items.before(others[a]!, pairs[b]!) <= 0)) order[k] = others[a++]!;
    else order[k] = pairs[b++]!;
  }
  return order;
}

/** Stack pass: a child never outlives its parent. */
function clampToParents(order: number[], items: HostItems, adj: Adjustments): void {
  const { iS, iE } = items;
  const stack = new Int32Array(order.length);
  let sp = 0;
  for (let k = 0; k < order.length; k++) {
    const x = order[k]!;
    while (sp > 0 && iE[stack[sp - 1]!]! <= iS[x]!) sp--;
    if (sp > 0 && iE[x]! > iE[stack[sp - 1]!]!) {
      iE[x] = iE[stack[sp - 1]!]!;
      adj.hostSpansClamped++;
    }
    stack[sp++] = x;
  }
}

/** The GPU stream's intervals in start order (ids: dispatch i, or nD + copy i), siblings never overlapping. */
interface GpuStream {
  ids: number[];
  gS: Float64Array;
  gE: Float64Array;
}

/** An interval that starts before the previous one ended is shifted to start at that end (its end is kept). */
function gpuSiblings(nD: number, dGs: Float64Array, dGe: Float64Array, cGs: Float64Array, cGe: Float64Array, adj: Adjustments): GpuStream {
  const ids: number[] = [];
  for (let i = 0; i < nD; i++) if (dGs[i] === dGs[i]) ids.push(i);
  for (let i = 0; i < cGs.length; i++) if (cGs[i] === cGs[i]) ids.push(nD + i);
  const gStart = (g: number): number => (g < nD ? dGs[g]! : cGs[g - nD]!);
  let sorted = true;
  for (let k = 1; k < ids.length; k++) if (gStart(ids[k]!) < gStart(ids[k - 1]!)) sorted = false;
  if (!sorted) ids.sort((a, b) => gStart(a) - gStart(b) || a - b);
  let prevEnd = -Infinity;
  const gS = new Float64Array(ids.length);
  const gE = new Float64Array(ids.length);
  for (let k = 0; k < ids.length; k++) {
    const g = ids[k]!;
    const isD = g < nD;
    const i = isD ? g : g - nD;
    const starts = isD ? dGs : cGs;
    const ends = isD ? dGe : cGe;
    let s = starts[i]!;
    let e = ends[i]!;
    if (s < prevEnd) {
      const shift = prevEnd - s;
      if (shift > adj.maxGpuShiftNs) adj.maxGpuShiftNs = shift;
      adj.gpuIntervalsShifted++;
      s = prevEnd;
      if (e < s) e = s;
      starts[i] = s;
      ends[i] = e;
    }
    gS[k] = s;
    gE[k] = e;
    if (e > prevEnd) prevEnd = e;
  }
  return { ids, gS, gE };
}

interface StepTotals {
  stepKernels: Int32Array;
  stepGpuNs: Float64Array;
  stepFlops: Float64Array;
  stepBytes: Float64Array;
  stepCostKnown: Int32Array;
  stepFlopsGpuNs: Float64Array;
}

function stepTotals(nSteps: number, dispatches: DispatchRecord[], dStep: Int32Array, dGs: Float64Array, dGe: Float64Array, cStep: Int32Array, cGs: Float64Array, cGe: Float64Array): StepTotals {
  const t: StepTotals = {
    stepKernels: new Int32Array(nSteps),
    stepGpuNs: new Float64Array(nSteps),
    stepFlops: new Float64Array(nSteps),
    stepBytes: new Float64Array(nSteps),
    stepCostKnown: new Int32Array(nSteps),
    stepFlopsGpuNs: new Float64Array(nSteps),
  };
  for (let i = 0; i < dispatches.length; i++) {
    const p = dStep[i]!;
    if (p < 0) continue;
    t.stepKernels[p] = t.stepKernels[p]! + 1;
    const hasGpu = dGs[i] === dGs[i];
    if (hasGpu) t.stepGpuNs[p] = t.stepGpuNs[p]! + dGe[i]! - dGs[i]!;
    const cost = knownCost(dispatches[i]!);
    if (cost) {
      t.stepCostKnown[p] = t.stepCostKnown[p]! + 1;
      t.stepFlops[p] = t.stepFlops[p]! + cost.flops;
      t.stepBytes[p] = t.stepBytes[p]! + cost.bytesRead + cost.bytesWritten;
      if (hasGpu) t.stepFlopsGpuNs[p] = t.stepFlopsGpuNs[p]! + dGe[i]! - dGs[i]!;
    }
  }
  for (let i = 0; i < cStep.length; i++) {
    const p = cStep[i]!;
    if (p >= 0 && cGs[i] === cGs[i]) t.stepGpuNs[p] = t.stepGpuNs[p]! + cGe[i]! - cGs[i]!;
  }
  return t;
}

/** Each step's gpu_user_annotation interval (NaN: none), drawn over its GPU work without cutting a slice. */
function gpuAnnotations(nSteps: number, nD: number, gpu: GpuStream, dStep: Int32Array, cStep: Int32Array, adj: Adjustments): { gaS: Float64Array; gaE: Float64Array } {
  const gaS = new Float64Array(nSteps).fill(NaN);
  const gaE = new Float64Array(nSteps).fill(NaN);
  const { ids, gS, gE } = gpu;
  if (nSteps === 0 || ids.length === 0) return { gaS, gaE };
  const first = new Int32Array(nSteps).fill(-1);
  const last = new Int32Array(nSteps).fill(-1);
  for (let k = 0; k < ids.length; k++) {
    const g = ids[k]!;
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
      adj.gpuAnnotationsDropped++;
      continue;
    }
    gaS[p] = s;
    gaE[p] = e;
    prevAnnEnd = e;
  }
  return { gaS, gaE };
}

/** Peak allocated bytes per step (NaN: unknown): the level at its start, raised by each event inside it. */
function stepPeaks(grid: StepGrid, steps: CaptureRecord['steps'], memory: CaptureRecord['memory'], memTs: Float64Array, memOrder: number[]): Float64Array {
  const nM = memOrder.length;
  const stepPeak = new Float64Array(grid.n).fill(NaN);
  let m = 0;
  let level = NaN;
  for (let p = 0; p < grid.n; p++) {
    const given = steps[grid.stepRec[p]!]!.peakAllocatedBytes;
    while (m < nM && memTs[memOrder[m]!]! < grid.sS[p]!) level = memory[memOrder[m++]!]!.totalAllocatedBytes;
    let peak = level;
    let k = m;
    while (k < nM && memTs[memOrder[k]!]! <= grid.sE[p]!) {
      const r = memory[memOrder[k++]!]!;
      if (peak !== peak) peak = r.totalAllocatedBytes - r.bytes;
      if (r.totalAllocatedBytes > peak) peak = r.totalAllocatedBytes;
    }
    stepPeak[p] = given !== undefined && Number.isFinite(given) ? given : peak;
  }
  return stepPeak;
}

/** [min, max] over every interval and instant of the trace (relative ns); [Infinity, -Infinity] when empty. */
function captureWindow(items: HostItems, gpu: GpuStream, gaS: Float64Array, gaE: Float64Array, memTs: Float64Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  const span = (starts: Float64Array, ends: Float64Array, n: number): void => {
    for (let i = 0; i < n; i++) {
      if (starts[i]! < lo) lo = starts[i]!;
      if (ends[i]! > hi) hi = ends[i]!;
    }
  };
  span(items.iS, items.iE, items.n);
  span(gpu.gS, gpu.gE, gpu.gS.length);
  span(gaS, gaE, gaS.length);
  span(memTs, memTs, memTs.length);
  return [lo, hi];
}

function plan(record: CaptureRecord, options: TraceBuildOptions): Plan {
  const meta = checkMeta(record);
  const { steps, dispatches, copies, cpuSpans, memory } = record;
  const withMemory = meta.withMemory === true;

  const { minNs } = scanRecord(record, withMemory);

  const captureEpochNs = meta.timeOriginEpochNs + BigInt(Math.floor(minNs));
  const baseNs = (captureEpochNs / TRIMONTH_NS) * TRIMONTH_NS;
  const offsetNs = Number(meta.timeOriginEpochNs - baseNs);
  const adj: Adjustments = { hostSpansClamped: 0, gpuIntervalsShifted: 0, maxGpuShiftNs: 0, gpuAnnotationsDropped: 0, gpuIntervalsDropped: 0 };

  // ---- steps and their annotations
  const grid = new StepGrid(steps, offsetNs, adj);
  const nSteps = grid.n;
  const { aS } = grid;

  // External ids for annotations and spans come after the record's own ids.
  let maxExt = 0;
  for (let i = 0; i < dispatches.length; i++) if (dispatches[i]!.externalId > maxExt) maxExt = dispatches[i]!.externalId;
  for (let i = 0; i < copies.length; i++) if (copies[i]!.externalId > maxExt) maxExt = copies[i]!.externalId;
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
  const items = new HostItems(nSteps + nAnn + nSp + 2 * nD + nC);
  for (let p = 0; p < nSteps; p++) items.push(K_STEP, p, grid.sS[p]!, grid.sE[p]!);
  for (let p = 0; p < nSteps; p++) if (aS[p] === aS[p]) items.push(K_ANNOTATION, p, aS[p]!, grid.aE[p]!);

  const spanExt = new Float64Array(nSp).fill(NaN);
  for (let i = 0; i < nSp; i++) {
    const sp = cpuSpans[i]!;
    items.pushClamped(K_SPAN, i, relNs(offsetNs, sp.startNs), relNs(offsetNs, sp.endNs), grid, adj);
    if ((sp.cat === 'cpu_op' || sp.cat === 'user_annotation') && !(sp.args && 'External id' in sp.args)) spanExt[i] = nextExt++;
  }

  const dStep = new Int32Array(nD);
  const dGs = new Float64Array(nD).fill(NaN);
  const dGe = new Float64Array(nD).fill(NaN);
  const opItem0 = items.n;
  planOps(dispatches, offsetNs, grid, items, adj, dStep, dGs, dGe);
  planLaunches(dispatches, offsetNs, items, opItem0, adj);
  const cStep = new Int32Array(nC);
  const cGs = new Float64Array(nC).fill(NaN);
  const cGe = new Float64Array(nC).fill(NaN);
  planCopies(copies, offsetNs, grid, items, adj, cStep, cGs, cGe);

  const order = orderItems(items, opItem0, nD);
  clampToParents(order, items, adj);

  // ---- GPU stream, per-step totals and gpu_user_annotation spans
  const gpu = gpuSiblings(nD, dGs, dGe, cGs, cGe, adj);
  const totals = stepTotals(nSteps, dispatches, dStep, dGs, dGe, cStep, cGs, cGe);
  const { gaS, gaE } = gpuAnnotations(nSteps, nD, gpu, dStep, cStep, adj);

  // ---- memory
  const nM = withMemory ? memory.length : 0;
  const memTs = new Float64Array(nM);
  for (let i = 0; i < nM; i++) memTs[i] = relNs(offsetNs, memory[i]!.tsNs);
  const memOrder = sortedIndices(nM, (i) => memTs[i]!);
  const stepPeak = withMemory ? stepPeaks(grid, steps, memory, memTs, memOrder) : new Float64Array(nSteps).fill(NaN);

  // ---- capture window (relative ns)
  let [windowStart, windowEnd] = captureWindow(items, gpu, gaS, gaE, memTs);
  if (windowStart === Infinity) windowStart = windowEnd = relNs(offsetNs, minNs);

  // ---- provenance
  let kernels = 0;
  for (const g of gpu.ids) if (g < nD) kernels++;
  const provenance = provenanceOf(
    meta,
    { steps: nSteps, dispatches: nD, kernels, copies: nC, memcpys: gpu.ids.length - kernels, memory: nM, cpuSpans: nSp },
    adj,
    options.notes ?? [],
  );

  return {
    record,
    meta,
    processName: options.processName ?? meta.adapter?.runtime ?? 'wgprof',
    traceName: options.traceName ?? `${meta.workerName}.pt.trace.json`,
    hasGpu: meta.adapter !== undefined || gpu.ids.length > 0,
    baseNs,
    windowStart,
    windowEnd,
    stepRec: grid.stepRec,
    sS: grid.sS,
    sE: grid.sE,
    aS,
    aE: grid.aE,
    gaS,
    gaE,
    stepExt,
    annExt,
    ...totals,
    stepPeak,
    dGs,
    dGe,
    cGs,
    cGe,
    spanExt,
    order,
    iS: items.iS,
    iE: items.iE,
    iKind: items.iKind,
    iRec: items.iRec,
    memOrder,
    memTs,
    provenance,
    deviceProperties: devicePropertiesOf(meta),
  };
}

/**
 * The emission pass as a resumable loop: run() writes events until the writer holds `chunkBytes`
 * bytes, and returns true once everything (tail included) is written. A plain method, not a
 * generator, so that V8 optimizes it between chunks of the first export.
 */
class Emission {
  private k = 0;
  private m = 0;
  private readonly hostPid: number;
  private readonly hostTid: number;
  private readonly gpuPid: number;
  private readonly gpuTid: number;
  private readonly withFlops: boolean;
  private readonly withMemory: boolean;
  private readonly opOptions: OpOptions;
  private readonly ids: ThreadIds;

  constructor(
    private readonly pl: Plan,
    private readonly w: EventWriter,
  ) {
    const meta = pl.meta;
    this.hostPid = meta.pid;
    this.hostTid = meta.tid;
    this.gpuPid = meta.deviceIndex;
    this.gpuTid = meta.streamId;
    this.withFlops = meta.withFlops === true;
    this.withMemory = meta.withMemory === true;
    this.opOptions = { pid: meta.pid, tid: meta.tid, withShapes: meta.recordShapes === true, withFlops: this.withFlops, withStack: meta.withStack === true };
    this.ids = { hostPid: meta.pid, hostTid: meta.tid, gpuPid: meta.deviceIndex, gpuTid: meta.streamId };
  }

  /** Metadata rows (Kineto handleDeviceInfo / handleResourceInfo), at the capture start. */
  head(): void {
    const { pl, w, hostPid, hostTid, gpuPid, gpuTid } = this;
    const t0 = pl.windowStart;
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
  }

  run(chunkBytes: number): boolean {
    const { pl, w } = this;
    const { order, iS, iE, iKind, iRec, dGs, dGe } = pl;
    const dispatches = pl.record.dispatches;
    while (this.k < order.length) {
      const x = order[this.k++]!;
      const s = iS[x]!;
      const dur = iE[x]! - s;
      if (this.withMemory) this.memoryUntil(s);
      const i = iRec[x]!;
      const kind = iKind[x];
      if (kind === K_OP) w.cpuOp(dispatches[i]!, s, dur, this.opOptions);
      else if (kind === K_LAUNCH) {
        const gs = dGs[i]!;
        if (gs === gs) w.dispatchLaunch(dispatches[i]!, s, dur, gs, dGe[i]! - gs, this.ids);
        else w.dispatchLaunch(dispatches[i]!, s, dur, -1, 0, this.ids);
      } else this.other(kind!, i, s, dur);
      if (w.pending() >= chunkBytes) return false;
    }
    if (this.withMemory) this.memoryUntil(Infinity);
    w.instant(undefined, 'g', 'Record Window End', '', '', pl.windowEnd, undefined);
    return true;
  }

  /** Steps, annotations, CPU spans and copies (the items that are not one per dispatch). */
  private other(kind: number, i: number, s: number, dur: number): void {
    const { pl, w, hostPid, hostTid, gpuPid, gpuTid } = this;
    const steps = pl.record.steps;
    switch (kind) {
      case K_STEP: {
        const step = steps[pl.stepRec[i]!]!;
        const args: ArgBag = { 'External id': pl.stepExt[i], 'Record function id': 0, kernels: pl.stepKernels[i], gpu_time_us: pl.stepGpuNs[i]! / 1000 };
        if (this.withFlops && pl.stepCostKnown[i]! > 0) {
          args['flops'] = pl.stepFlops[i];
          args['bytes'] = pl.stepBytes[i];
          const gpuNs = pl.stepFlopsGpuNs[i]!;
          if (gpuNs > 0) {
            // flops per ns = GFLOP/s; bytes per ns = GB/s (achieved, over kernels with a known cost).
            args['achieved_gflop_per_s'] = round6(pl.stepFlops[i]! / gpuNs);
            args['achieved_gb_per_s'] = round6(pl.stepBytes[i]! / gpuNs);
          }
        }
        if (this.withMemory && pl.stepPeak[i] === pl.stepPeak[i]) args['peak_allocated_bytes'] = pl.stepPeak[i];
        w.complete('user_annotation', `ProfilerStep#${step.number}`, hostPid, hostTid, s, dur, args);
        const level = step.allocatedBytesAtStart;
        if (this.withMemory && level !== undefined && Number.isFinite(level)) w.counter('gpu_memory', MEMORY_COUNTER_NAME, gpuPid, gpuTid, s, { bytes: level });
        const ga = pl.gaS[i]!;
        if (ga === ga) w.complete('gpu_user_annotation', `ProfilerStep#${step.number}`, gpuPid, gpuTid, ga, pl.gaE[i]! - ga, { 'External id': pl.stepExt[i] });
        break;
      }
      case K_ANNOTATION:
        w.complete('user_annotation', steps[pl.stepRec[i]!]!.annotation ?? '', hostPid, hostTid, s, dur, { 'External id': pl.annExt[i], 'Record function id': 0 });
        break;
      case K_SPAN: {
        const span = pl.record.cpuSpans[i]!;
        const ext = pl.spanExt[i]!;
        const args: ArgBag = ext === ext ? { 'External id': ext } : {};
        if (span.args) for (const key of Object.keys(span.args)) args[key] = span.args[key];
        w.complete(span.cat, span.name, hostPid, hostTid, s, dur, args);
        break;
      }
      case K_COPY: {
        const c = pl.record.copies[i]!;
        // No cpu_op wraps a copy, so (like Kineto for unlinked runtime calls) no External id.
        w.complete('cuda_runtime', c.launch, hostPid, hostTid, s, dur, { correlation: c.correlation });
        const gs = pl.cGs[i]!;
        if (gs === gs) {
          w.flow('s', c.correlation, hostPid, hostTid, s);
          const gdur = pl.cGe[i]! - gs;
          const args: ArgBag = { device: gpuPid, stream: gpuTid, correlation: c.correlation, bytes: c.bytes };
          if (gdur > 0) args['memory bandwidth (GB/s)'] = round6(c.bytes / gdur);
          w.complete('gpu_memcpy', MEMCPY_NAMES[c.kind], gpuPid, gpuTid, gs, gdur, args);
          w.flow('f', c.correlation, gpuPid, gpuTid, gs);
        }
        break;
      }
    }
  }

  /** `[memory]` instants (and the counter track) up to time t, as Kineto writes them. */
  private memoryUntil(t: number): void {
    const { pl, w, hostPid, hostTid, gpuPid, gpuTid } = this;
    const { memOrder, memTs } = pl;
    const memory = pl.record.memory;
    while (this.m < memOrder.length && memTs[memOrder[this.m]!]! <= t) {
      const i = memOrder[this.m++]!;
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
  }
}

/** The emission pass. Yields whenever the writer holds at least `chunkBytes` bytes. */
function* emit(pl: Plan, w: EventWriter, chunkBytes: number): Generator<void, void, undefined> {
  const emission = new Emission(pl, w);
  emission.head();
  while (!emission.run(chunkBytes)) yield;
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

// Pre-encoded fragments (keys in Kineto's order per `ph`). Event heads start at the newline: the
// comma between events is written separately (none before the first).
const F = {
  metaHead: utf8('\n{"ph":"M","name":"'),
  metaTs: utf8('","ts":'),
  pid: utf8(',"pid":'),
  tid: utf8(',"tid":'),
  argsOpen: utf8(',"args":{'),
  close2: utf8('}}'),
  xHead: utf8('\n{"ph":"X","cat":'),
  name: utf8(',"name":'),
  dur: utf8(',"dur":'),
  args: utf8(',"args":'),
  iHead: utf8('\n{"ph":"i",'),
  cat: utf8('"cat":'),
  scope: utf8('"s":"'),
  scopeEnd: utf8('","name":'),
  cHead: utf8('\n{"ph":"C","cat":'),
  sHead: utf8('\n{"ph":"s","id":'),
  fHead: utf8('\n{"ph":"f","id":'),
  flowEnd: utf8(',"cat":"ac2g","name":"ac2g"}'),
  flowEndBp: utf8(',"cat":"ac2g","name":"ac2g","bp":"e"}'),
  extArgs: utf8(',"args":{"External id":'),
  corrArg: utf8(',"correlation":'),
  dims: utf8(',"Input Dims":'),
  types: utf8(',"Input type":'),
  flops: utf8(',"flops":'),
  bytes: utf8(',"bytes":'),
  stack: utf8(',"Call stack":'),
  queued: utf8(',"queued":0,"device":'),
  stream: utf8(',"stream":'),
  grid: utf8(',"grid":'),
  block: utf8(',"block":'),
  bound: utf8(',"bound buffer bytes":'),
};
const COMMA = 44;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;

/** Caches raw string -> encoded fragment, bounded so that a stream of unique strings cannot grow it without end. */
class FragmentCache {
  private readonly map = new Map<string, Uint8Array>();
  constructor(private readonly make: (raw: string) => string) {}
  get(raw: string): Uint8Array {
    let out = this.map.get(raw);
    if (out === undefined) {
      out = utf8(this.make(raw));
      if (this.map.size < 4096) this.map.set(raw, out);
    }
    return out;
  }
}

/**
 * Everything of a hot event before its `ts` value, per event name, as one fragment:
 * `\n{"ph":"X","cat":"kernel","name":"matmul","pid":0,"tid":7,"ts":`.
 */
class HeadCache {
  private readonly map = new Map<string, Uint8Array>();
  private pid = NaN;
  private tid = NaN;
  constructor(private readonly cat: string) {}
  get(name: string, pid: number, tid: number): Uint8Array {
    if (pid !== this.pid || tid !== this.tid) {
      this.map.clear();
      this.pid = pid;
      this.tid = tid;
    }
    let out = this.map.get(name);
    if (out === undefined) {
      out = utf8(`\n{"ph":"X","cat":"${this.cat}","name":${jsonString(sanitizeEventName(name))},"pid":${pid},"tid":${tid},"ts":`);
      if (this.map.size < 4096) this.map.set(name, out);
    }
    return out;
  }
}

/**
 * The JSON text writer: each event goes straight into UTF-8 bytes (ByteOut). Output is compact (no
 * whitespace but the newline before each event) and JSON.parse of it deep-equals what ObjectWriter
 * builds from the same calls.
 */
class ByteWriter implements EventWriter {
  readonly out: ByteOut;
  events = 0;
  private readonly names = new FragmentCache((raw) => jsonString(sanitizeEventName(raw)));
  private readonly strings = new FragmentCache(jsonString);
  private readonly keys = new FragmentCache((key) => jsonString(key) + ':');
  private readonly opHeads = new HeadCache('cpu_op');
  private readonly launchHeads = new HeadCache('cuda_runtime');
  private readonly kernelHeads = new HeadCache('kernel');
  // `,"pid":P,"tid":T,"ts":` for the last two threads seen (host and GPU alternate).
  private threadA = { pid: NaN as number | string, tid: NaN as number | string, bytes: new Uint8Array() as Uint8Array };
  private threadB = { pid: NaN as number | string, tid: NaN as number | string, bytes: new Uint8Array() as Uint8Array };
  // `Call stack` text by stack array (records may share one) and by joined text (stacks repeat).
  private readonly stackBytes = new WeakMap<readonly string[], Uint8Array>();

  constructor(chunkBytes: number) {
    this.out = new ByteOut(chunkBytes);
  }

  pending(): number {
    return this.out.pending();
  }
  take(): Uint8Array {
    return this.out.take();
  }
  /** The comma before every event but the first; the event's own head starts with the newline. */
  private sep(): void {
    if (this.events++ > 0) this.out.byte(COMMA);
  }
  /** `,"pid":P,"tid":T,"ts":` */
  private thread(pid: number | string, tid: number | string): Uint8Array {
    const a = this.threadA;
    if (a.pid === pid && a.tid === tid) return a.bytes;
    const b = this.threadB;
    if (b.pid === pid && b.tid === tid) return b.bytes;
    const text = `,"pid":${typeof pid === 'number' ? pid : jsonString(pid)},"tid":${typeof tid === 'number' ? tid : jsonString(tid)},"ts":`;
    this.threadB = a;
    this.threadA = { pid, tid, bytes: utf8(text) };
    return this.threadA.bytes;
  }
  private args(bag: ArgBag): void {
    const out = this.out;
    out.byte(OPEN_BRACE);
    let first = true;
    for (const key in bag) {
      const v = bag[key];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      if (!first) out.byte(COMMA);
      out.bytes(this.keys.get(key));
      out.value(v);
      first = false;
    }
    out.byte(CLOSE_BRACE);
  }
  meta(name: string, pid: number, tid: number, tsNs: number, key: string, value: string | number): void {
    const out = this.out;
    this.sep();
    out.bytes(F.metaHead);
    out.text(name);
    out.bytes(F.metaTs);
    out.us(tsNs);
    out.bytes(F.pid);
    out.num(pid);
    out.bytes(F.tid);
    out.num(tid);
    out.bytes(F.argsOpen);
    out.bytes(this.keys.get(key));
    out.value(value);
    out.bytes(F.close2);
  }
  complete(cat: string, name: string, pid: number, tid: number, tsNs: number, durNs: number, args: ArgBag): void {
    const out = this.out;
    this.sep();
    out.bytes(F.xHead);
    out.bytes(this.strings.get(cat));
    out.bytes(F.name);
    out.bytes(this.names.get(name));
    out.bytes(this.thread(pid, tid));
    out.us(tsNs);
    out.bytes(F.dur);
    out.us(durNs);
    out.bytes(F.args);
    this.args(args);
    out.byte(CLOSE_BRACE);
  }
  instant(cat: string | undefined, scope: 't' | 'g', name: string, pid: number | string, tid: number | string, tsNs: number, args: ArgBag | undefined): void {
    const out = this.out;
    this.sep();
    out.bytes(F.iHead);
    if (cat !== undefined) {
      out.bytes(F.cat);
      out.bytes(this.strings.get(cat));
      out.byte(COMMA);
    }
    out.bytes(F.scope);
    out.text(scope);
    out.bytes(F.scopeEnd);
    out.bytes(this.strings.get(name));
    out.bytes(this.thread(pid, tid));
    out.us(tsNs);
    if (args) {
      out.bytes(F.args);
      this.args(args);
    }
    out.byte(CLOSE_BRACE);
  }
  counter(cat: string, name: string, pid: number, tid: number, tsNs: number, args: ArgBag): void {
    const out = this.out;
    this.sep();
    out.bytes(F.cHead);
    out.bytes(this.strings.get(cat));
    out.bytes(F.name);
    out.bytes(this.strings.get(name));
    out.bytes(this.thread(pid, tid));
    out.us(tsNs);
    out.bytes(F.args);
    this.args(args);
    out.byte(CLOSE_BRACE);
  }
  flow(ph: 's' | 'f', id: number, pid: number, tid: number, tsNs: number): void {
    const out = this.out;
    this.sep();
    out.bytes(ph === 's' ? F.sHead : F.fHead);
    out.uint(id);
    out.bytes(this.thread(pid, tid));
    out.us(tsNs);
    out.bytes(ph === 's' ? F.flowEnd : F.flowEndBp);
  }
  private callStack(stack: readonly string[]): Uint8Array {
    let bytes = this.stackBytes.get(stack);
    if (bytes === undefined) {
      bytes = this.strings.get(stack.join(';'));
      this.stackBytes.set(stack, bytes);
    }
    return bytes;
  }
  cpuOp(d: DispatchRecord, tsNs: number, durNs: number, opts: OpOptions): void {
    const out = this.out;
    this.sep();
    out.bytes(this.opHeads.get(d.kernel, opts.pid, opts.tid));
    out.us(tsNs);
    out.bytes(F.dur);
    out.us(durNs);
    out.bytes(F.extArgs);
    out.uint(d.externalId);
    if (opts.withShapes) {
      if (d.inputDims !== undefined) {
        out.bytes(F.dims);
        out.value(d.inputDims);
      }
      if (d.inputTypes !== undefined) {
        out.bytes(F.types);
        out.value(d.inputTypes);
      }
    }
    const cost = opts.withFlops ? knownCost(d) : undefined;
    if (cost) {
      out.bytes(F.flops);
      out.num(cost.flops);
      out.bytes(F.bytes);
      out.num(cost.bytesRead + cost.bytesWritten);
    }
    if (opts.withStack && d.stack !== undefined && d.stack.length > 0) {
      out.bytes(F.stack);
      out.bytes(this.callStack(d.stack));
    }
    out.bytes(F.close2);
  }
  // No `cbid`: WebGPU has no CUPTI callback id, and neither HTA nor tb_plugin reads it. The launch is
  // named by the WebGPU call ('dispatchWorkgroups'), so HTA's launch statistics, which key on
  // cudaLaunchKernel & co, do not count it; its cat (cuda_runtime) is what links kernels to ops.
  dispatchLaunch(d: DispatchRecord, tsNs: number, durNs: number, gsNs: number, gdurNs: number, ids: ThreadIds): void {
    const out = this.out;
    const corr = d.correlation;
    this.sep();
    out.bytes(this.launchHeads.get(d.launch, ids.hostPid, ids.hostTid));
    out.us(tsNs);
    out.bytes(F.dur);
    out.us(durNs);
    out.bytes(F.extArgs);
    out.uint(d.externalId);
    out.bytes(F.corrArg);
    out.uint(corr);
    out.bytes(F.close2);
    if (gsNs < 0) return;
    this.flow('s', corr, ids.hostPid, ids.hostTid, tsNs);
    this.sep();
    out.bytes(this.kernelHeads.get(kernelName(d), ids.gpuPid, ids.gpuTid));
    out.us(gsNs);
    out.bytes(F.dur);
    out.us(gdurNs);
    out.bytes(F.extArgs);
    out.uint(d.externalId);
    out.bytes(F.queued);
    out.uint(ids.gpuPid);
    out.bytes(F.stream);
    out.uint(ids.gpuTid);
    out.bytes(F.corrArg);
    out.uint(corr);
    out.bytes(F.grid);
    out.value(d.workgroups);
    if (d.workgroupSize !== undefined) {
      out.bytes(F.block);
      out.value(d.workgroupSize);
    }
    if (d.boundBufferBytes !== undefined) {
      out.bytes(F.bound);
      out.value(d.boundBufferBytes);
    }
    out.bytes(F.close2);
    this.flow('f', corr, ids.gpuPid, ids.gpuTid, gsNs);
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
  /** UTF-16 code units yielded so far by serializeTrace (= bytes for ASCII text); 0 for serializeTraceBytes. */
  chars: number;
  /** UTF-8 bytes of JSON text produced so far. */
  bytes: number;
}

export interface TraceChunks extends Iterable<string> {
  readonly stats: SerializeStats;
}

export interface TraceByteChunks extends Iterable<Uint8Array> {
  readonly stats: SerializeStats;
}

/**
 * The trace as UTF-8 JSON bytes in chunks of about `chunkChars` bytes (64 KiB), written event by event
 * straight into bytes; the whole document is never held in memory. Each chunk is a fresh array (keep it
 * as long as you like). Compact: no whitespace except the newline before each event and `"rank": N` in
 * `distributedInfo`, which HTA finds with the regex `"rank":\s+(\d+)`. The record is checked (and
 * planned) by this call: a bad one throws WgprofError TRACE_INVALID_RECORD before any chunk.
 */
export function serializeTraceBytes(record: CaptureRecord, options: TraceBuildOptions = {}): TraceByteChunks {
  const stats: SerializeStats = { events: 0, chars: 0, bytes: 0 };
  const chunkBytes = Math.max(1024, options.chunkChars ?? DEFAULT_CHUNK_CHARS);
  // Plan (and check the record) now, so a bad record throws before anything is opened or written.
  const pl = plan(record, options);
  function* chunks(): Generator<Uint8Array, void, undefined> {
    const meta = pl.meta;
    let head = `{"schemaVersion":1,"deviceProperties":${jsonText(pl.deviceProperties)}`;
    for (const [key, value] of Object.entries(flagsOf(meta))) head += `,"${key}":${value}`;
    head += `,"distributedInfo":{"backend":"webgpu","rank": ${meta.rank},"world_size":${meta.worldSize}}`;
    head += `,"wgprof":${jsonText(pl.provenance)}`;
    head += `,"displayTimeUnit":"ms","baseTimeNanoseconds":${pl.baseNs.toString()},"traceEvents":[`;
    const writer = new ByteWriter(chunkBytes);
    writer.out.text(head);
    for (const _ of emit(pl, writer, chunkBytes)) {
      const bytes = writer.take();
      stats.events = writer.events;
      stats.bytes += bytes.length;
      yield bytes;
    }
    writer.out.text(`\n],"traceName":${jsonString(pl.traceName)}}\n`);
    const tail = writer.take();
    stats.events = writer.events;
    stats.bytes += tail.length;
    yield tail;
  }
  return { stats, [Symbol.iterator]: chunks };
}

/**
 * The same JSON text as serializeTraceBytes, as strings of about `chunkChars` (64 Ki) characters
 * (decoded from its chunks). Checks and plans the record at once, like serializeTraceBytes.
 */
export function serializeTrace(record: CaptureRecord, options: TraceBuildOptions = {}): TraceChunks {
  const bytes = serializeTraceBytes(record, options);
  const stats = bytes.stats;
  function* chunks(): Generator<string, void, undefined> {
    const decoder = new TextDecoder();
    for (const chunk of bytes) {
      // stream: a multi-byte character may straddle two chunks.
      const text = decoder.decode(chunk, { stream: true });
      stats.chars += text.length;
      if (text.length > 0) yield text;
    }
    const rest = decoder.decode();
    stats.chars += rest.length;
    if (rest.length > 0) yield rest;
  }
  return { stats, [Symbol.iterator]: chunks };
}
