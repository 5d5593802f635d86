// Writing what a capture window or the frontend recorded: the CaptureRecord a window becomes (its
// collected records, the trace metadata, beforeExport), its trace and key-averages table, and what each
// failure costs, recorded in the stop() batch the export belongs to.

import type { CaptureRecord, CpuSpanRecord, StepRecord, TraceMeta } from '../capture/model.js';
import type { ProfilerConfig } from '../config/schema.js';
import type { WindowHandle } from '../instrument/instrumentation.js';
import { profilerOutFileName } from '../trace/files.js';
import type { LaunchNames } from '../trace/launch-names.js';
import type { StepCosts } from '../trace/plan.js';
import { WgprofError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import type { ExportQueue, StopBatch } from './exports.js';
import type { ExportedTrace, TraceOutput } from './output.js';

export interface CaptureWindow {
  startNs: number;
  stopNs?: number;
  steps: StepRecord[];
  /** Its place among the segments of a window the memory budget cut (0: the first); undefined: not cut. */
  segment?: number;
  /** The session's bounds when the window opened (start()'s overrides, else the config's). */
  delayIterations: number;
  maxIterations: number;
}

/** What the window exports need of the Profiler. */
export interface ExportContext {
  config: ProfilerConfig;
  output: TraceOutput;
  exports: ExportQueue;
  workerName: string;
  launchNames: LaunchNames;
  /** Write the key-averages table beside the worker trace. */
  table: boolean;
  /** Also log the table (vLLM prints it on rank 0 only). */
  printTable: boolean;
  meta(workerName: string, gpu: boolean): TraceMeta;
  beforeExport: ((record: CaptureRecord) => void | Promise<void>) | undefined;
  onCapture: ((record: CaptureRecord, costs: StepCosts[]) => void) | undefined;
}

/** A trace's name before it is chosen (a failure before the write names it so). */
export function tracePattern(config: ProfilerConfig, name: string): string {
  return `${name}.*.pt.trace.json${config.torch_profiler_use_gzip ? '.gz' : ''}`;
}

/** Writes a window's worker trace (and its table); resolves to the trace and its per-step costs, or undefined when it was not written. */
export async function exportWorkerWindow(
  ctx: ExportContext,
  batch: StopBatch,
  window: CaptureWindow,
  handle: WindowHandle | undefined,
  interrupted?: string,
): Promise<{ file: string; costs: StepCosts[] } | undefined> {
  const output = ctx.output;
  const dump = ctx.table;
  let record: CaptureRecord;
  let exported: ExportedTrace;
  try {
    const captured = handle ? await handle.collect() : undefined;
    for (const error of captured?.errors ?? []) ctx.exports.warned(batch, error);
    const meta = ctx.meta(ctx.workerName, true);
    meta.extra = { ...meta.extra, delay_iterations: window.delayIterations, max_iterations: window.maxIterations };
    if (window.segment !== undefined) meta.extra = { ...meta.extra, segment: window.segment };
    if (interrupted) meta.extra = { ...meta.extra, interrupted };
    if (captured) {
      meta.timestamps = captured.timestamps;
      if (captured.clock) meta.clock = captured.clock;
      meta.extra = { ...meta.extra, captureStats: { ...captured.stats } };
    }
    record = {
      meta,
      steps: window.steps,
      cpuSpans: [],
      dispatches: captured?.dispatches ?? [],
      copies: captured?.copies ?? [],
      memory: captured?.memory ?? [],
    };
    if (ctx.beforeExport) {
      try {
        await ctx.beforeExport(record);
      } catch (error) {
        ctx.exports.warned(
          batch,
          new WgprofError('BEFORE_EXPORT_FAILED', `beforeExport threw: ${errorMessage(error)}; the capture is written as it stands.`, { cause: error }),
        );
      }
    }
    exported = await output.exportTrace(record, {
      workerName: ctx.workerName,
      useGzip: ctx.config.torch_profiler_use_gzip,
      table: dump,
      launchNames: ctx.launchNames,
    });
  } catch (error) {
    ctx.exports.failed(batch, 'worker', tracePattern(ctx.config, ctx.workerName), error);
    return undefined;
  }
  ctx.exports.wrote(batch, exported.file, 'worker');
  try {
    ctx.onCapture?.(record, exported.steps);
  } catch (error) {
    ctx.exports.warned(batch, new WgprofError('CALLBACK_FAILED', `onCapture threw: ${errorMessage(error)}`, { cause: error }));
  }
  if (dump && exported.table !== undefined) {
    // vLLM prints the table on rank 0 only.
    if (ctx.printTable) log.info(`${ctx.workerName} key averages (sorted by self GPU time, or CPU time without GPU times):\n${exported.table}`);
    let name = `${exported.name}'s profiler_out.txt`;
    try {
      // Named after its trace, so every window keeps its own table.
      name = profilerOutFileName(exported.name);
      const tableFile = await output.writeKeyAverages(name, exported.table);
      if (tableFile !== undefined) ctx.exports.wrote(batch, tableFile, 'key_averages');
    } catch (error) {
      ctx.exports.failed(batch, 'key_averages', name, error);
    }
  }
  return { file: exported.file, costs: exported.steps };
}

export async function exportFrontendSpans(ctx: ExportContext, batch: StopBatch, spans: CpuSpanRecord[], name: string): Promise<void> {
  const output = ctx.output;
  const meta = ctx.meta(name, false);
  const record: CaptureRecord = { meta, steps: [], cpuSpans: spans, dispatches: [], copies: [], memory: [] };
  try {
    const exported = await output.exportTrace(record, {
      workerName: name,
      useGzip: ctx.config.torch_profiler_use_gzip,
      table: false,
      launchNames: ctx.launchNames,
    });
    ctx.exports.wrote(batch, exported.file, 'frontend');
  } catch (error) {
    ctx.exports.failed(batch, 'frontend', tracePattern(ctx.config, name), error);
  }
}
