// The host thread's side of the plan: steps made disjoint, annotations clamped into their steps, and
// every other host interval (CPU spans, ops, launches, copies and their ops) cut where it would straddle a step or
// annotation edge, put in emission order (parents first) and clamped so that no child outlives its
// parent. Times are integer ns relative to the trace's base; all of it works on typed arrays (a trace
// can hold millions of items).

import type { CaptureRecord, CopyRecord, DispatchRecord } from '../capture/model.js';
import type { Adjustments } from './provenance.js';

/** Host item kinds: a copy's launch (`copy`) sits inside the op wgprof opens for it (`copyOp`). */
export const ItemKind = { step: 0, annotation: 1, span: 2, op: 3, launch: 4, copy: 5, copyOp: 6 } as const;
/** Tie-break rank by kind (parents first): ops before launches. */
const RANK = new Uint8Array([0, 1, 2, 3, 4, 4, 3]);

/** Kineto's transToRelativeTime: ns since timeOrigin → integer ns since the base; negative clamps to 0. */
export function relNs(offsetNs: number, ns: number): number {
  const v = Math.round(offsetNs + ns);
  return v > 0 ? v : 0;
}

/** Indices 0..n-1 sorted by key (stable); skips the sort when already in order. */
export function sortedIndices(n: number, key: (i: number) => number): number[] {
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

/** What StepGrid.locate gives for a time inside no step. */
export const OUTSIDE_STEPS = -1;

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

/** Steps made disjoint, in start order ("positions"), and their annotations clamped into them. */
export class StepGrid {
  readonly count: number;
  /** Record index of the step at each position. */
  readonly recordIndex: Int32Array;
  readonly startNs: Float64Array;
  readonly endNs: Float64Array;
  readonly hasAnnotation: Uint8Array;
  readonly annotationStartNs: Float64Array;
  readonly annotationEndNs: Float64Array;

  constructor(steps: CaptureRecord['steps'], offsetNs: number, adj: Adjustments) {
    const n = steps.length;
    this.count = n;
    const order = sortedIndices(n, (i) => steps[i]!.startNs);
    const recordIndex = (this.recordIndex = new Int32Array(n));
    const start = (this.startNs = new Float64Array(n));
    const end = (this.endNs = new Float64Array(n));
    this.hasAnnotation = new Uint8Array(n);
    this.annotationStartNs = new Float64Array(n);
    this.annotationEndNs = new Float64Array(n);
    for (let p = 0; p < n; p++) {
      const s = steps[order[p]!]!;
      recordIndex[p] = order[p]!;
      start[p] = relNs(offsetNs, s.startNs);
      end[p] = relNs(offsetNs, s.endNs);
      if (end[p]! < start[p]!) {
        end[p] = start[p]!;
        adj.hostSpansClamped++;
      }
      if (p > 0 && start[p]! < end[p - 1]!) {
        end[p - 1] = Math.max(start[p - 1]!, start[p]!);
        adj.hostSpansClamped++;
      }
    }
    for (let p = 0; p < n; p++) {
      const s = steps[recordIndex[p]!]!;
      if (s.annotation === undefined) continue;
      const lo = start[p]!;
      const hi = end[p]!;
      const rawS = relNs(offsetNs, s.annotationStartNs ?? s.startNs);
      const rawE = relNs(offsetNs, s.annotationEndNs ?? s.endNs);
      const a0 = Math.min(Math.max(rawS, lo), hi);
      const a1 = Math.min(Math.max(rawE, a0), hi);
      if (a0 !== rawS || a1 !== rawE) adj.hostSpansClamped++;
      this.hasAnnotation[p] = 1;
      this.annotationStartNs[p] = a0;
      this.annotationEndNs[p] = a1;
    }
  }

  /** Position of the step that contains t (start inclusive, end exclusive), or OUTSIDE_STEPS. */
  locate(t: number): number {
    const p = lastAtOrBefore(this.startNs, t);
    return p >= 0 && t < this.endNs[p]! ? p : OUTSIDE_STEPS;
  }

  /** Cuts a span's end so that it does not straddle a step or annotation edge; returns the new end. */
  clampEnd(s: number, e: number): number {
    const p = this.locate(s);
    if (p >= 0) {
      if (e > this.endNs[p]!) e = this.endNs[p]!;
      if (this.hasAnnotation[p]) {
        const a0 = this.annotationStartNs[p]!;
        const a1 = this.annotationEndNs[p]!;
        if (s >= a0 && s < a1) {
          if (e > a1) e = a1;
        } else if (s < a0 && e > a0 && e < a1) e = a0;
      }
    } else {
      const q = lastAtOrBefore(this.startNs, e - 1);
      if (q >= 0 && e < this.endNs[q]! && e > this.startNs[q]! && s < this.startNs[q]!) e = this.startNs[q]!;
    }
    return e;
  }
}

/** Host items (steps, annotations, spans, ops, launches, copies) as parallel arrays, in push order. */
export class HostItems {
  readonly startNs: Float64Array;
  readonly endNs: Float64Array;
  readonly kind: Uint8Array;
  /** Index of the item in its source list (step position, span, dispatch or copy index). */
  readonly source: Int32Array;
  count = 0;

  constructor(capacity: number) {
    this.startNs = new Float64Array(capacity);
    this.endNs = new Float64Array(capacity);
    this.kind = new Uint8Array(capacity);
    this.source = new Int32Array(capacity);
  }

  push(kind: number, source: number, s: number, e: number): void {
    const n = this.count++;
    this.startNs[n] = s;
    this.endNs[n] = e;
    this.kind[n] = kind;
    this.source[n] = source;
  }

  /** A host span [s, e] cut to its containers; an end before the start becomes the start. Both count as clamps. */
  pushClamped(kind: number, source: number, s: number, e: number, grid: StepGrid, adj: Adjustments): void {
    if (e < s) {
      e = s;
      adj.hostSpansClamped++;
    }
    const c = grid.clampEnd(s, e);
    if (c !== e) adj.hostSpansClamped++;
    this.push(kind, source, s, c);
  }

  /** Parents first: earlier start, then longer, then lower rank, then push order. */
  before(a: number, b: number): number {
    return this.startNs[a]! - this.startNs[b]! || this.endNs[b]! - this.endNs[a]! || RANK[this.kind[a]!]! - RANK[this.kind[b]!]! || a - b;
  }
}

/** Each dispatch's op as a host item; records the step position its op starts in (or OUTSIDE_STEPS). */
export function planOps(
  dispatches: readonly DispatchRecord[],
  offsetNs: number,
  grid: StepGrid,
  items: HostItems,
  adj: Adjustments,
  stepOfDispatch: Int32Array,
): void {
  for (let i = 0; i < dispatches.length; i++) {
    const d = dispatches[i]!;
    const s = relNs(offsetNs, d.opStartNs);
    items.pushClamped(ItemKind.op, i, s, relNs(offsetNs, d.opEndNs), grid, adj);
    stepOfDispatch[i] = grid.locate(s);
  }
}

/** Each launch is clamped into its op (item firstOp + i). */
export function planLaunches(dispatches: readonly DispatchRecord[], offsetNs: number, items: HostItems, firstOp: number, adj: Adjustments): void {
  for (let i = 0; i < dispatches.length; i++) {
    const d = dispatches[i]!;
    const os = items.startNs[firstOp + i]!;
    const oe = items.endNs[firstOp + i]!;
    const rawS = relNs(offsetNs, d.launchStartNs);
    const rawE = relNs(offsetNs, d.launchEndNs);
    const ls = Math.min(Math.max(rawS, os), oe);
    const le = Math.min(Math.max(rawE, ls), oe);
    if (ls !== rawS || le !== rawE) adj.hostSpansClamped++;
    items.push(ItemKind.launch, i, ls, le);
  }
}

/**
 * Each copy as an op and, inside it, its launch. The caller opened no op for a writeBuffer or a
 * copyBufferToBuffer, so wgprof opens one over exactly the launch's interval, as torch's `aten::copy_`
 * encloses its `cudaMemcpyAsync`: the launch and its GPU memcpy then reach a cpu_op through their
 * `External id` (tb_plugin attributes runtime and GPU time to ops that way, HTA places them by it).
 */
export function planCopies(copies: readonly CopyRecord[], offsetNs: number, grid: StepGrid, items: HostItems, adj: Adjustments, stepOfCopy: Int32Array): void {
  for (let i = 0; i < copies.length; i++) {
    const cp = copies[i]!;
    const s = relNs(offsetNs, cp.launchStartNs);
    const op = items.count;
    items.pushClamped(ItemKind.copyOp, i, s, relNs(offsetNs, cp.launchEndNs), grid, adj);
    items.push(ItemKind.copy, i, items.startNs[op]!, items.endNs[op]!);
    stepOfCopy[i] = grid.locate(s);
  }
}

/**
 * Host items in emission order (parents first). Dispatches (op, launch, op, launch...) are nearly always
 * in order already: merge that stream with the few other items instead of sorting everything; fall back
 * to a full sort when the stream is out of order. Ops are items firstOp..firstOp+nD-1, their launches the nD after.
 */
export function orderItems(items: HostItems, firstOp: number, nD: number): number[] {
  const total = items.count;
  const cmp = (a: number, b: number): number => items.before(a, b);
  const others: number[] = [];
  for (let x = 0; x < firstOp; x++) others.push(x);
  for (let x = firstOp + 2 * nD; x < total; x++) others.push(x);
  others.sort(cmp);
  const pairs = new Array<number>(2 * nD);
  for (let i = 0; i < nD; i++) {
    pairs[2 * i] = firstOp + i;
    pairs[2 * i + 1] = firstOp + nD + i;
  }
  let pairsSorted = true;
  for (let k = 1; k < pairs.length && pairsSorted; k++) if (items.before(pairs[k - 1]!, pairs[k]!) > 0) pairsSorted = false;
  if (!pairsSorted) pairs.sort(cmp);
  const order = new Array<number>(total);
  for (let a = 0, b = 0, k = 0; k < total; k++) {
    if (b >= pairs.length || (a < others.length && items.before(others[a]!, pairs[b]!) <= 0)) order[k] = others[a++]!;
    else order[k] = pairs[b++]!;
  }
  return order;
}

/** Stack pass: a child never outlives its parent. */
export function clampToParents(order: readonly number[], items: HostItems, adj: Adjustments): void {
  const { startNs, endNs } = items;
  const stack = new Int32Array(order.length);
  let depth = 0;
  for (let k = 0; k < order.length; k++) {
    const x = order[k]!;
    while (depth > 0 && endNs[stack[depth - 1]!]! <= startNs[x]!) depth--;
    if (depth > 0 && endNs[x]! > endNs[stack[depth - 1]!]!) {
      endNs[x] = endNs[stack[depth - 1]!]!;
      adj.hostSpansClamped++;
    }
    stack[depth++] = x;
  }
}
