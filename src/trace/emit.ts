// The emission pass: walks a TracePlan once, in file order, and hands each event to an EventWriter —
// the byte writer (./byte-writer.ts), and during an export also a consumer of the events that builds
// the key-averages table from the same pass (./export.ts). Names are raw here; writers sanitize them.

import type { CopyRecord, DispatchRecord } from '../capture/model.js';
import type { TraceEvent } from './kineto.js';
import { CUDA_LAUNCH, WEBGPU_CALL_ARG } from './launch-names.js';
import { MEMCPY_NAMES } from './plan-checks.js';
import { ItemKind } from './plan-host.js';
import { knownCost, type TracePlan } from './plan.js';

export { MEMCPY_NAMES } from './plan-checks.js';

/** `process_sort_index` of GPU n is n + kExceedMaxPid (Kineto output_base.h). */
const GPU_SORT_INDEX_BASE = 5_000_000;

/** The counter track Perfetto draws for allocated GPU memory (`ph: "C"`). */
export const MEMORY_COUNTER_NAME = 'GPU Memory Allocated';

export type ArgBag = Record<string, unknown>;

export interface OpOptions {
  pid: number;
  tid: number;
  withShapes: boolean;
  withFlops: boolean;
  withStack: boolean;
}

export interface ThreadIds {
  hostPid: number;
  hostTid: number;
  gpuPid: number;
  gpuTid: number;
}

/** What the emission pass calls. */
export interface EventWriter {
  meta(name: string, pid: number, tid: number, tsNs: number, key: string, value: string | number): void;
  complete(cat: string, name: string, pid: number, tid: number, tsNs: number, durNs: number, args: ArgBag): void;
  instant(cat: string | undefined, scope: 't' | 'g', name: string, pid: number | string, tid: number | string, tsNs: number, args: ArgBag | undefined): void;
  counter(cat: string, name: string, pid: number, tid: number, tsNs: number, args: ArgBag): void;
  flow(ph: 's' | 'f', id: number, pid: number, tid: number, tsNs: number): void;
  /** The hot path, one call per dispatch: the cpu_op (its args depend on `opts`). */
  cpuOp(d: DispatchRecord, tsNs: number, durNs: number, opts: OpOptions): void;
  /**
   * The launch, named `launchName` (the WebGPU call `d.launch`, or the CUDA call that stands for it, and
   * then `d.launch` goes into its args); with a GPU interval (`timed`) also the ac2g flow and the kernel.
   */
  dispatchLaunch(
    d: DispatchRecord,
    launchName: string,
    tsNs: number,
    durNs: number,
    timed: boolean,
    gpuStartNs: number,
    gpuDurNs: number,
    ids: ThreadIds,
  ): void;
}

/** Takes the events of an emission as parsed-trace objects (what JSON.parse of the written bytes gives, as far as a reader of X events needs). */
export interface TraceEventConsumer {
  add(event: TraceEvent): void;
}

/** cpu_op args in Kineto-ish order: External id, shapes (record_shapes), cost (with_flops), stack (with_stack). */
export function opArgs(d: DispatchRecord, opts: OpOptions): ArgBag {
  const args: ArgBag = { 'External id': d.externalId, ...d.args };
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

/** Args of a launch: its links, and the WebGPU call when the launch is named after a CUDA call. */
export function launchArgs(externalId: number, correlation: number, launchName: string, webgpuCall: string): ArgBag {
  const args: ArgBag = { 'External id': externalId, correlation };
  if (launchName !== webgpuCall) args[WEBGPU_CALL_ARG] = webgpuCall;
  return args;
}

/**
 * The op wgprof opens around a copy's launch (the caller opened none, see planCopies): named after the
 * WebGPU call, under `wgprof::` because wgprof made it, as torch names its copy op `aten::copy_`. Its
 * name differs from the launch's under either launch naming, so key averages keep op and launch apart.
 */
export function copyOpName(c: CopyRecord): string {
  return `wgprof::${c.launch}`;
}

/** Kineto renames a kernel literally called "kernel" (legacy tools key on it). */
export function kernelName(d: DispatchRecord): string {
  return d.kernel === 'kernel' ? 'Kernel' : d.kernel;
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/**
 * The emission pass as a resumable loop: run() writes events until `full()` says the writer holds
 * enough, and returns true once everything (tail included) is written. A plain method, not a
 * generator, so that V8 optimizes it between chunks of the first export.
 */
export class Emission {
  private next = 0;
  private nextMemory = 0;
  private readonly withFlops: boolean;
  private readonly withMemory: boolean;
  private readonly opOptions: OpOptions;
  private readonly ids: ThreadIds;
  private readonly cudaNames: boolean;

  constructor(
    private readonly plan: TracePlan,
    private readonly w: EventWriter,
  ) {
    const meta = plan.meta;
    this.withFlops = meta.withFlops === true;
    this.withMemory = meta.withMemory === true;
    this.opOptions = { pid: meta.pid, tid: meta.tid, withShapes: meta.recordShapes === true, withFlops: this.withFlops, withStack: meta.withStack === true };
    this.ids = { hostPid: meta.pid, hostTid: meta.tid, gpuPid: meta.deviceIndex, gpuTid: meta.streamId };
    this.cudaNames = plan.launchNames === 'cuda';
  }

  /** Metadata rows (Kineto handleDeviceInfo / handleResourceInfo), at the capture start. */
  head(): void {
    const { plan, w } = this;
    const { hostPid, hostTid, gpuPid, gpuTid } = this.ids;
    const t0 = plan.windowStartNs;
    w.meta('process_name', hostPid, 0, t0, 'name', plan.processName);
    w.meta('process_labels', hostPid, 0, t0, 'labels', 'CPU');
    w.meta('process_sort_index', hostPid, 0, t0, 'sort_index', hostPid);
    if (plan.hasGpu) {
      w.meta('process_name', gpuPid, 0, t0, 'name', plan.processName);
      w.meta('process_labels', gpuPid, 0, t0, 'labels', `GPU ${gpuPid}`);
      w.meta('process_sort_index', gpuPid, 0, t0, 'sort_index', gpuPid + GPU_SORT_INDEX_BASE);
    }
    w.meta('thread_name', hostPid, hostTid, t0, 'name', `thread ${hostTid} (${plan.processName})`);
    w.meta('thread_sort_index', hostPid, hostTid, t0, 'sort_index', hostTid);
    if (plan.hasGpu) {
      w.meta('thread_name', gpuPid, gpuTid, t0, 'name', `stream ${gpuTid} `);
      w.meta('thread_sort_index', gpuPid, gpuTid, t0, 'sort_index', gpuTid);
    }
  }

  /** Writes events until `full()` (checked after each host item) or the end; true once all is written. */
  run(full: () => boolean): boolean {
    const { plan, w } = this;
    const { order, items, dispatchGpu } = plan;
    const dispatches = plan.record.dispatches;
    while (this.next < order.length) {
      const x = order[this.next++]!;
      const s = items.startNs[x]!;
      const dur = items.endNs[x]! - s;
      if (this.withMemory) this.memoryUntil(s);
      const i = items.source[x]!;
      const kind = items.kind[x];
      if (kind === ItemKind.op) w.cpuOp(dispatches[i]!, s, dur, this.opOptions);
      else if (kind === ItemKind.launch) {
        const timed = dispatchGpu.timed[i] === 1;
        const d = dispatches[i]!;
        w.dispatchLaunch(
          d,
          this.cudaNames ? CUDA_LAUNCH.dispatch : d.launch,
          s,
          dur,
          timed,
          dispatchGpu.startNs[i]!,
          timed ? dispatchGpu.durationNs(i) : 0,
          this.ids,
        );
      } else this.other(kind!, i, s, dur);
      if (full()) return false;
    }
    if (this.withMemory) this.memoryUntil(Infinity);
    this.gpuStepAnnotations();
    w.instant(undefined, 'g', 'Record Window End', '', '', plan.windowEndNs, undefined);
    return true;
  }

  /**
   * Each step's gpu_user_annotation, after every host event, as Kineto writes GPU annotations (they
   * come from the GPU buffers, after the CPU ops). HTA reads them as CPU events (they carry no
   * `stream` arg) and critical_path_analysis(annotation='ProfilerStep', instance_id=k) takes the k-th
   * event named ProfilerStep in file order: written right after each host step, they shifted every
   * instance k > 0 onto a GPU annotation's window, where no op starts (issue 8).
   */
  private gpuStepAnnotations(): void {
    const { plan, w } = this;
    const { gpuPid, gpuTid } = this.ids;
    const ga = plan.gpuAnnotations;
    for (let p = 0; p < plan.steps.count; p++) {
      if (!ga.drawn[p]) continue;
      const step = plan.record.steps[plan.steps.recordIndex[p]!]!;
      w.complete('gpu_user_annotation', `ProfilerStep#${step.number}`, gpuPid, gpuTid, ga.startNs[p]!, ga.endNs[p]! - ga.startNs[p]!, {
        'External id': plan.stepExternalId[p],
      });
    }
  }

  /** Steps, annotations, CPU spans and copies (the items that are not one per dispatch). */
  private other(kind: number, i: number, s: number, dur: number): void {
    const { plan, w } = this;
    const { hostPid, hostTid, gpuPid, gpuTid } = this.ids;
    switch (kind) {
      case ItemKind.step: {
        const step = plan.record.steps[plan.steps.recordIndex[i]!]!;
        const totals = plan.totals;
        const args: ArgBag = {
          'External id': plan.stepExternalId[i],
          'Record function id': 0,
          kernels: totals.dispatches[i],
          gpu_time_us: totals.gpuTimeNs[i]! / 1000,
        };
        if (this.withFlops && totals.estimatedDispatches[i]! > 0) {
          args['flops'] = totals.flops[i];
          args['bytes'] = totals.bytesRead[i]! + totals.bytesWritten[i]!;
          const rateNs = totals.rateGpuNs[i]!;
          if (rateNs > 0) {
            // flops per ns = GFLOP/s; bytes per ns = GB/s (achieved, over kernels both estimated and timed).
            args['achieved_gflop_per_s'] = round6(totals.rateFlops[i]! / rateNs);
            args['achieved_gb_per_s'] = round6(totals.rateBytes[i]! / rateNs);
          }
        }
        if (this.withMemory && plan.peaks.known[i]) args['peak_allocated_bytes'] = plan.peaks.bytes[i];
        w.complete('user_annotation', `ProfilerStep#${step.number}`, hostPid, hostTid, s, dur, args);
        const level = step.allocatedBytesAtStart;
        if (this.withMemory && level !== undefined && Number.isFinite(level)) w.counter('gpu_memory', MEMORY_COUNTER_NAME, gpuPid, gpuTid, s, { bytes: level });
        break;
      }
      case ItemKind.annotation:
        w.complete('user_annotation', plan.record.steps[plan.steps.recordIndex[i]!]!.annotation ?? '', hostPid, hostTid, s, dur, {
          'External id': plan.annotationExternalId[i],
          'Record function id': 0,
        });
        break;
      case ItemKind.span: {
        const span = plan.record.cpuSpans[i]!;
        const args: ArgBag = plan.hasSpanExternalId[i] ? { 'External id': plan.spanExternalId[i] } : {};
        if (span.args) for (const key of Object.keys(span.args)) args[key] = span.args[key];
        w.complete(span.cat, span.name, hostPid, hostTid, s, dur, args);
        break;
      }
      case ItemKind.copyOp: {
        const c = plan.record.copies[i]!;
        w.complete('cpu_op', copyOpName(c), hostPid, hostTid, s, dur, { 'External id': c.externalId });
        break;
      }
      case ItemKind.copy: {
        const c = plan.record.copies[i]!;
        const name = this.cudaNames ? CUDA_LAUNCH.copy : c.launch;
        w.complete('cuda_runtime', name, hostPid, hostTid, s, dur, launchArgs(c.externalId, c.correlation, name, c.launch));
        const gpu = plan.copyGpu;
        if (gpu.timed[i]) {
          const gs = gpu.startNs[i]!;
          w.flow('s', c.correlation, hostPid, hostTid, s);
          const gdur = gpu.durationNs(i);
          const args: ArgBag = { 'External id': c.externalId, device: gpuPid, stream: gpuTid, correlation: c.correlation, bytes: c.bytes };
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
    const { plan, w } = this;
    const { hostPid, hostTid, gpuPid, gpuTid } = this.ids;
    const { memoryOrder, memoryNs } = plan;
    const memory = plan.record.memory;
    while (this.nextMemory < memoryOrder.length && memoryNs[memoryOrder[this.nextMemory]!]! <= t) {
      const i = memoryOrder[this.nextMemory++]!;
      const r = memory[i]!;
      const ts = memoryNs[i]!;
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

/** Sends every event to two writers (an export: the byte writer and the table's consumer). */
export class TeeWriter implements EventWriter {
  constructor(
    private readonly a: EventWriter,
    private readonly b: EventWriter,
  ) {}
  meta(name: string, pid: number, tid: number, tsNs: number, key: string, value: string | number): void {
    this.a.meta(name, pid, tid, tsNs, key, value);
    this.b.meta(name, pid, tid, tsNs, key, value);
  }
  complete(cat: string, name: string, pid: number, tid: number, tsNs: number, durNs: number, args: ArgBag): void {
    this.a.complete(cat, name, pid, tid, tsNs, durNs, args);
    this.b.complete(cat, name, pid, tid, tsNs, durNs, args);
  }
  instant(cat: string | undefined, scope: 't' | 'g', name: string, pid: number | string, tid: number | string, tsNs: number, args: ArgBag | undefined): void {
    this.a.instant(cat, scope, name, pid, tid, tsNs, args);
    this.b.instant(cat, scope, name, pid, tid, tsNs, args);
  }
  counter(cat: string, name: string, pid: number, tid: number, tsNs: number, args: ArgBag): void {
    this.a.counter(cat, name, pid, tid, tsNs, args);
    this.b.counter(cat, name, pid, tid, tsNs, args);
  }
  flow(ph: 's' | 'f', id: number, pid: number, tid: number, tsNs: number): void {
    this.a.flow(ph, id, pid, tid, tsNs);
    this.b.flow(ph, id, pid, tid, tsNs);
  }
  cpuOp(d: DispatchRecord, tsNs: number, durNs: number, opts: OpOptions): void {
    this.a.cpuOp(d, tsNs, durNs, opts);
    this.b.cpuOp(d, tsNs, durNs, opts);
  }
  dispatchLaunch(
    d: DispatchRecord,
    launchName: string,
    tsNs: number,
    durNs: number,
    timed: boolean,
    gpuStartNs: number,
    gpuDurNs: number,
    ids: ThreadIds,
  ): void {
    this.a.dispatchLaunch(d, launchName, tsNs, durNs, timed, gpuStartNs, gpuDurNs, ids);
    this.b.dispatchLaunch(d, launchName, tsNs, durNs, timed, gpuStartNs, gpuDurNs, ids);
  }
}
