// torch's `key_averages().table()` for wgprof traces: one row per event name, from a CaptureRecord
// (through buildTrace) or from any parsed Kineto trace, so `profiler_out_{rank}.txt` and
// `wgprof summarize FILE` agree.
//
// Attribution (mirrors torch with Kineto):
// - Host events (cpu_op, user_annotation, python_function, *_runtime) nest per thread; Self CPU is
//   the duration minus direct children. `ProfilerStep#N` rows merge into `ProfilerStep*`, as torch does.
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

interface Acc {
  name: string;
  order: number;
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
}

const HOST_CATS = new Set(['cpu_op', 'user_annotation', 'python_function', 'Operator']);

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

/** Per-name totals from a CaptureRecord or a parsed trace, sorted (default: self GPU time, then self CPU). */
export function keyAverages(input: CaptureRecord | KinetoTrace, options: { sortBy?: KeyAveragesSortKey } = {}): KeyAverages {
  const trace: KinetoTrace = 'traceEvents' in input ? input : buildTrace(input);
  const events = trace.traceEvents;
  if (!Array.isArray(events)) throw new WgprofError('TRACE_NOT_KINETO', 'the trace has no traceEvents array.');

  // Host spans per thread, parents first.
  const hosts: number[] = [];
  for (let i = 0; i < events.length; i++) if (isHostSpan(events[i]!)) hosts.push(i);
  const startNs = new Map<number, number>();
  const endNs = new Map<number, number>();
  for (const i of hosts) {
    const e = events[i]!;
    const s = toNs(e.ts);
    startNs.set(i, s);
    endNs.set(i, s + Math.max(0, toNs(e.dur)));
  }
  // Group by thread, then parents first within each thread.
  const threads = new Map<string, number[]>();
  for (const i of hosts) {
    const key = `${JSON.stringify(events[i]!.pid)}/${JSON.stringify(events[i]!.tid)}`;
    let list = threads.get(key);
    if (!list) threads.set(key, (list = []));
    list.push(i);
  }
  const parent = new Map<number, number>();
  const childNs = new Map<number, number>();
  for (const list of threads.values()) {
    list.sort((a, b) => startNs.get(a)! - startNs.get(b)! || endNs.get(b)! - endNs.get(a)! || a - b);
    const stack: number[] = [];
    for (const i of list) {
      while (stack.length > 0 && endNs.get(stack[stack.length - 1]!)! <= startNs.get(i)!) stack.pop();
      const top = stack[stack.length - 1];
      // A child that outlives its parent (torch traces with_stack) is still counted under it, clipped.
      if (top !== undefined) {
        parent.set(i, top);
        const overlap = Math.min(endNs.get(i)!, endNs.get(top)!) - startNs.get(i)!;
        childNs.set(top, (childNs.get(top) ?? 0) + Math.max(0, overlap));
      }
      stack.push(i);
    }
  }

  const launchByCorr = new Map<number, number>();
  for (const i of hosts) {
    const e = events[i]!;
    const corr = num(e.args?.['correlation']);
    if (isRuntimeCat(e.cat) && corr !== undefined) launchByCorr.set(corr, i);
  }

  const rows = new Map<string, Acc>();
  const row = (name: string): Acc => {
    let acc = rows.get(name);
    if (!acc) {
      acc = { name, order: rows.size, calls: 0, selfCpuNs: 0, cpuTotalNs: 0, selfGpuNs: 0, gpuTotalNs: 0, flops: 0, bytes: 0, costCalls: 0, costGpuNs: 0, unestimated: 0 };
      rows.set(name, acc);
    }
    return acc;
  };
  // Rows in first-appearance order of host spans (torch's order for ties).
  const byTime = [...hosts].sort((a, b) => startNs.get(a)! - startNs.get(b)! || a - b);
  for (const i of byTime) row(rowName(events[i]!.name));

  const gpuNsOf = new Map<number, number>();
  let selfGpuTotalNs = 0;
  for (const e of events) {
    if (e.ph !== 'X' || e.cat === undefined || !GPU_ACTIVITY_CATS.has(e.cat)) continue;
    const dur = Math.max(0, toNs(e.dur));
    selfGpuTotalNs += dur;
    const corr = num(e.args?.['correlation']);
    const launch = corr !== undefined ? launchByCorr.get(corr) : undefined;
    let owner: number | undefined;
    for (let h = launch; h !== undefined; h = parent.get(h)) {
      gpuNsOf.set(h, (gpuNsOf.get(h) ?? 0) + dur);
      if (owner === undefined && events[h]!.cat === 'cpu_op') owner = h;
    }
    const acc = row(rowName(e.name));
    acc.selfGpuNs += dur;
    if (owner === undefined || rowName(events[owner]!.name) !== acc.name) {
      acc.calls++;
      acc.gpuTotalNs += dur;
    }
  }

  let selfCpuTotalNs = 0;
  for (const i of hosts) {
    const e = events[i]!;
    const acc = row(rowName(e.name));
    const dur = endNs.get(i)! - startNs.get(i)!;
    const self = Math.max(0, dur - (childNs.get(i) ?? 0));
    const gpuNs = gpuNsOf.get(i) ?? 0;
    acc.calls++;
    acc.selfCpuNs += self;
    acc.cpuTotalNs += dur;
    acc.gpuTotalNs += gpuNs;
    selfCpuTotalNs += self;
    if (e.cat === 'cpu_op') {
      const flops = num(e.args?.['flops']);
      const bytes = num(e.args?.['bytes']);
      if (flops !== undefined) {
        acc.flops += flops;
        acc.bytes += bytes ?? 0;
        acc.costCalls++;
        acc.costGpuNs += gpuNs;
      } else acc.unestimated++;
    }
  }

  const out: KeyAverageRow[] = [...rows.values()]
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
    }));
  const result: KeyAverages = {
    rows: out,
    selfCpuTotalUs: selfCpuTotalNs / 1000,
    selfGpuTotalUs: selfGpuTotalNs / 1000,
    hasGpuTime: selfGpuTotalNs > 0,
    hasFlops: out.some((r) => r.flops !== null && r.flops > 0),
  };
  sortKeyAverages(result, options.sortBy ?? (result.hasGpuTime ? 'self_gpu' : 'self_cpu'));
  return result;
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
  if (!value) throw new WgprofError('KEY_AVERAGES_BAD_SORT', `sort key ${JSON.stringify(sortBy)} is unknown; expected one of ${KEY_AVERAGES_SORT_KEYS.join(', ')}.`);
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
    const cells = [name, share(r.selfCpuUs, ka.selfCpuTotalUs), formatTimeUs(r.selfCpuUs), share(r.cpuTotalUs, ka.selfCpuTotalUs), formatTimeUs(r.cpuTotalUs), formatTimeUs(r.cpuAvgUs)];
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
