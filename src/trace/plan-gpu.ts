// The GPU stream's side of the plan: the kernels' and memcpys' intervals (relative ns) made siblings
// that never overlap, each step's gpu_user_annotation drawn over its GPU work without cutting a slice,
// and each step's peak of allocated memory.

import type { CaptureRecord } from '../capture/model.js';
import { relNs, type StepGrid } from './plan-host.js';
import type { Adjustments } from './provenance.js';

/** GPU intervals of one list (dispatches or copies), relative ns; `timed[i]` says whether item i has one. */
export class GpuIntervals {
  readonly timed: Uint8Array;
  readonly startNs: Float64Array;
  readonly endNs: Float64Array;

  constructor(count: number) {
    this.timed = new Uint8Array(count);
    this.startNs = new Float64Array(count);
    this.endNs = new Float64Array(count);
  }

  /** Item i's interval from record times; none when absent, or when it ends before it starts (counted). */
  set(i: number, offsetNs: number, startNs: number | undefined, endNs: number | undefined, adj: Adjustments): void {
    if (startNs === undefined || endNs === undefined) return;
    const gs = relNs(offsetNs, startNs);
    const ge = relNs(offsetNs, endNs);
    if (ge >= gs) {
      this.timed[i] = 1;
      this.startNs[i] = gs;
      this.endNs[i] = ge;
    } else adj.gpuIntervalsDropped++;
  }

  durationNs(i: number): number {
    return this.endNs[i]! - this.startNs[i]!;
  }
}

/** The GPU stream in start order: entry k is dispatch `ids[k]`, or copy `ids[k] - dispatchCount`. */
export interface GpuStream {
  ids: number[];
  startNs: Float64Array;
  endNs: Float64Array;
  /** Entries that are kernels (the rest are memcpys). */
  kernels: number;
}

/** An interval that starts before the previous one ended is shifted to start at that end (its end is kept; never a made-up length). */
export function gpuSiblings(dispatches: GpuIntervals, copies: GpuIntervals, adj: Adjustments): GpuStream {
  const nD = dispatches.timed.length;
  const ids: number[] = [];
  for (let i = 0; i < nD; i++) if (dispatches.timed[i]) ids.push(i);
  const kernels = ids.length;
  for (let i = 0; i < copies.timed.length; i++) if (copies.timed[i]) ids.push(nD + i);
  const startOf = (g: number): number => (g < nD ? dispatches.startNs[g]! : copies.startNs[g - nD]!);
  let sorted = true;
  for (let k = 1; k < ids.length; k++) if (startOf(ids[k]!) < startOf(ids[k - 1]!)) sorted = false;
  if (!sorted) ids.sort((a, b) => startOf(a) - startOf(b) || a - b);
  let prevEnd = -Infinity;
  const startNs = new Float64Array(ids.length);
  const endNs = new Float64Array(ids.length);
  for (let k = 0; k < ids.length; k++) {
    const g = ids[k]!;
    const list = g < nD ? dispatches : copies;
    const i = g < nD ? g : g - nD;
    let s = list.startNs[i]!;
    let e = list.endNs[i]!;
    if (s < prevEnd) {
      const shift = prevEnd - s;
      if (shift > adj.maxGpuShiftNs) adj.maxGpuShiftNs = shift;
      adj.gpuIntervalsShifted++;
      s = prevEnd;
      if (e < s) e = s;
      list.startNs[i] = s;
      list.endNs[i] = e;
    }
    startNs[k] = s;
    endNs[k] = e;
    if (e > prevEnd) prevEnd = e;
  }
  return { ids, startNs, endNs, kernels };
}

/** Each step's gpu_user_annotation interval (drawn when `drawn[p]`), over its GPU work, never cutting a slice. */
export interface GpuAnnotations {
  drawn: Uint8Array;
  startNs: Float64Array;
  endNs: Float64Array;
}

export function gpuAnnotations(
  steps: number,
  stream: GpuStream,
  dispatchCount: number,
  stepOfDispatch: Int32Array,
  stepOfCopy: Int32Array,
  adj: Adjustments,
): GpuAnnotations {
  const out: GpuAnnotations = { drawn: new Uint8Array(steps), startNs: new Float64Array(steps), endNs: new Float64Array(steps) };
  const { ids, startNs, endNs } = stream;
  if (steps === 0 || ids.length === 0) return out;
  // First and last stream entry of each step's GPU work (count 0: the step launched none).
  const first = new Int32Array(steps);
  const last = new Int32Array(steps);
  const count = new Int32Array(steps);
  for (let k = 0; k < ids.length; k++) {
    const g = ids[k]!;
    const p = g < dispatchCount ? stepOfDispatch[g]! : stepOfCopy[g - dispatchCount]!;
    if (p < 0) continue;
    if (count[p] === 0) first[p] = k;
    count[p]!++;
    last[p] = k;
  }
  let prevAnnotationEnd = -Infinity;
  for (let p = 0; p < steps; p++) {
    if (count[p] === 0) continue;
    const f = first[p]!;
    const l = last[p]!;
    // Kineto draws it 1 ns early and 2 ns longer; neighbours bound it so it never cuts a slice.
    let s = startNs[f]! - 1;
    if (f > 0 && s < endNs[f - 1]!) s = endNs[f - 1]!;
    if (s < 0) s = 0;
    let e = endNs[l]! + 1;
    if (l + 1 < startNs.length && e > startNs[l + 1]!) e = startNs[l + 1]!;
    if (s < prevAnnotationEnd) s = prevAnnotationEnd;
    if (s > startNs[f]! || e < s) {
      adj.gpuAnnotationsDropped++;
      continue;
    }
    out.drawn[p] = 1;
    out.startNs[p] = s;
    out.endNs[p] = e;
    prevAnnotationEnd = e;
  }
  return out;
}

/** Peak allocated bytes per step position (`known[p]` says whether there is one): the level at its start, raised by each event inside it. */
export function stepPeaks(
  grid: StepGrid,
  steps: CaptureRecord['steps'],
  memory: CaptureRecord['memory'],
  memoryNs: Float64Array,
  memoryOrder: readonly number[],
): { known: Uint8Array; bytes: Float64Array } {
  const known = new Uint8Array(grid.count);
  const bytes = new Float64Array(grid.count);
  let m = 0;
  let levelKnown = false;
  let level = 0;
  for (let p = 0; p < grid.count; p++) {
    const given = steps[grid.recordIndex[p]!]!.peakAllocatedBytes;
    while (m < memoryOrder.length && memoryNs[memoryOrder[m]!]! < grid.startNs[p]!) {
      level = memory[memoryOrder[m++]!]!.totalAllocatedBytes;
      levelKnown = true;
    }
    let peakKnown = levelKnown;
    let peak = level;
    for (let k = m; k < memoryOrder.length && memoryNs[memoryOrder[k]!]! <= grid.endNs[p]!; k++) {
      const r = memory[memoryOrder[k]!]!;
      if (!peakKnown) {
        peak = r.totalAllocatedBytes - r.bytes;
        peakKnown = true;
      }
      if (r.totalAllocatedBytes > peak) peak = r.totalAllocatedBytes;
    }
    if (given !== undefined && Number.isFinite(given)) {
      known[p] = 1;
      bytes[p] = given;
    } else if (peakKnown) {
      known[p] = 1;
      bytes[p] = peak;
    }
  }
  return { known, bytes };
}
