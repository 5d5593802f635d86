// CaptureRecord → TracePlan: checked once, every time fixed on the relative-ns grid, strict nesting
// enforced, the GPU stream laid out, and each step's totals computed — once, here, for the trace, the
// key-averages table and the profiler's per-step costs alike. The emission pass (./emit.ts) only walks it.
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
// before the previous one ended is shifted to start at that end (its end is kept), and a step's
// gpu_user_annotation is dropped rather than allowed to cut through a kernel. Every adjustment is
// counted under `wgprof.adjustments` and noted in `wgprof.notes`.
//
// Step totals (one definition): a dispatch or copy belongs to the step its host op (launch, for
// copies) starts in. A step's `dispatches` counts its dispatches, timed or not; its GPU time is the sum
// of the GPU durations of everything it launched — kernels AND memcpys (torch counts memcpy time in a
// step's CUDA total too); FLOPs and bytes sum the dispatches with a cost estimate (unknown is absent,
// never 0), and the achieved rates divide the estimates of the dispatches both estimated and timed by
// those dispatches' GPU time.
//
// The planning passes are small functions over typed arrays on purpose: V8 optimizes a small hot
// function after a few thousand iterations, a single 400-line one only after millions, and a trace is
// usually exported once per process (test/bench/trace.ts measures the first export).

import type { CaptureRecord, DispatchRecord, KernelCost, TraceMeta } from '../capture/model.js';
import type { TraceDeviceProperties, TraceProvenance } from './kineto.js';
import { checkEvents, checkMeta } from './plan-checks.js';
import { gpuAnnotations, gpuSiblings, GpuIntervals, stepPeaks, type GpuAnnotations, type GpuStream } from './plan-gpu.js';
import { clampToParents, HostItems, ItemKind, orderItems, planCopies, planLaunches, planOps, relNs, sortedIndices, StepGrid } from './plan-host.js';
import { parseLaunchNames, type LaunchNames } from './launch-names.js';
import { devicePropertiesOf, noAdjustments, provenanceOf } from './provenance.js';

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
  /**
   * How launches are named (./launch-names.ts): 'webgpu' (default), the WebGPU call; 'cuda', the CUDA
   * runtime call HTA's launch analyses key on (`cudaLaunchKernel`, `cudaMemcpyAsync`), the WebGPU call
   * kept in the launch's args.
   */
  launchNames?: LaunchNames;
}

/** Kineto's ChromeTraceBaseTime interval: 3 × 30.44 days, in ns. */
export const TRIMONTH_NS = 7_889_238n * 1_000_000_000n;

/** Totals of one step (see the file comment for what counts). Unknown is absent, never 0. */
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
  /** Sum of the GPU durations of its kernels and memcpys, ns. */
  gpuTimeNs?: number;
  /** FLOPs / GPU time of the dispatches both estimated and timed (flop/ns = GFLOP/s). */
  achievedGflopsPerSec?: number;
  /** (bytes read + written) / GPU time of the dispatches both estimated and timed (byte/ns = GB/s). */
  achievedGBPerSec?: number;
}

/** A dispatch's cost when every part of it is a finite number. */
export function knownCost(d: DispatchRecord): KernelCost | undefined {
  const cost = d.cost;
  return cost && Number.isFinite(cost.flops) && Number.isFinite(cost.bytesRead) && Number.isFinite(cost.bytesWritten) ? cost : undefined;
}

/** Per step position: the totals the trace, the table and the profiler share. */
export class StepTotals {
  readonly dispatches: Int32Array;
  readonly timedDispatches: Int32Array;
  /** Timed GPU activities (kernels and memcpys) launched in the step. */
  readonly gpuActivities: Int32Array;
  readonly gpuTimeNs: Float64Array;
  readonly estimatedDispatches: Int32Array;
  readonly flops: Float64Array;
  readonly bytesRead: Float64Array;
  readonly bytesWritten: Float64Array;
  /** Estimates and GPU time of the dispatches both estimated and timed (the achieved rates). */
  readonly rateFlops: Float64Array;
  readonly rateBytes: Float64Array;
  readonly rateGpuNs: Float64Array;

  constructor(steps: number) {
    this.dispatches = new Int32Array(steps);
    this.timedDispatches = new Int32Array(steps);
    this.gpuActivities = new Int32Array(steps);
    this.gpuTimeNs = new Float64Array(steps);
    this.estimatedDispatches = new Int32Array(steps);
    this.flops = new Float64Array(steps);
    this.bytesRead = new Float64Array(steps);
    this.bytesWritten = new Float64Array(steps);
    this.rateFlops = new Float64Array(steps);
    this.rateBytes = new Float64Array(steps);
    this.rateGpuNs = new Float64Array(steps);
  }

  static of(
    steps: number,
    dispatches: readonly DispatchRecord[],
    stepOfDispatch: Int32Array,
    dispatchGpu: GpuIntervals,
    stepOfCopy: Int32Array,
    copyGpu: GpuIntervals,
  ): StepTotals {
    const t = new StepTotals(steps);
    for (let i = 0; i < dispatches.length; i++) {
      const p = stepOfDispatch[i]!;
      if (p < 0) continue;
      t.dispatches[p]!++;
      const timed = dispatchGpu.timed[i] === 1;
      const durNs = timed ? dispatchGpu.durationNs(i) : 0;
      if (timed) {
        t.timedDispatches[p]!++;
        t.gpuActivities[p]!++;
        t.gpuTimeNs[p]! += durNs;
      }
      const cost = knownCost(dispatches[i]!);
      if (cost) {
        t.estimatedDispatches[p]!++;
        t.flops[p]! += cost.flops;
        t.bytesRead[p]! += cost.bytesRead;
        t.bytesWritten[p]! += cost.bytesWritten;
        if (timed) {
          t.rateFlops[p]! += cost.flops;
          t.rateBytes[p]! += cost.bytesRead + cost.bytesWritten;
          t.rateGpuNs[p]! += durNs;
        }
      }
    }
    for (let i = 0; i < stepOfCopy.length; i++) {
      const p = stepOfCopy[i]!;
      if (p < 0 || copyGpu.timed[i] !== 1) continue;
      t.gpuActivities[p]!++;
      t.gpuTimeNs[p]! += copyGpu.durationNs(i);
    }
    return t;
  }

  /** The StepCosts of position p. `withFlops` false leaves the FLOP fields out (the trace has no FLOPs then). */
  costs(p: number, step: number, withFlops: boolean): StepCosts {
    const out: StepCosts = {
      step,
      dispatches: this.dispatches[p]!,
      estimatedDispatches: this.estimatedDispatches[p]!,
      timedDispatches: this.timedDispatches[p]!,
    };
    if (out.estimatedDispatches > 0) {
      if (withFlops) out.flops = this.flops[p]!;
      out.bytesRead = this.bytesRead[p]!;
      out.bytesWritten = this.bytesWritten[p]!;
    }
    if (this.gpuActivities[p]! > 0) out.gpuTimeNs = this.gpuTimeNs[p]!;
    const rateNs = this.rateGpuNs[p]!;
    if (rateNs > 0) {
      if (withFlops) out.achievedGflopsPerSec = this.rateFlops[p]! / rateNs;
      out.achievedGBPerSec = this.rateBytes[p]! / rateNs;
    }
    return out;
  }
}

export interface TracePlan {
  record: CaptureRecord;
  meta: TraceMeta;
  processName: string;
  traceName: string;
  launchNames: LaunchNames;
  hasGpu: boolean;
  baseNs: bigint;
  /** First and last time in the trace, relative ns. */
  windowStartNs: number;
  windowEndNs: number;
  steps: StepGrid;
  /** External ids of each step's ProfilerStep and annotation events (after the record's own ids). */
  stepExternalId: Float64Array;
  annotationExternalId: Float64Array;
  totals: StepTotals;
  peaks: { known: Uint8Array; bytes: Float64Array };
  gpuAnnotations: GpuAnnotations;
  dispatchGpu: GpuIntervals;
  copyGpu: GpuIntervals;
  stream: GpuStream;
  /** External id of each CPU span of cat cpu_op / user_annotation without one of its own (`hasSpanExternalId`). */
  hasSpanExternalId: Uint8Array;
  spanExternalId: Float64Array;
  items: HostItems;
  /** Host items in emission order. */
  order: number[];
  memoryOrder: number[];
  memoryNs: Float64Array;
  provenance: TraceProvenance;
  deviceProperties: TraceDeviceProperties[];
}

/** [min, max] over every interval and instant of the trace (relative ns); [Infinity, -Infinity] when empty. */
function extent(items: HostItems, stream: GpuStream, annotations: GpuAnnotations, memoryNs: Float64Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  const span = (starts: Float64Array, ends: Float64Array, n: number, drawn?: Uint8Array): void => {
    for (let i = 0; i < n; i++) {
      if (drawn && !drawn[i]) continue;
      if (starts[i]! < lo) lo = starts[i]!;
      if (ends[i]! > hi) hi = ends[i]!;
    }
  };
  span(items.startNs, items.endNs, items.count);
  span(stream.startNs, stream.endNs, stream.startNs.length);
  span(annotations.startNs, annotations.endNs, annotations.drawn.length, annotations.drawn);
  span(memoryNs, memoryNs, memoryNs.length);
  return [lo, hi];
}

export function planTrace(record: CaptureRecord, options: TraceBuildOptions = {}): TracePlan {
  const meta = checkMeta(record);
  const launchNames = options.launchNames === undefined ? 'webgpu' : parseLaunchNames(options.launchNames, 'the launchNames option');
  const { steps, dispatches, copies, cpuSpans, memory } = record;
  const withMemory = meta.withMemory === true;
  const minNs = checkEvents(record, withMemory);

  const captureEpochNs = meta.timeOriginEpochNs + BigInt(Math.floor(minNs));
  const baseNs = (captureEpochNs / TRIMONTH_NS) * TRIMONTH_NS;
  const offsetNs = Number(meta.timeOriginEpochNs - baseNs);
  const adj = noAdjustments();

  // ---- steps and their annotations; External ids after the record's own
  const grid = new StepGrid(steps, offsetNs, adj);
  const nSteps = grid.count;
  let maxExternalId = 0;
  for (const d of dispatches) if (d.externalId > maxExternalId) maxExternalId = d.externalId;
  for (const c of copies) if (c.externalId > maxExternalId) maxExternalId = c.externalId;
  let nextExternalId = Math.floor(maxExternalId) + 1;
  const stepExternalId = new Float64Array(nSteps);
  const annotationExternalId = new Float64Array(nSteps);
  let annotations = 0;
  for (let p = 0; p < nSteps; p++) {
    stepExternalId[p] = nextExternalId++;
    if (grid.hasAnnotation[p]) {
      annotationExternalId[p] = nextExternalId++;
      annotations++;
    }
  }

  // ---- host items
  const nD = dispatches.length;
  const nC = copies.length;
  const nSpans = cpuSpans.length;
  const items = new HostItems(nSteps + annotations + nSpans + 2 * nD + 2 * nC);
  for (let p = 0; p < nSteps; p++) items.push(ItemKind.step, p, grid.startNs[p]!, grid.endNs[p]!);
  for (let p = 0; p < nSteps; p++) if (grid.hasAnnotation[p]) items.push(ItemKind.annotation, p, grid.annotationStartNs[p]!, grid.annotationEndNs[p]!);
  const hasSpanExternalId = new Uint8Array(nSpans);
  const spanExternalId = new Float64Array(nSpans);
  for (let i = 0; i < nSpans; i++) {
    const sp = cpuSpans[i]!;
    items.pushClamped(ItemKind.span, i, relNs(offsetNs, sp.startNs), relNs(offsetNs, sp.endNs), grid, adj);
    if ((sp.cat === 'cpu_op' || sp.cat === 'user_annotation') && !(sp.args && 'External id' in sp.args)) {
      hasSpanExternalId[i] = 1;
      spanExternalId[i] = nextExternalId++;
    }
  }
  const stepOfDispatch = new Int32Array(nD);
  const firstOp = items.count;
  planOps(dispatches, offsetNs, grid, items, adj, stepOfDispatch);
  planLaunches(dispatches, offsetNs, items, firstOp, adj);
  const stepOfCopy = new Int32Array(nC);
  planCopies(copies, offsetNs, grid, items, adj, stepOfCopy);
  const order = orderItems(items, firstOp, nD);
  clampToParents(order, items, adj);

  // ---- GPU stream, per-step totals and gpu_user_annotation spans
  const dispatchGpu = new GpuIntervals(nD);
  for (let i = 0; i < nD; i++) dispatchGpu.set(i, offsetNs, dispatches[i]!.gpuStartNs, dispatches[i]!.gpuEndNs, adj);
  const copyGpu = new GpuIntervals(nC);
  for (let i = 0; i < nC; i++) copyGpu.set(i, offsetNs, copies[i]!.gpuStartNs, copies[i]!.gpuEndNs, adj);
  const stream = gpuSiblings(dispatchGpu, copyGpu, adj);
  const totals = StepTotals.of(nSteps, dispatches, stepOfDispatch, dispatchGpu, stepOfCopy, copyGpu);
  const stepAnnotations = gpuAnnotations(nSteps, stream, nD, stepOfDispatch, stepOfCopy, adj);

  // ---- memory
  const nM = withMemory ? memory.length : 0;
  const memoryNs = new Float64Array(nM);
  for (let i = 0; i < nM; i++) memoryNs[i] = relNs(offsetNs, memory[i]!.tsNs);
  const memoryOrder = sortedIndices(nM, (i) => memoryNs[i]!);
  const peaks = withMemory ? stepPeaks(grid, steps, memory, memoryNs, memoryOrder) : { known: new Uint8Array(nSteps), bytes: new Float64Array(nSteps) };

  // ---- the capture's extent (relative ns)
  let [windowStartNs, windowEndNs] = extent(items, stream, stepAnnotations, memoryNs);
  if (windowStartNs === Infinity) windowStartNs = windowEndNs = relNs(offsetNs, minNs);

  const counts = {
    steps: nSteps,
    dispatches: nD,
    kernels: stream.kernels,
    copies: nC,
    memcpys: stream.ids.length - stream.kernels,
    memory: nM,
    cpuSpans: nSpans,
  };
  return {
    record,
    meta,
    processName: options.processName ?? meta.adapter?.runtime ?? 'wgprof',
    traceName: options.traceName ?? `${meta.workerName}.pt.trace.json`,
    launchNames,
    hasGpu: meta.adapter !== undefined || stream.ids.length > 0,
    baseNs,
    windowStartNs,
    windowEndNs,
    steps: grid,
    stepExternalId,
    annotationExternalId,
    totals,
    peaks,
    gpuAnnotations: stepAnnotations,
    dispatchGpu,
    copyGpu,
    stream,
    hasSpanExternalId,
    spanExternalId,
    items,
    order,
    memoryOrder,
    memoryNs,
    provenance: provenanceOf(meta, launchNames, counts, adj, options.notes ?? []),
    deviceProperties: devicePropertiesOf(meta),
  };
}

/** The per-step totals of a plan, in step (start) order. */
export function planStepCosts(plan: TracePlan): StepCosts[] {
  const out: StepCosts[] = [];
  const withFlops = plan.meta.withFlops === true;
  for (let p = 0; p < plan.steps.count; p++) out.push(plan.totals.costs(p, plan.record.steps[plan.steps.recordIndex[p]!]!.number, withFlops));
  return out;
}

/** Per-step totals of a capture (one planning pass; see the file comment for what counts). */
export function stepCosts(record: CaptureRecord): StepCosts[] {
  return planStepCosts(planTrace(record));
}
