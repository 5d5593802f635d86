// One streaming pass over a trace collects what `summarize`, `compare` and `report` show, in memory
// bounded by the number of distinct names and steps (not events): key averages, the steps and their
// own totals, per-step time of every row (the spread that `compare` calls noise), GPU memory over time
// (peak-preserving decimation), and a capped sample of the timeline.

import { GPU_ACTIVITY_CATS, isRuntimeCat } from '../trace/kineto.js';
import type { KinetoTrace, TraceEvent } from '../trace/kineto.js';
import { KeyAveragesAccumulator, keyAverages } from './key-averages.js';
import type { KeyAverages } from './key-averages.js';
import { readTrace } from './read.js';
import type { ReadTraceOptions, TraceReadResult } from './read.js';

const STEP_NAME = /^ProfilerStep\s*#\s*(\d+)$/;
const HOST_CATS = new Set(['cpu_op', 'user_annotation', 'python_function', 'Operator']);
const TIMELINE_CATS = new Set([
  'cpu_op',
  'user_annotation',
  'python_function',
  'gpu_user_annotation',
  'kernel',
  'gpu_memcpy',
  'gpu_memset',
  'Kernel',
  'Memcpy',
  'Memset',
]);
/** Events kept for the timeline chart (the rest are counted, not drawn). */
export const TIMELINE_MAX_EVENTS = 40_000;
/** Memory points kept; past this, pairs are merged keeping the higher (peaks survive). */
const MEMORY_MAX_POINTS = 8_192;
/** Launches remembered until their GPU activity comes (for its step); oldest dropped past this. */
const MAX_WAITING_LAUNCHES = 262_144;

function toNs(us: unknown): number {
  return typeof us === 'number' && Number.isFinite(us) ? Math.round(us * 1000) : 0;
}
function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
function rowName(name: string): string {
  return STEP_NAME.test(name) ? 'ProfilerStep*' : name;
}

export interface DigestStep {
  /** N of ProfilerStep#N. */
  n: number;
  startNs: number;
  durNs: number;
  /** The trace's own totals written on the step (wgprof traces); null when absent. */
  kernelsArg: number | null;
  gpuTimeUsArg: number | null;
  peakAllocatedBytesArg: number | null;
  /** Counted here: GPU activities whose launch lies in the step, and their time. */
  kernels: number;
  gpuNs: number;
  /** Highest Total Allocated seen in the step (memory events), null without any. */
  peakAllocatedBytes: number | null;
}

/** Per step (by step position) time of one row: GPU time for GPU activities, CPU total for host spans. */
export interface DigestRowSeries {
  name: string;
  kind: 'gpu' | 'host';
  /** ns per step, indexed like `steps`. */
  perStepNs: number[];
  /** Time outside every step. */
  outsideNs: number;
  calls: number;
}

export interface TimelineSample {
  /** Lane labels (a thread and a nesting depth: its process/thread name, depth after a "·"), host lanes first. */
  lanes: { key: string; label: string; gpu: boolean; depth: number }[];
  names: string[];
  cats: string[];
  /** [lane, nameIndex, catIndex, startNs (relative to the first event), durNs] per event. */
  events: [number, number, number, number, number][];
  /** Events of the trace eligible for the timeline, and how many were not kept. */
  total: number;
  dropped: number;
  originNs: number;
}

export interface TraceDigest {
  source: string;
  read: TraceReadResult;
  keyAverages: KeyAverages;
  /** True when the events were out of order for streaming and key averages were computed in memory. */
  keyAveragesReread: boolean;
  steps: DigestStep[];
  series: DigestRowSeries[];
  /** [relative ns, bytes] of GPU Total Allocated; `memoryPoints` counts all of them. */
  memory: [number, number][];
  memoryPoints: number;
  peakGpuMemoryBytes: number | null;
  timeline: TimelineSample;
  /** Kernel events seen. */
  kernelEvents: number;
  /** Start of the first event (ns relative to baseTimeNanoseconds), the origin of every relative time above. */
  originNs: number;
}

interface SeriesAcc {
  kind: 'gpu' | 'host';
  perStep: Map<number, number>;
  outside: number;
  calls: number;
}

interface ThreadSteps {
  /** Indices into steps, in start order. */
  steps: number[];
}

/** Collects a TraceDigest from events in file order. */
export class TraceDigestAccumulator {
  readonly ka = new KeyAveragesAccumulator();
  private readonly steps: DigestStep[] = [];
  private readonly threadSteps = new Map<string, ThreadSteps>();
  private readonly series = new Map<string, SeriesAcc>();
  private readonly launchStep = new Map<number, number>();
  private memory: [number, number][] = [];
  private memoryStride = 1;
  private memorySkip = 0;
  private memoryPoints = 0;
  private peak: number | null = null;
  private counterPeak: number | null = null;
  private counterPoints: [number, number][] = [];
  private kernelEvents = 0;
  private originNs = Infinity;
  private readonly laneIndex = new Map<string, number>();
  private readonly lanes: { key: string; label: string; gpu: boolean; depth: number }[] = [];
  /** Per thread: ends (ns) of the sampled spans still open, to put nested spans on their own row. */
  private readonly laneStacks = new Map<string, number[]>();
  private readonly laneNames = new Map<string, string>();
  private readonly nameIndex = new Map<string, number>();
  private readonly names: string[] = [];
  private readonly catIndex = new Map<string, number>();
  private readonly cats: string[] = [];
  private readonly timeline: [number, number, number, number, number][] = [];
  private timelineTotal = 0;

  add(e: TraceEvent, index: number): void {
    this.ka.add(e, index);
    if (e.ph === 'M') {
      if ((e.name === 'thread_name' || e.name === 'process_name') && typeof e.args?.['name'] === 'string') {
        const key = e.name === 'thread_name' ? `${String(e.pid)}/${String(e.tid)}` : `${String(e.pid)}`;
        this.laneNames.set(key, e.args['name']);
      }
      return;
    }
    const ts = toNs(e.ts);
    if (e.ph === 'i' && e.name === '[memory]') {
      const total = num(e.args?.['Total Allocated']);
      if (total !== undefined && e.args?.['Device Type'] === 1) this.memoryPoint(ts, total);
      return;
    }
    if (e.ph === 'C' && e.cat === 'gpu_memory') {
      const bytes = num(e.args?.['bytes']);
      if (bytes !== undefined) {
        this.counterPeak = Math.max(this.counterPeak ?? bytes, bytes);
        if (this.counterPoints.length < MEMORY_MAX_POINTS) this.counterPoints.push([ts, bytes]);
      }
      return;
    }
    if (e.ph !== 'X' || typeof e.cat !== 'string') return;
    if (ts < this.originNs) this.originNs = ts;
    const dur = Math.max(0, toNs(e.dur));
    const name = String(e.name);
    const host = HOST_CATS.has(e.cat) || isRuntimeCat(e.cat);
    const gpu = GPU_ACTIVITY_CATS.has(e.cat);
    if (TIMELINE_CATS.has(e.cat) || isRuntimeCat(e.cat)) this.sample(e, name, ts, dur, gpu || e.cat === 'gpu_user_annotation');
    if (host) {
      const thread = `${JSON.stringify(e.pid)}/${JSON.stringify(e.tid)}`;
      const m = e.cat === 'user_annotation' ? STEP_NAME.exec(name) : null;
      if (m) {
        const step: DigestStep = {
          n: Number(m[1]),
          startNs: ts,
          durNs: dur,
          kernelsArg: num(e.args?.['kernels']) ?? null,
          gpuTimeUsArg: num(e.args?.['gpu_time_us']) ?? null,
          peakAllocatedBytesArg: num(e.args?.['peak_allocated_bytes']) ?? null,
          kernels: 0,
          gpuNs: 0,
          peakAllocatedBytes: null,
        };
        this.steps.push(step);
        let th = this.threadSteps.get(thread);
        if (!th) this.threadSteps.set(thread, (th = { steps: [] }));
        th.steps.push(this.steps.length - 1);
        this.seriesAdd(rowName(name), 'host', this.steps.length - 1, dur);
        return;
      }
      const step = this.stepAt(thread, ts);
      this.seriesAdd(rowName(name), 'host', step, dur);
      const corr = isRuntimeCat(e.cat) ? num(e.args?.['correlation']) : undefined;
      if (corr !== undefined && step >= 0) {
        this.launchStep.set(corr, step);
        if (this.launchStep.size > MAX_WAITING_LAUNCHES) this.launchStep.delete(this.launchStep.keys().next().value as number);
      }
      return;
    }
    if (gpu) {
      if (e.cat === 'kernel' || e.cat === 'Kernel') this.kernelEvents++;
      const corr = num(e.args?.['correlation']);
      const step = corr !== undefined ? (this.launchStep.get(corr) ?? -1) : -1;
      if (corr !== undefined) this.launchStep.delete(corr);
      if (step >= 0) {
        const s = this.steps[step]!;
        s.gpuNs += dur;
        if (e.cat === 'kernel' || e.cat === 'Kernel') s.kernels++;
      }
      this.seriesAdd(rowName(name), 'gpu', step, dur);
    }
  }

  /** The step (index) on this thread whose span holds `ts`, else -1. */
  private stepAt(thread: string, ts: number): number {
    const th = this.threadSteps.get(thread);
    if (!th) return -1;
    const list = th.steps;
    // Steps arrive in start order: binary search for the last one starting at or before ts.
    let lo = 0;
    let hi = list.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.steps[list[mid]!]!.startNs <= ts) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return -1;
    const s = this.steps[list[found]!]!;
    return ts <= s.startNs + s.durNs ? list[found]! : -1;
  }

  private seriesAdd(name: string, kind: 'gpu' | 'host', step: number, ns: number): void {
    const key = `${kind}\u0000${name}`;
    let acc = this.series.get(key);
    if (!acc) this.series.set(key, (acc = { kind, perStep: new Map(), outside: 0, calls: 0 }));
    acc.calls++;
    if (step >= 0) acc.perStep.set(step, (acc.perStep.get(step) ?? 0) + ns);
    else acc.outside += ns;
  }

  private memoryPoint(ts: number, bytes: number): void {
    this.memoryPoints++;
    if (this.peak === null || bytes > this.peak) this.peak = bytes;
    // Per-step peaks: the step whose span holds the event on any thread.
    for (const th of this.threadSteps.values()) {
      const last = th.steps[th.steps.length - 1];
      if (last === undefined) continue;
      const s = this.steps[last]!;
      if (ts >= s.startNs && ts <= s.startNs + s.durNs) {
        if (s.peakAllocatedBytes === null || bytes > s.peakAllocatedBytes) s.peakAllocatedBytes = bytes;
        break;
      }
    }
    // Decimation keeping peaks: every `stride` points collapse into the highest of them.
    if (this.memorySkip > 0) {
      const last = this.memory[this.memory.length - 1]!;
      if (bytes > last[1]) this.memory[this.memory.length - 1] = [ts, bytes];
      this.memorySkip--;
      return;
    }
    this.memory.push([ts, bytes]);
    this.memorySkip = this.memoryStride - 1;
    if (this.memory.length >= MEMORY_MAX_POINTS) {
      const merged: [number, number][] = [];
      for (let i = 0; i < this.memory.length; i += 2) {
        const a = this.memory[i]!;
        const b = this.memory[i + 1];
        merged.push(b && b[1] > a[1] ? b : a);
      }
      this.memory = merged;
      this.memoryStride *= 2;
      this.memorySkip = 0;
    }
  }

  /** Position of a thread's first lane (its lanes keep the order threads first appeared in). */
  private firstLane(key: string): number {
    return this.lanes.findIndex((l) => l.key === key);
  }

  private intern(map: Map<string, number>, list: string[], value: string): number {
    let i = map.get(value);
    if (i === undefined) {
      i = list.length;
      list.push(value);
      map.set(value, i);
    }
    return i;
  }

  private sample(e: TraceEvent, name: string, ts: number, dur: number, gpu: boolean): void {
    this.timelineTotal++;
    if (this.timeline.length >= TIMELINE_MAX_EVENTS) return;
    const key = `${String(e.pid)}/${String(e.tid)}`;
    let stack = this.laneStacks.get(key);
    if (!stack) this.laneStacks.set(key, (stack = []));
    while (stack.length > 0 && stack[stack.length - 1]! <= ts && !(dur === 0 && stack[stack.length - 1] === ts)) stack.pop();
    const depth = stack.length;
    stack.push(ts + dur);
    const laneKey = `${key}#${depth}`;
    let lane = this.laneIndex.get(laneKey);
    if (lane === undefined) {
      lane = this.lanes.length;
      this.laneIndex.set(laneKey, lane);
      this.lanes.push({ key, label: key, gpu, depth });
    }
    this.timeline.push([lane, this.intern(this.nameIndex, this.names, name), this.intern(this.catIndex, this.cats, e.cat!), ts, dur]);
  }

  result(source: string, read: TraceReadResult, keyAveragesOverride?: KeyAverages): TraceDigest {
    const origin = Number.isFinite(this.originNs) ? this.originNs : 0;
    const ka = keyAveragesOverride ?? this.ka.result();
    const series: DigestRowSeries[] = [...this.series.entries()].map(([key, acc]) => ({
      name: key.slice(key.indexOf('\u0000') + 1),
      kind: acc.kind,
      perStepNs: this.steps.map((_, k) => acc.perStep.get(k) ?? 0),
      outsideNs: acc.outside,
      calls: acc.calls,
    }));
    for (const lane of this.lanes) {
      const [pid] = lane.key.split('/');
      const thread = this.laneNames.get(lane.key);
      const proc = this.laneNames.get(pid!);
      lane.label = lane.gpu ? `GPU ${lane.key}${thread ? ` · ${thread.trim()}` : ''}` : (thread ?? proc ?? lane.key);
      if (lane.depth > 0) lane.label += ` ·${lane.depth}`;
    }
    // Host lanes first, then GPU lanes; each thread's rows together, by depth.
    const order = this.lanes
      .map((_, i) => i)
      .sort((a, b) => {
        const x = this.lanes[a]!;
        const y = this.lanes[b]!;
        return Number(x.gpu) - Number(y.gpu) || this.firstLane(x.key) - this.firstLane(y.key) || x.depth - y.depth;
      });
    const newIndex = new Array<number>(order.length);
    order.forEach((old, i) => (newIndex[old] = i));
    const lanes = order.map((i) => this.lanes[i]!);
    const memory = this.memory.length > 0 ? this.memory : this.counterPoints;
    return {
      source,
      read,
      keyAverages: ka,
      keyAveragesReread: keyAveragesOverride !== undefined,
      steps: this.steps,
      series,
      memory: memory.map(([t, b]) => [t - origin, b]),
      memoryPoints: this.memoryPoints > 0 ? this.memoryPoints : this.counterPoints.length,
      peakGpuMemoryBytes: this.peak ?? this.counterPeak,
      timeline: {
        lanes,
        names: this.names,
        cats: this.cats,
        events: this.timeline.map(([l, n, c, t, d]) => [newIndex[l]!, n, c, t - origin, d]),
        total: this.timelineTotal,
        dropped: this.timelineTotal - this.timeline.length,
        originNs: origin,
      },
      kernelEvents: this.kernelEvents,
      originNs: origin,
    };
  }
}

/** What key averages read: host spans and GPU activities, with only the fields they use. */
function slimEvent(e: TraceEvent): TraceEvent | undefined {
  if (e.ph !== 'X' || typeof e.cat !== 'string') return undefined;
  if (!(HOST_CATS.has(e.cat) || isRuntimeCat(e.cat) || GPU_ACTIVITY_CATS.has(e.cat))) return undefined;
  const a = e.args ?? {};
  const args: Record<string, number> = {};
  for (const key of ['External id', 'correlation', 'flops', 'bytes']) {
    const v = num(a[key]);
    if (v !== undefined) args[key] = v;
  }
  return { ph: 'X', cat: e.cat, name: String(e.name), pid: e.pid, tid: e.tid, ts: e.ts, ...(e.dur !== undefined ? { dur: e.dur } : {}), args };
}

/**
 * Reads a trace once (file path or bytes) into a TraceDigest. When its host spans are not in the order
 * streaming needs (some torch traces), the file is read a second time keeping only what key averages
 * use (slim events) and they are computed in memory, so the numbers are exact either way.
 */
export async function digestTrace(input: string | Uint8Array, options: ReadTraceOptions & { source?: string } = {}): Promise<TraceDigest> {
  const acc = new TraceDigestAccumulator();
  const read = await readTrace(input, (e, i) => acc.add(e, i), options);
  const source = options.source ?? (typeof input === 'string' ? input : 'trace');
  if (acc.ka.stats.outOfOrder === 0) return acc.result(source, read);
  const slim: TraceEvent[] = [];
  await readTrace(
    input,
    (e) => {
      const s = slimEvent(e);
      if (s) slim.push(s);
    },
    options,
  );
  return acc.result(source, read, keyAverages({ traceEvents: slim } as unknown as KinetoTrace));
}
