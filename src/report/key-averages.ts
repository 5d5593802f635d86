// torch's `key_averages().table()` for wgprof traces: one row per event name, from a CaptureRecord
// (through buildTrace), from any parsed Kineto trace, or event by event (KeyAveragesAccumulator), so the profiler's `*.profiler_out.txt` table and
// `wgprof summarize FILE` agree.
//
// Attribution (mirrors torch with Kineto):
// - Host events (cpu_op, user_annotation, python_function, *_runtime) nest per thread; Self CPU is
//   the duration minus direct children. A launch belongs to the op whose `External id` it carries,
//   whatever a coarse clock says about their times (see KeyAveragesAccumulator). `ProfilerStep#N` rows merge into `ProfilerStep*`, as torch does.
// - A GPU activity (kernel, memcpy, memset) is linked to its launch by `correlation`; its duration
//   counts into GPU total of the launch and every host ancestor, and into Self GPU of the row named
//   after the activity. A kernel named like the cpu_op that launched it (wgprof names the op after
//   the kernel) is the same call as that op: it adds Self GPU to the op's row, not another call.
// - FLOPs/bytes come from the cpu_op's `flops`/`bytes` args (with_flops); unknown is "--", never 0.

import { WgprofError } from '../util/errors.js';
import { buildTrace } from '../trace/serialize.js';
import { GPU_ACTIVITY_CATS, isRuntimeCat } from '../trace/kineto.js';
import type { KinetoTrace, TraceEvent } from '../trace/kineto.js';
import type { CaptureRecord } from '../capture/model.js';

export const KEY_AVERAGES_SORT_KEYS = ['self_gpu', 'gpu_total', 'calls', 'self_cpu', 'cpu_total', 'flops'] as const;
export type KeyAveragesSortKey = (typeof KEY_AVERAGES_SORT_KEYS)[number];

export interface KeyAverageRow {
  name: string;
  calls: number;
  selfCpuUs: number;
  cpuTotalUs: number;
  cpuAvgUs: number;
  selfGpuUs: number;
  gpuTotalUs: number;
  gpuAvgUs: number;
  /** Sum over calls with a known cost; null when no call's cost is known ("unestimated"). */
  flops: number | null;
  bytes: number | null;
  /** flops / GPU time of the calls with a known cost; null when unknown. */
  gflopPerS: number | null;
  gbPerS: number | null;
  /** cpu_op calls of this row whose cost is unknown. */
  unestimatedCalls: number;
  /** GPU kernel events named like this row (each counts as one call: its own, or its op's). */
  kernels: number;
}

export interface KeyAverages {
  rows: KeyAverageRow[];
  selfCpuTotalUs: number;
  selfGpuTotalUs: number;
  /** Any GPU time at all (torch shows the GPU columns only then). */
  hasGpuTime: boolean;
  /** Any known FLOPs (the FLOPs columns appear only then). */
  hasFlops: boolean;
}

/** Per-row totals, in integer ns. */
interface Acc {
  name: string;
  /** Earliest host span of this row: start ns and arrival order (torch's first-appearance order). */
  hostStartNs: number;
  hostOrd: number;
  /** First GPU activity of this row (rows without host spans come after the others, in this order). */
  gpuOrd: number;
  calls: number;
  selfCpuNs: number;
  cpuTotalNs: number;
  selfGpuNs: number;
  gpuTotalNs: number;
  flops: number;
  bytes: number;
  costCalls: number;
  costGpuNs: number;
  unestimated: number;
  kernels: number;
}

/** A host span while it can still get children or GPU time: only what nesting and attribution need. */
interface Span {
  row: Acc;
  startNs: number;
  endNs: number;
  /** Children's time inside this span, clipped to it. */
  childNs: number;
  /** Once closed: the self CPU time it put into its row (a late child takes from it). */
  selfLeftNs: number;
  closed: boolean;
  parent: Span | undefined;
  /** `External id` of an op or annotation (launches link to it by theirs); undefined on launches. */
  ext: number | undefined;
  isCpuOp: boolean;
  /** A cpu_op with a known cost: its GPU time counts toward the row's GFLOP/s. */
  hasCost: boolean;
}

interface HostThread {
  stack: Span[];
  lastStartNs: number;
  lastEndNs: number;
  /** The last few closed spans with an External id, for launches that start at (or after) their op's end. */
  recent: Span[];
}

interface PendingGpu {
  row: Acc;
  durNs: number;
}

const HOST_CATS = new Set(['cpu_op', 'user_annotation', 'python_function', 'Operator']);
const KERNEL_CATS = new Set(['kernel', 'Kernel']);
const RECENT_SPANS = 8;
const MATCHED_LAUNCHES = 4096;

function isHostSpan(e: TraceEvent): boolean {
  return e.ph === 'X' && e.cat !== undefined && (HOST_CATS.has(e.cat) || isRuntimeCat(e.cat));
}

function rowName(name: string): string {
  return /^ProfilerStep\s*#\s*\d+$/.test(name) ? 'ProfilerStep*' : name;
}

function toNs(us: number | undefined): number {
  return typeof us === 'number' && Number.isFinite(us) ? Math.round(us * 1000) : 0;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export interface KeyAveragesAccumulatorOptions {
  /**
   * Launches kept waiting for their GPU activity (default 262144). A trace writer emits each kernel right
   * after its launch, so few ever wait; the oldest is dropped past this bound (its GPU activity, if it
   * comes later, counts as unlinked: `stats.unlinkedGpu`). Infinity when the whole trace is in memory anyway.
   */
  maxPendingLaunches?: number;
}

export interface KeyAveragesAccumulatorStats {
  /** Host spans that arrived out of order on their thread (before the previous one's start, or on a tie longer than it). 0 means the result is exact. */
  outOfOrder: number;
  /** The first such span, in words. */
  firstOutOfOrder: string | undefined;
  /** Launches dropped from the waiting set (see maxPendingLaunches). */
  droppedLaunches: number;
  /** GPU activities whose launch never came (counted as their own calls). */
  unlinkedGpu: number;
}

/**
 * torch's key averages, one event at a time: `const acc = new KeyAveragesAccumulator(); for (const e of
 * events) acc.add(e); const ka = acc.result()`.
 *
 * Order: host spans (cpu_op, user_annotation, python_function, *_runtime) must arrive parents first on
 * each thread (pid/tid): by start, the longer first on a tie — the order wgprof's writer emits and most
 * torch traces have. Threads may interleave, and GPU activities may come anywhere (before or after their
 * launch). Spans that break the order are counted in `stats.outOfOrder` (the result is then not exact:
 * keyAverages(trace) sorts first). Memory: the open spans of each thread, plus launches waiting for
 * their GPU activity.
 *
 * Nesting follows the ids the writer put there before time: a launch with `External id` E belongs to the
 * span with External id E even when a coarse clock puts the launch at (or after) that span's end (a
 * browser's 5 µs performance.now() makes most ops zero-length); a GPU activity belongs to the launch with
 * its `correlation`. Otherwise a span is inside the open span that ends after it starts (times compared in
 * integer ns, the trace's own resolution).
 */
export class KeyAveragesAccumulator {
  private readonly rows = new Map<string, Acc>();
  private readonly threads = new Map<string, HostThread>();
  /** correlation -> launch span, waiting for its GPU activity. */
  private readonly launches = new Map<number, Span>();
  /** correlation -> launch span already matched once (a launch may have several activities). */
  private readonly matched = new Map<number, Span>();
  private readonly pending = new Map<number, PendingGpu[]>();
  private readonly maxPending: number;
  private seq = 0;
  private selfCpuTotalNs = 0;
  private selfGpuTotalNs = 0;
  private finished = false;
  readonly stats: KeyAveragesAccumulatorStats = { outOfOrder: 0, firstOutOfOrder: undefined, droppedLaunches: 0, unlinkedGpu: 0 };

  constructor(options: KeyAveragesAccumulatorOptions = {}) {
    this.maxPending = options.maxPendingLaunches ?? 262_144;
  }

  /**
   * Takes one trace event (anything else than host spans and GPU activities is ignored). `index`: its
   * position in the file, for row order (default: arrival order).
   */
  add(e: TraceEvent, index?: number): void {
    if (this.finished)
      throw new WgprofError('KEY_AVERAGES_FINISHED', 'add() after result(): a KeyAveragesAccumulator gives its result once; create a new one for more events.');
    const ord = index ?? this.seq;
    this.seq++;
    if (e === null || typeof e !== 'object' || e.ph !== 'X' || typeof e.cat !== 'string') return;
    if (GPU_ACTIVITY_CATS.has(e.cat)) this.addGpu(e, ord);
    else if (isHostSpan(e)) this.addHost(e, ord);
  }

  private row(name: string): Acc {
    let acc = this.rows.get(name);
    if (!acc) {
      acc = {
        name,
        hostStartNs: Infinity,
        hostOrd: Infinity,
        gpuOrd: Infinity,
        calls: 0,
        selfCpuNs: 0,
        cpuTotalNs: 0,
        selfGpuNs: 0,
        gpuTotalNs: 0,
        flops: 0,
        bytes: 0,
        costCalls: 0,
        costGpuNs: 0,
        unestimated: 0,
        kernels: 0,
      };
      this.rows.set(name, acc);
    }
    return acc;
  }

  private thread(e: TraceEvent): HostThread {
    const key = `${JSON.stringify(e.pid)}/${JSON.stringify(e.tid)}`;
    let th = this.threads.get(key);
    if (!th) this.threads.set(key, (th = { stack: [], lastStartNs: -Infinity, lastEndNs: Infinity, recent: [] }));
    return th;
  }

  private addHost(e: TraceEvent, ord: number): void {
    const s = toNs(e.ts);
    const en = s + Math.max(0, toNs(e.dur));
    const row = this.row(rowName(String(e.name)));
    if (s < row.hostStartNs || (s === row.hostStartNs && ord < row.hostOrd)) {
      row.hostStartNs = s;
      row.hostOrd = ord;
    }
    const th = this.thread(e);
    if (s < th.lastStartNs || (s === th.lastStartNs && en > th.lastEndNs)) {
      this.stats.outOfOrder++;
      this.stats.firstOutOfOrder ??=
        `${e.cat} ${JSON.stringify(e.name)} at ${s} ns on pid/tid ${String(e.pid)}/${String(e.tid)} arrived after a span ` + `starting at ${th.lastStartNs} ns`;
    }
    th.lastStartNs = s;
    th.lastEndNs = en;
    const args = e.args;
    const ext = num(args?.['External id']);
    const runtime = isRuntimeCat(e.cat);
    const linkExt = runtime ? ext : undefined;
    const stack = th.stack;
    for (let top = stack[stack.length - 1]; top !== undefined; top = stack[stack.length - 1]) {
      if (linkExt !== undefined && top.ext === linkExt) break;
      if (top.endNs > s) break;
      stack.pop();
      this.close(top, th);
    }
    let parent = stack[stack.length - 1];
    if (linkExt !== undefined && parent?.ext !== linkExt) {
      for (let k = th.recent.length - 1; k >= 0; k--) {
        if (th.recent[k]!.ext === linkExt) {
          parent = th.recent[k];
          break;
        }
      }
    }
    const isCpuOp = e.cat === 'cpu_op';
    const flops = isCpuOp ? num(args?.['flops']) : undefined;
    const span: Span = {
      row,
      startNs: s,
      endNs: en,
      childNs: 0,
      selfLeftNs: 0,
      closed: false,
      parent,
      ext: runtime ? undefined : ext,
      isCpuOp,
      hasCost: flops !== undefined,
    };
    if (parent) this.addChildTime(parent, Math.max(0, Math.min(en, parent.endNs) - s));
    row.calls++;
    row.cpuTotalNs += en - s;
    if (isCpuOp) {
      if (flops !== undefined) {
        row.flops += flops;
        row.bytes += num(args?.['bytes']) ?? 0;
        row.costCalls++;
      } else row.unestimated++;
    }
    stack.push(span);
    const corr = runtime ? num(args?.['correlation']) : undefined;
    if (corr !== undefined) {
      const waiting = this.pending.get(corr);
      if (waiting) {
        this.pending.delete(corr);
        for (const g of waiting) this.attribute(g.row, g.durNs, span);
        this.rememberMatched(corr, span);
      } else {
        this.launches.set(corr, span);
        if (this.launches.size > this.maxPending) {
          const oldest = this.launches.keys().next().value as number;
          this.launches.delete(oldest);
          this.stats.droppedLaunches++;
        }
      }
    }
  }

  private addChildTime(parent: Span, ns: number): void {
    if (!parent.closed) {
      parent.childNs += ns;
      return;
    }
    const take = Math.min(ns, parent.selfLeftNs);
    parent.selfLeftNs -= take;
    parent.row.selfCpuNs -= take;
    this.selfCpuTotalNs -= take;
  }

  private close(span: Span, th: HostThread | undefined): void {
    span.closed = true;
    const self = Math.max(0, span.endNs - span.startNs - span.childNs);
    span.selfLeftNs = self;
    span.row.selfCpuNs += self;
    this.selfCpuTotalNs += self;
    if (th && span.ext !== undefined) {
      th.recent.push(span);
      if (th.recent.length > RECENT_SPANS) th.recent.shift();
    }
  }

  private rememberMatched(corr: number, span: Span): void {
    this.matched.set(corr, span);
    if (this.matched.size > MATCHED_LAUNCHES) this.matched.delete(this.matched.keys().next().value as number);
  }

  private addGpu(e: TraceEvent, ord: number): void {
    const dur = Math.max(0, toNs(e.dur));
    this.selfGpuTotalNs += dur;
    const row = this.row(rowName(String(e.name)));
    if (ord < row.gpuOrd) row.gpuOrd = ord;
    row.selfGpuNs += dur;
    if (KERNEL_CATS.has(e.cat!)) row.kernels++;
    const corr = num(e.args?.['correlation']);
    if (corr === undefined) {
      this.attribute(row, dur, undefined);
      return;
    }
    let launch = this.launches.get(corr);
    if (launch) {
      this.launches.delete(corr);
      this.rememberMatched(corr, launch);
    } else launch = this.matched.get(corr);
    if (launch) this.attribute(row, dur, launch);
    else {
      let list = this.pending.get(corr);
      if (!list) this.pending.set(corr, (list = []));
      list.push({ row, durNs: dur });
    }
  }

  /** GPU time into the launch and every host ancestor; a call of its own unless its op has its name (wgprof names ops after kernels). */
  private attribute(row: Acc, durNs: number, launch: Span | undefined): void {
    let owner: Span | undefined;
    for (let h = launch; h !== undefined; h = h.parent) {
      h.row.gpuTotalNs += durNs;
      if (h.hasCost) h.row.costGpuNs += durNs;
      if (owner === undefined && h.isCpuOp) owner = h;
    }
    if (owner === undefined || owner.row !== row) {
      row.calls++;
      row.gpuTotalNs += durNs;
    }
  }

  /** The totals, sorted (default: self GPU time when there is any, else self CPU). Call once, after the last add(). */
  result(options: { sortBy?: KeyAveragesSortKey } = {}): KeyAverages {
    if (!this.finished) {
      this.finished = true;
      for (const th of this.threads.values()) for (let k = th.stack.length - 1; k >= 0; k--) this.close(th.stack[k]!, undefined);
      this.threads.clear();
      for (const list of this.pending.values()) {
        for (const g of list) {
          this.stats.unlinkedGpu++;
          this.attribute(g.row, g.durNs, undefined);
        }
      }
      this.pending.clear();
      this.launches.clear();
      this.matched.clear();
    }
    const ordered = [...this.rows.values()].sort((a, b) => {
      const ah = a.hostOrd !== Infinity;
      const bh = b.hostOrd !== Infinity;
      if (ah !== bh) return ah ? -1 : 1;
      if (ah) return a.hostStartNs - b.hostStartNs || a.hostOrd - b.hostOrd;
      return a.gpuOrd - b.gpuOrd;
    });
    const out: KeyAverageRow[] = ordered
      .filter((a) => a.calls > 0 || a.selfGpuNs > 0)
      .map((a) => ({
        name: a.name,
        calls: a.calls,
        selfCpuUs: a.selfCpuNs / 1000,
        cpuTotalUs: a.cpuTotalNs / 1000,
        cpuAvgUs: a.calls > 0 ? a.cpuTotalNs / 1000 / a.calls : 0,
        selfGpuUs: a.selfGpuNs / 1000,
        gpuTotalUs: a.gpuTotalNs / 1000,
        gpuAvgUs: a.calls > 0 ? a.gpuTotalNs / 1000 / a.calls : 0,
        flops: a.costCalls > 0 ? a.flops : null,
        bytes: a.costCalls > 0 ? a.bytes : null,
        // flops per ns = GFLOP/s, bytes per ns = GB/s.
        gflopPerS: a.costCalls > 0 && a.costGpuNs > 0 ? a.flops / a.costGpuNs : null,
        gbPerS: a.costCalls > 0 && a.costGpuNs > 0 ? a.bytes / a.costGpuNs : null,
        unestimatedCalls: a.unestimated,
        kernels: a.kernels,
      }));
    const result: KeyAverages = {
      rows: out,
      selfCpuTotalUs: this.selfCpuTotalNs / 1000,
      selfGpuTotalUs: this.selfGpuTotalNs / 1000,
      hasGpuTime: this.selfGpuTotalNs > 0,
      hasFlops: out.some((r) => r.flops !== null && r.flops > 0),
    };
    sortKeyAverages(result, options.sortBy ?? (result.hasGpuTime ? 'self_gpu' : 'self_cpu'));
    return result;
  }
}

/**
 * Per-name totals from a CaptureRecord or a parsed trace, sorted (default: self GPU time, then self CPU).
 * The trace's host spans are fed to a KeyAveragesAccumulator parents first per thread (sorted here), then
 * its GPU activities, so any trace gives exact results whatever its event order.
 */
export function keyAverages(input: CaptureRecord | KinetoTrace, options: { sortBy?: KeyAveragesSortKey } = {}): KeyAverages {
  const trace: KinetoTrace = 'traceEvents' in input ? input : buildTrace(input);
  const events = trace.traceEvents;
  if (!Array.isArray(events)) throw new WgprofError('TRACE_NOT_KINETO', 'the trace has no traceEvents array.');
  const acc = new KeyAveragesAccumulator({ maxPendingLaunches: Infinity });
  const hosts: number[] = [];
  const startNs: number[] = [];
  const endNs: number[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (e === null || typeof e !== 'object' || !isHostSpan(e)) continue;
    hosts.push(i);
    const s = toNs(e.ts);
    startNs[i] = s;
    endNs[i] = s + Math.max(0, toNs(e.dur));
  }
  hosts.sort((a, b) => startNs[a]! - startNs[b]! || endNs[b]! - endNs[a]! || a - b);
  for (const i of hosts) acc.add(events[i]!, i);
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    if (e !== null && typeof e === 'object' && !isHostSpan(e)) acc.add(e, i);
  }
  return acc.result(options);
}

const SORT_VALUE: Record<KeyAveragesSortKey, (r: KeyAverageRow) => number> = {
  self_gpu: (r) => r.selfGpuUs,
  gpu_total: (r) => r.gpuTotalUs,
  calls: (r) => r.calls,
  self_cpu: (r) => r.selfCpuUs,
  cpu_total: (r) => r.cpuTotalUs,
  flops: (r) => r.flops ?? -1,
};

/** Sorts rows in place, descending by `sortBy`; ties keep their order (stable, as Python's sorted). */
export function sortKeyAverages(ka: KeyAverages, sortBy: KeyAveragesSortKey): KeyAverages {
  const value = SORT_VALUE[sortBy];
  if (!value)
    throw new WgprofError('KEY_AVERAGES_BAD_SORT', `sort key ${JSON.stringify(sortBy)} is unknown; expected one of ${KEY_AVERAGES_SORT_KEYS.join(', ')}.`);
  ka.rows.sort((a, b) => value(b) - value(a));
  return ka;
}

// ---------------------------------------------------------------- text table (torch's _build_table)

/** torch's `_format_time`: µs as us / ms / s with 3 decimals. */
export function formatTimeUs(us: number): string {
  if (us >= 1_000_000) return `${(us / 1_000_000).toFixed(3)}s`;
  if (us >= 1000) return `${(us / 1000).toFixed(3)}ms`;
  return `${us.toFixed(3)}us`;
}

function share(part: number, total: number): string {
  return total === 0 ? 'NaN' : `${((part * 100) / total).toFixed(2)}%`;
}

/** torch's `_format_memory` (KB = 1024 B). */
export function formatBytes(bytes: number): string {
  const KB = 1024;
  const MB = KB * 1024;
  const GB = MB * 1024;
  if (Math.abs(bytes) >= GB) return `${(bytes / GB).toFixed(2)} GB`;
  if (Math.abs(bytes) >= MB) return `${(bytes / MB).toFixed(2)} MB`;
  if (Math.abs(bytes) >= KB) return `${(bytes / KB).toFixed(2)} KB`;
  return `${bytes} B`;
}

const FLOP_HEADERS = ['FLOPs', 'KFLOPs', 'MFLOPs', 'GFLOPs', 'TFLOPs', 'PFLOPs'];

export interface KeyAveragesTableOptions {
  /** Re-sorts before printing when given. */
  sortBy?: KeyAveragesSortKey;
  /** Rows printed (torch's default 100). */
  rowLimit?: number;
  /** torch's max_name_column_width (55). */
  maxNameWidth?: number;
}

/**
 * The table as torch prints it: right-aligned 12-wide columns two spaces apart, a name column as
 * wide as the longest name + 4 (at most 55, longer names cut with "..."), "--" where a cost is
 * unknown, and the "Self CPU time total" / "Self GPU time total" footer.
 */
export function formatKeyAveragesTable(ka: KeyAverages, options: KeyAveragesTableOptions = {}): string {
  if (options.sortBy) sortKeyAverages(ka, options.sortBy);
  const rowLimit = options.rowLimit ?? 100;
  const maxName = options.maxNameWidth ?? 55;
  const rows = ka.rows.slice(0, Math.max(0, rowLimit));
  if (ka.rows.length === 0) return '';
  const nameWidth = Math.min(Math.max(...ka.rows.map((r) => r.name.length)) + 4, maxName);
  const headers = ['Name', 'Self CPU %', 'Self CPU', 'CPU total %', 'CPU total', 'CPU time avg'];
  if (ka.hasGpuTime) headers.push('Self GPU', 'Self GPU %', 'GPU total', 'GPU time avg');
  headers.push('# of Calls');
  let flopScale = 1;
  if (ka.hasFlops) {
    const minFlops = Math.min(...ka.rows.filter((r) => r.flops !== null && r.flops > 0).map((r) => r.flops!));
    const level = Math.floor(Math.max(0, Math.min(Math.log10(minFlops) / 3, FLOP_HEADERS.length - 1)));
    flopScale = 10 ** (-3 * level);
    headers.push(`Total ${FLOP_HEADERS[level]!}`, 'GFLOP/s', 'Total bytes', 'GB/s');
  }
  const widths = headers.map((_, i) => (i === 0 ? nameWidth : 12));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!) + '  ').join('');
  const sep = widths.map((w) => '-'.repeat(w) + '  ').join('');
  const out: string[] = [sep, line(headers), sep];
  for (const r of rows) {
    const name = r.name.length >= maxName - 3 ? r.name.slice(0, maxName - 3) + '...' : r.name;
    const cells = [
      name,
      share(r.selfCpuUs, ka.selfCpuTotalUs),
      formatTimeUs(r.selfCpuUs),
      share(r.cpuTotalUs, ka.selfCpuTotalUs),
      formatTimeUs(r.cpuTotalUs),
      formatTimeUs(r.cpuAvgUs),
    ];
    if (ka.hasGpuTime) cells.push(formatTimeUs(r.selfGpuUs), share(r.selfGpuUs, ka.selfGpuTotalUs), formatTimeUs(r.gpuTotalUs), formatTimeUs(r.gpuAvgUs));
    cells.push(String(r.calls));
    if (ka.hasFlops) {
      cells.push(
        r.flops !== null && r.flops > 0 ? (r.flops * flopScale).toFixed(3).padStart(8) : '--',
        r.gflopPerS !== null ? r.gflopPerS.toFixed(3) : '--',
        r.bytes !== null ? formatBytes(r.bytes) : '--',
        r.gbPerS !== null ? r.gbPerS.toFixed(3) : '--',
      );
    }
    out.push(line(cells));
  }
  out.push(sep);
  out.push(`Self CPU time total: ${formatTimeUs(ka.selfCpuTotalUs)}`);
  if (ka.hasGpuTime) out.push(`Self GPU time total: ${formatTimeUs(ka.selfGpuTotalUs)}`);
  return out.join('\n') + '\n';
}
