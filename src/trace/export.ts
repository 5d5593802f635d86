// The export of one capture, in one pass: the record is planned once; the emission pass feeds the byte
// writer (→ gzip → sink, ./write.ts) and, at the same time, a consumer of the events (the profiler's
// key-averages accumulator), so the profiler_out table is computed from exactly the events written,
// without building the trace in memory or reading it back; the per-step totals come from the same plan.

import type { CaptureRecord, DispatchRecord } from '../capture/model.js';
import { kernelName, launchArgs, opArgs, type ArgBag, type EventWriter, type OpOptions, type ThreadIds, type TraceEventConsumer } from './emit.js';
import { sanitizeEventName } from './json.js';
import type { TraceArgs } from './kineto.js';
import { planStepCosts, planTrace, type StepCosts } from './plan.js';
import { writePlan, type WriteTraceOptions, type WrittenTrace } from './write.js';

export type { TraceEventConsumer } from './emit.js';

export interface ExportOptions extends WriteTraceOptions {
  /**
   * Receives every complete (`X`) event as it is written, as JSON.parse of the file would give it, with
   * the args a reader of op/launch/kernel links needs (External id, correlation, flops, bytes; no
   * shapes or stacks). Other phases (metadata, instants, counters, flows) are not passed.
   */
  events?: TraceEventConsumer;
}

export interface ExportResult {
  trace: WrittenTrace;
  /** Per-step totals (the same figures the trace's ProfilerStep args carry), in step order. */
  steps: StepCosts[];
}

/** Hands the emission's complete events to a consumer as trace-event objects. */
class CompleteEvents implements EventWriter {
  constructor(private readonly consumer: TraceEventConsumer) {}
  meta(): void {}
  instant(): void {}
  counter(): void {}
  flow(): void {}
  complete(cat: string, name: string, pid: number, tid: number, tsNs: number, durNs: number, args: ArgBag): void {
    this.consumer.add({ ph: 'X', cat, name: sanitizeEventName(name), pid, tid, ts: tsNs / 1000, dur: durNs / 1000, args: args as TraceArgs });
  }
  cpuOp(d: DispatchRecord, tsNs: number, durNs: number, opts: OpOptions): void {
    this.complete('cpu_op', d.opName ?? d.kernel, opts.pid, opts.tid, tsNs, durNs, opArgs(d, { ...opts, withShapes: false, withStack: false }));
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
    this.complete('cuda_runtime', launchName, ids.hostPid, ids.hostTid, tsNs, durNs, launchArgs(d.externalId, d.correlation, launchName, d.launch));
    if (!timed) return;
    this.complete('kernel', kernelName(d), ids.gpuPid, ids.gpuTid, gpuStartNs, gpuDurNs, {
      'External id': d.externalId,
      device: ids.gpuPid,
      stream: ids.gpuTid,
      correlation: d.correlation,
      ...d.args,
    });
  }
}

/**
 * Writes one capture as `{worker}.{time_ns}.pt.trace.json[.gz]` (atomically; see writeTrace) and
 * returns the file and the per-step totals; `events`, when given, sees every complete event on the way.
 */
export async function exportCapture(record: CaptureRecord, options: ExportOptions): Promise<ExportResult> {
  const plan = planTrace(record, options);
  const trace = await writePlan(plan, options, options.events ? new CompleteEvents(options.events) : undefined);
  return { trace, steps: planStepCosts(plan) };
}
