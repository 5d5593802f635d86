// Per-iteration cost totals: FLOPs, bytes and GPU time summed over a step's dispatches, and the
// achieved GFLOP/s and GB/s (tinygrad's Estimates: a value you can add up; unknown is not zero).
// The trace builder renders the same totals as ProfilerStep args; this is the programmatic view
// (Profiler.lastCapture, benchmarks, reports).

import type { CaptureRecord, DispatchRecord, StepRecord } from '../capture/model.js';

/**
 * Totals of one step. A dispatch belongs to the step its op (the CPU-side encode) starts in. Unknown is
 * absent, never 0: sums cover the dispatches with an estimate, GPU time the timed ones.
 */
export interface StepCosts {
  /** ProfilerStep number. */
  step: number;
  dispatches: number;
  /** Dispatches with a cost estimate. */
  estimatedDispatches: number;
  /** Dispatches with a GPU interval. */
  timedDispatches: number;
  /** Sum of estimated FLOPs (only with with_flops). */
  flops?: number;
  bytesRead?: number;
  bytesWritten?: number;
  /** Sum of kernel GPU durations, ns (kernels on one queue run one after another). */
  gpuTimeNs?: number;
  /** FLOPs / GPU time of the dispatches both estimated and timed (flop/ns = GFLOP/s). */
  achievedGflopsPerSec?: number;
  /** (bytes read + written) / GPU time of the dispatches both estimated and timed (byte/ns = GB/s). */
  achievedGBPerSec?: number;
}

export function dispatchInStep(dispatch: DispatchRecord, step: Pick<StepRecord, 'startNs' | 'endNs'>): boolean {
  return dispatch.opStartNs >= step.startNs && dispatch.opStartNs <= step.endNs;
}

function gpuDurNs(dispatch: DispatchRecord): number | undefined {
  if (dispatch.gpuStartNs === undefined || dispatch.gpuEndNs === undefined) return undefined;
  return dispatch.gpuEndNs - dispatch.gpuStartNs;
}

/** Totals over the given dispatches. `withFlops` false leaves the FLOP fields out (the trace has no FLOPs then). */
export function sumCosts(step: number, dispatches: readonly DispatchRecord[], withFlops: boolean): StepCosts {
  const costs: StepCosts = { step, dispatches: dispatches.length, estimatedDispatches: 0, timedDispatches: 0 };
  let flops = 0;
  let bytesRead = 0;
  let bytesWritten = 0;
  let gpuTimeNs = 0;
  // Rates only use dispatches both estimated and timed, so a partly estimated step does not count
  // its unestimated kernels' time as idle.
  let rateFlops = 0;
  let rateBytes = 0;
  let rateTimeNs = 0;
  for (const dispatch of dispatches) {
    const durNs = gpuDurNs(dispatch);
    if (durNs !== undefined) {
      costs.timedDispatches += 1;
      gpuTimeNs += durNs;
    }
    const cost = dispatch.cost;
    if (!cost) continue;
    costs.estimatedDispatches += 1;
    flops += cost.flops;
    bytesRead += cost.bytesRead;
    bytesWritten += cost.bytesWritten;
    if (durNs !== undefined) {
      rateFlops += cost.flops;
      rateBytes += cost.bytesRead + cost.bytesWritten;
      rateTimeNs += durNs;
    }
  }
  if (costs.estimatedDispatches > 0) {
    if (withFlops) costs.flops = flops;
    costs.bytesRead = bytesRead;
    costs.bytesWritten = bytesWritten;
  }
  if (costs.timedDispatches > 0) costs.gpuTimeNs = gpuTimeNs;
  if (rateTimeNs > 0) {
    if (withFlops) costs.achievedGflopsPerSec = rateFlops / rateTimeNs;
    costs.achievedGBPerSec = rateBytes / rateTimeNs;
  }
  return costs;
}

/** Costs of every step of a capture, in step order. O((steps + dispatches) · log dispatches). */
export function stepCosts(record: CaptureRecord): StepCosts[] {
  const byStart = [...record.dispatches].sort((a, b) => a.opStartNs - b.opStartNs);
  return record.steps.map((step) => {
    let index = firstAtOrAfter(byStart, step.startNs);
    const inside: DispatchRecord[] = [];
    while (index < byStart.length && byStart[index]!.opStartNs <= step.endNs) inside.push(byStart[index++]!);
    return sumCosts(step.number, inside, record.meta.withFlops);
  });
}

function firstAtOrAfter(sorted: readonly DispatchRecord[], tsNs: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.opStartNs < tsNs) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
