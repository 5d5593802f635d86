// The Profiler: vLLM's worker profiler + AsyncLLM frontend profiler for any WebGPU workload, driven
// by a ProfilerConfig. It implements EngineProfilerHooks, so the engine calls it; other code calls
// attach/start/step/stop itself (an iteration is whatever the caller brackets with step()).
//
// Modes (config.profiler):
// - 'torch': in-process capture. The WorkerProfiler state machine (delay/max, and vLLM main's
//   torch.profiler.schedule: wait/warmup/active) opens and closes the capture window of an
//   Instrumentation attached to the device; each recorded iteration is a `ProfilerStep#N` step. On
//   stop (explicit, the auto-stop inside the (max+1)-th step(), or the schedule's end) the window is
//   detached from the loop at once (instrumentation no longer capturing) and exported
//   asynchronously: flush (readbacks, clock fit) → CaptureRecord → `{worker}.{time_ns}.pt.trace.json[.gz]`
//   and, with dump_cuda_time_total, its key-averages table `{worker}.{time_ns}.profiler_out.txt`
//   (the trace's name: every window keeps its own table). The engine keeps stepping meanwhile.
//   The frontend profiler (vLLM's should_profile_frontend: not ignore_frontend, 'CPU' among the
//   activities) records frontendSpan()s from start() to stop(), whatever the delay/max/schedule,
//   into `{host}_{pid}.async_llm.{time_ns}.pt.trace.json[.gz]`.
// - 'cuda': an external capture range (see cuda-range.ts): same window logic (no schedule: vLLM's
//   CudaProfilerWrapper has none), marked with User Timing and debug groups; no file.
// - null: every hook is a no-op.
//
// Schedule (warmup_iterations or wait_iterations > 0, 'torch' only): WAIT iterations capture nothing;
// WARMUP iterations capture into a window that is then dropped (pipeline compilation, first-use
// allocations and query-set pools are paid there, not in the recorded iterations); RECORD
// iterations are captured and written when the `active_iterations` end (stop reason 'schedule').
// Only recorded iterations get a ProfilerStep and their annotation (vLLM's should_annotate).
//
// torch_profiler_activities (null = both): without 'CUDA' no GPU timing (Instrumentation
// `timestamps: false`: no kernel events, the trace says why); without 'CPU' no frontend trace and no
// JS stacks (torch records stacks on CPU ops only). The worker trace keeps its host-side op and
// launch events either way: on WebGPU they are what ties a kernel to its op and step. ['CPU'] alone
// writes the key-averages table sorted by self CPU time even without dump_cuda_time_total (vLLM's
// dump_cpu_time_total).
//
// Each window is the instrumentation's own (Instrumentation.endWindow()): what happens after a stop
// (a restart while the export is still queued) is never mixed into the stopped window's trace.
//
// ProfilerStep numbering: N = the iteration's index counted by the profiler since start() (1-based:
// the first step() after start() is iteration 1). delay D, max M therefore gives ProfilerStep#D ..
// #(D+M-1) (delay 0 counts like delay 1), e.g. delay 2, max 3 → #2, #3, #4 = the 2nd..4th iteration
// after start. With a schedule the schedule starts where capture would (schedule step 0 is start()
// itself, or the D-th step()), so the recorded steps are #(d+W+U-1) .. #(d+W+U+A-2) with d = max(D, 1),
// e.g. warmup 2, active 3 → #2, #3, #4. A step spans step() → endIteration(); the annotation
// (user_annotation) spans beginIteration() → endIteration().
//
// stop() contract: it resolves to exactly the files of the windows it ended, i.e. those stopped since
// the previous stop() call (auto-stops included), even when a new window was started before the
// previous stop() settled. When a file of those windows could not be written (or a window could not
// be captured at all), stop() rejects with a ProfilerExportError listing each failure (file, code,
// cause, fallback) and the files that were written. A failure inside step() (the auto-stop's export,
// a delayed start) is never thrown into the engine loop: it is logged and reported by the next
// stop(). Other failures (a readback, a hook, a callback) cost no file: they are logged with
// log.warn; `strict` rethrows them from the hooks (except the auto-stop and shutdown, as vLLM) and
// makes stop() reject on them too (code PROFILER_FAILED).

import { parseProfilerConfig } from '../config/parse.js';
import { PROFILER_CONFIG_KEYS, shouldProfileFrontend, type ProfilerConfig } from '../config/schema.js';
import type { AdapterFacts } from '../gpu/device.js';
import { Instrumentation, type InstrumentationOptions, type WindowHandle } from '../instrument/instrumentation.js';
import type { StepRecord, TraceMeta } from '../capture/model.js';
import type { StepCosts } from '../trace/plan.js';
import { launchNamesFromEnv, parseLaunchNames, type LaunchNames } from '../trace/launch-names.js';
import { WgprofError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { monotonicNowNs } from '../util/runtime.js';
import { WGPROF_VERSION } from '../version.js';
import { CudaRangeMarker, type RangeEdge, type UserTiming } from './cuda-range.js';
import { FrontendProfiler, type SpanArgs } from './frontend.js';
import { ProfilerExportError } from './failures.js';
import { ExportQueue } from './exports.js';
import { exportFrontendSpans, exportWorkerWindow, tracePattern, type CaptureWindow, type ExportContext } from './window-export.js';
import { factsFromDevice, hostName, hostPid, randomHex, timeOriginEpochNs } from './host.js';
import { DEFAULT_MEMORY_BUDGET_BYTES, checkInteger, checkProfilerOptions, type CaptureSource, type ProfilerOptions } from './options.js';
import { noProfiler, type EngineProfilerHooks, type ProfileStartOptions, type ProfileStopOptions } from './hooks.js';
import { defaultTraceOutput, type TraceOutput } from './output.js';
import { WorkerProfiler, type CaptureStopReason } from './worker-profiler.js';

export type { CaptureSource, ProfilerOptions } from './options.js';
export { DEFAULT_MEMORY_BUDGET_BYTES } from './options.js';
export type { TraceKind } from './failures.js';
export { factsFromDevice, hostName, hostPid } from './host.js';

export class Profiler implements EngineProfilerHooks {
  readonly config: Readonly<ProfilerConfig>;
  readonly workerName: string;
  readonly rank: number;
  readonly worldSize: number;
  readonly strict: boolean;

  private readonly options: ProfilerOptions;
  /** How launches are named in the traces ('torch' mode). */
  private launchNames: LaunchNames = 'webgpu';
  private readonly nowNs: () => number;
  private readonly worker: WorkerProfiler | undefined;
  private readonly frontend: FrontendProfiler | undefined;
  private readonly range: CudaRangeMarker | undefined;
  private readonly output: TraceOutput | undefined;

  /** The last worker trace written and its per-step costs (undefined before the first); the capture itself is not kept. */
  lastCapture: { file: string; costs: StepCosts[] } | undefined;

  private device: GPUDevice | undefined;
  private facts: AdapterFacts | undefined;
  private source: CaptureSource | undefined;
  /** The capture source being created asynchronously by attach(). */
  private sourceReady: Promise<void> | undefined;
  private window: CaptureWindow | undefined;
  private openStep: StepRecord | undefined;
  private stepNumber = 0;

  /** A warmup window is open (schedule): its records are dropped. */
  private warmingUp = false;
  private readonly memoryBudgetBytes: number;
  private budgetWarned = false;
  /** torch_profiler_activities: host-side (CPU) and GPU (CUDA) recording. */
  private readonly cpuActivity: boolean;
  private readonly gpuActivity: boolean;

  private readonly exports: ExportQueue;
  /** The signal passed to the stop() in progress, for the window it exports. */
  private interrupted: string | undefined;

  constructor(config: ProfilerConfig, options: ProfilerOptions = {}) {
    if (config === null || typeof config !== 'object') {
      throw new WgprofError(
        'INVALID_PROFILER_CONFIG',
        `new Profiler(config) expects a parsed ProfilerConfig; got ${config === null ? 'null' : typeof config}. Pass parseProfilerConfig(yourJson).`,
      );
    }
    // A vLLM-shaped object that was not parsed (keys missing, lax values) is parsed here, as createEngine does.
    if (PROFILER_CONFIG_KEYS.some((key) => !(key in config))) config = parseProfilerConfig(config);
    checkProfilerOptions(options);
    this.memoryBudgetBytes = options.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES;
    this.config = Object.freeze({ ...config });
    this.options = options;
    this.rank = options.rank ?? 0;
    this.worldSize = options.worldSize ?? 1;
    this.strict = options.strict ?? false;
    this.workerName = options.workerName ?? `${randomHex(5)}-rank-${this.rank}`;
    this.exports = new ExportQueue(this.workerName, (file, kind) => options.onTraceWritten?.(file, kind));
    this.nowNs = options.nowNs ?? monotonicNowNs;
    const activities = config.torch_profiler_activities ?? ['CPU', 'CUDA'];
    this.cpuActivity = activities.includes('CPU');
    this.gpuActivity = activities.includes('CUDA');
    if (config.profiler === null) return;
    this.worker = new WorkerProfiler(
      {
        startCapture: () => this.startCapture(),
        stopCapture: (reason) => this.stopCapture(reason),
        startWarmup: () => this.startWarmup(),
        cancelWarmup: () => this.discardWarmup(),
      },
      {
        delayIterations: config.delay_iterations,
        maxIterations: config.max_iterations,
        // vLLM runs torch.profiler.schedule in its TorchProfilerWrapper only.
        ...(config.profiler === 'torch'
          ? { warmupIterations: config.warmup_iterations, activeIterations: config.active_iterations, waitIterations: config.wait_iterations }
          : {}),
        strict: this.strict,
        label: this.workerName,
      },
    );
    if (config.profiler === 'cuda') {
      const rangeOptions: { performance?: UserTiming; onRange?: (edge: RangeEdge) => void } = {};
      if (options.performance) rangeOptions.performance = options.performance;
      if (options.onRange) rangeOptions.onRange = options.onRange;
      this.range = new CudaRangeMarker(rangeOptions);
    } else {
      this.output = options.output ?? defaultTraceOutput(config, options.sink);
      // Decided here, so a server started with WGPROF_LAUNCH_NAMES=cuda needs no config change.
      this.launchNames = options.launchNames !== undefined ? parseLaunchNames(options.launchNames, 'ProfilerOptions.launchNames') : launchNamesFromEnv();
      if (shouldProfileFrontend(config)) this.frontend = new FrontendProfiler({ nowNs: this.nowNs });
    }
  }

  /**
   * Resolves once the instrumentation is attached and its GPU timing mode settled. Needed only for a
   * device created without "timestamp-query" but with inside-pass timestamps (as onnxruntime-web JSEP
   * creates it): its timestamp query sets are probed first, and dispatches captured before the probe
   * settles have no GPU times.
   */
  async ready(): Promise<void> {
    await this.sourceReady;
    await this.source?.ready?.();
  }

  /** Whether a start was requested and not yet ended (vLLM `_active`). */
  get active(): boolean {
    return this.worker?.active ?? false;
  }

  /** Whether the profiler is on (vLLM `_running`); with a schedule it may be waiting or warming up (see recording). */
  get running(): boolean {
    return this.worker?.running ?? false;
  }

  /** Whether the iteration begun by the last step() is recorded (running, and in the schedule's RECORD phase if any). */
  get recording(): boolean {
    return this.worker?.recording ?? false;
  }

  /** Whether the frontend profiler records now. */
  get frontendRunning(): boolean {
    return this.frontend?.running ?? false;
  }

  // ---- EngineProfilerHooks ----------------------------------------------------------------------

  attach(device: GPUDevice, facts?: AdapterFacts): void {
    if (!this.worker) return;
    this.guard('attach', () => {
      if (this.device === device) return;
      if (this.device) this.detach();
      this.device = device;
      this.facts = facts ?? this.options.adapterFacts ?? factsFromDevice(device);
      if (this.range) {
        this.range.attach(device);
        return;
      }
      const instrumentOptions: InstrumentationOptions = {
        ...this.options.instrumentation,
        ...(this.gpuActivity ? {} : { timestamps: false }),
        withStack: this.withStack,
        recordShapes: this.config.torch_profiler_record_shapes,
        withMemory: this.config.torch_profiler_with_memory,
        withFlops: this.config.torch_profiler_with_flops,
      };
      const create = this.options.createCaptureSource;
      if (create) {
        const made = create(instrumentOptions);
        if (made instanceof Promise) this.sourceReady = made.then((source) => this.useSource(device, source));
        else this.useSource(device, made);
      } else {
        this.useSource(device, new Instrumentation(instrumentOptions));
      }
    });
  }

  detach(): void {
    if (!this.worker) return;
    this.guard('detach', () => {
      // A window still open is exported with what it has (vLLM's shutdown()).
      this.worker?.shutdown();
      this.range?.detach();
      this.source?.detach();
      this.source = undefined;
      this.device = undefined;
    });
  }

  /**
   * `/start_profile`. `delayIterations` / `maxIterations` bound this session only (vLLM main's
   * per-call overrides; the next start() uses the config's). Throws INVALID_OPTION for a bad bound
   * and, in 'torch' mode, NOT_ATTACHED when no device is attached (nothing could be captured): call
   * attach(device) first. Both are the caller's mistake, thrown at once whatever `strict` says; the
   * engine attaches its device when it is created. A duplicate start while active is ignored (vLLM).
   */
  start(options: ProfileStartOptions = {}): void {
    const worker = this.worker;
    if (!worker) return;
    const { delayIterations, maxIterations } = options;
    checkInteger('profiler.start({ delayIterations })', delayIterations, 0, ' (0 = start at once)');
    checkInteger('profiler.start({ maxIterations })', maxIterations, 0, ' (0 = no limit)');
    if (!this.range && !this.device && !worker.active) {
      throw new WgprofError(
        'NOT_ATTACHED',
        `${this.workerName}: start() with no device attached: there is nothing to capture. Call profiler.attach(device) before start() (createEngine ` +
          `does this for its device).`,
      );
    }
    if (this.frontend?.start()) log.debug(`${this.workerName}: frontend profiler started.`);
    const { failures, errors } = this.exports.batch;
    const [failureCount, errorCount] = [failures.length, errors.length];
    try {
      worker.start(delayIterations, maxIterations);
    } catch (error) {
      // strict only: the failed start is thrown to the caller here, so the next stop() does not report
      // it again, and nothing of it is left running.
      failures.splice(failureCount);
      errors.splice(errorCount);
      this.frontend?.stop();
      throw error;
    }
  }

  step(): void {
    const worker = this.worker;
    if (!worker?.active) return;
    // A step left open (no endIteration) ends where the next one begins, as torch's ProfilerStep does.
    if (this.openStep) this.closeStep(this.nowNs());
    worker.step();
    // Waiting and warmup iterations get no ProfilerStep (torch adds them for recorded steps only).
    if (!worker.recording) return;
    this.stepNumber = worker.activeIterationCount;
    if (this.window && this.window.steps.length > 0) this.guard('step', () => this.segmentIfOverBudget());
    if (this.range) {
      this.range.beginStep(this.stepNumber);
      return;
    }
    this.openStep = { number: this.stepNumber, startNs: this.nowNs(), endNs: 0 };
    if (this.config.torch_profiler_with_memory) {
      const step = this.openStep;
      this.guard('step', () => {
        this.source?.markStep();
        const level = this.source?.allocatedBytes;
        if (level !== undefined) step.allocatedBytesAtStart = level;
      });
    }
  }

  beginIteration(annotation: string): void {
    // vLLM's should_annotate: only the iterations being recorded.
    if (!this.worker?.shouldAnnotate) return;
    if (this.range) {
      this.range.beginIteration(annotation);
      return;
    }
    const step = this.openStep;
    if (!step) return;
    step.annotation = annotation;
    step.annotationStartNs = this.nowNs();
  }

  endIteration(): void {
    if (this.range) {
      this.range.endIteration();
      return;
    }
    if (this.openStep) this.closeStep(this.nowNs());
  }

  frontendSpan<T>(name: string, fn: () => T, args?: Record<string, string | number>): T {
    const frontend = this.frontend;
    if (!frontend?.running) return fn();
    return frontend.span(name, fn, args as SpanArgs | undefined);
  }

  /**
   * `/stop_profile`: stops the window (a duplicate or a stop during the delay writes nothing), waits
   * for the exports of every window ended since the previous stop() call, and resolves to their
   * files. Rejects with a ProfilerExportError when one of those files could not be written (its
   * `files` are the ones that were), or, with `strict`, after any failure while profiling.
   */
  async stop(options: ProfileStopOptions = {}): Promise<string[]> {
    if (!this.worker) return [];
    this.interrupted = options.interrupted;
    try {
      this.worker.stop();
    } catch {
      // strict only: a failing stopCapture, which recorded its failure in this batch already (driverFailed).
    } finally {
      this.interrupted = undefined;
    }
    const spans = this.frontend?.stop();
    if (spans) {
      const name = this.options.frontendName ?? `${hostName()}_${hostPid()}.async_llm`;
      this.exports.enqueue((batch) => exportFrontendSpans(this.exportContext(), batch, spans, name));
    }
    // From here on, what a new window produces is the next stop()'s.
    const batch = this.exports.takeBatch();
    while (batch.pending.size > 0) await Promise.all([...batch.pending]);
    if (batch.failures.length > 0 || (this.strict && batch.errors.length > 0)) {
      throw new ProfilerExportError(batch.files, batch.failures, this.strict ? batch.errors : []);
    }
    return batch.files;
  }

  /** Resolves once every export queued so far has finished (files are reported by the next stop()). */
  async flushed(): Promise<void> {
    await this.exports.settled();
  }

  // ---- window driver (called by the WorkerProfiler) ----------------------------------------------

  private startCapture(): void {
    try {
      if (this.range) {
        this.range.startRange();
        return;
      }
      const source = this.requireSource();
      // After a warmup: its window is dropped, recording starts in a fresh one.
      this.discardWarmup();
      source.setCapturing(true);
      this.window = { startNs: this.nowNs(), steps: [], delayIterations: this.worker!.delayIterations, maxIterations: this.worker!.maxIterations };
    } catch (error) {
      this.driverFailed(error);
      throw error;
    }
  }

  /**
   * At a step boundary: when the open window holds more than the memory budget, it is written as one
   * segment and capture goes on in a fresh window (see ProfilerOptions.memoryBudgetBytes).
   */
  private segmentIfOverBudget(): void {
    const source = this.source;
    const window = this.window;
    const bytes = source?.capturedBytes;
    if (!source || !window || bytes === undefined || bytes < this.memoryBudgetBytes) return;
    window.segment ??= 0;
    const mib = (n: number): string => `${(n / 1048576).toFixed(0)} MiB`;
    if (window.maxIterations === 0 && !this.budgetWarned) {
      this.budgetWarned = true;
      log.warn(
        `${this.workerName}: the capture window (max_iterations 0: no limit) holds ~${mib(bytes)} after ${window.steps.length} iteration(s), ` +
          `past its memory budget of ${mib(this.memoryBudgetBytes)}: it is written in segments, one trace file each (join them with wgprof merge). ` +
          'Set max_iterations, or the Profiler option memoryBudgetBytes.',
      );
    } else log.info(`${this.workerName}: window segment ${window.segment} written at ~${mib(bytes)} (memory budget ${mib(this.memoryBudgetBytes)}).`);
    const nowNs = this.nowNs();
    const handle = source.endWindow();
    window.stopNs = nowNs;
    this.exportWindow(window, handle);
    // The next segment's window exists even if capture cannot reopen (the failure is reported): its steps still reach a trace.
    this.window = { startNs: nowNs, steps: [], segment: window.segment + 1, delayIterations: window.delayIterations, maxIterations: window.maxIterations };
    source.setCapturing(true);
  }

  /** Schedule WARMUP: capture as when recording (one-time costs are paid now), into a window that is dropped. */
  private startWarmup(): void {
    try {
      this.requireSource().setCapturing(true);
      this.warmingUp = true;
    } catch (error) {
      this.driverFailed(error);
      throw error;
    }
  }

  /** Closes the warmup window and drops its records (collected, so its readbacks are released). */
  private discardWarmup(): void {
    if (!this.warmingUp) return;
    this.warmingUp = false;
    const handle = this.source?.endWindow();
    if (!handle) return;
    this.exports.enqueue(async () => {
      try {
        await handle.collect();
      } catch (error) {
        // Only records that were to be thrown away are lost.
        log.debug(`${this.workerName}: collecting the discarded warmup window failed: ${errorMessage(error)}`);
      }
    });
  }

  private requireSource(): CaptureSource {
    if (this.source) return this.source;
    throw new WgprofError(
      'NOT_ATTACHED',
      this.sourceReady
        ? `${this.workerName}: the instrumentation is still being created; await profiler.ready() after attach(device), then start().`
        : `${this.workerName}: the profiler has no device (detached?): call attach(device) before start() (createEngine does this for its device).`,
    );
  }

  private stopCapture(reason: CaptureStopReason): void {
    try {
      if (this.range) {
        this.range.stopRange();
        return;
      }
      const stopNs = this.nowNs();
      if (this.openStep) this.closeStep(stopNs);
      const handle = this.source?.endWindow();
      const window = this.window;
      this.window = undefined;
      if (!window) return;
      window.stopNs = stopNs;
      log.debug(`${this.workerName}: capture stopped (${reason}); exporting ${window.steps.length} step(s).`);
      // Off the hot path: the step() that fired the auto-stop returns now; the export runs in later ticks.
      this.exportWindow(window, handle);
    } catch (error) {
      this.driverFailed(error);
      throw error;
    }
  }

  /**
   * A window that could not be opened or closed: in 'torch' mode its worker trace is lost; in 'cuda'
   * mode no file is. Recorded for the next stop() (the machine logs it and rethrows only when it may).
   */
  private driverFailed(error: unknown): void {
    if (this.range) this.exports.warned(this.exports.batch, error);
    else this.exports.failed(this.exports.batch, 'worker', tracePattern(this.config, this.workerName), error);
  }

  private closeStep(endNs: number): void {
    const step = this.openStep;
    if (!step) return;
    this.openStep = undefined;
    step.endNs = endNs;
    if (step.annotationStartNs !== undefined) step.annotationEndNs = endNs;
    if (this.config.torch_profiler_with_memory && this.source) {
      const source = this.source;
      this.guard('endIteration', () => {
        step.peakAllocatedBytes = source.markStep();
      });
    }
    this.window?.steps.push(step);
  }

  /** JS stacks need the CPU activity (torch records stacks on CPU ops only). */
  private get withStack(): boolean {
    return this.config.torch_profiler_with_stack && this.cpuActivity;
  }

  private useSource(device: GPUDevice, source: CaptureSource): void {
    if (this.device !== device) return; // detached or re-attached meanwhile
    source.attach(device);
    this.source = source;
  }

  // ---- export -------------------------------------------------------------------------------------

  /** What the window exports need of this profiler. */
  private exportContext(): ExportContext {
    const { config, options } = this;
    return {
      config,
      output: this.output!,
      exports: this.exports,
      workerName: this.workerName,
      launchNames: this.launchNames,
      // vLLM's dump_cuda_time_total, or dump_cpu_time_total with CPU activity alone.
      table: config.torch_profiler_dump_cuda_time_total || (this.cpuActivity && !this.gpuActivity),
      printTable: this.rank === 0,
      meta: (name, gpu) => this.meta(name, gpu),
      beforeExport: options.beforeExport,
      onCapture: options.onCapture,
    };
  }

  /** Queues the export of a closed window (a stop's interruption, if any, goes with it). */
  private exportWindow(window: CaptureWindow, handle: WindowHandle | undefined): void {
    const interrupted = this.interrupted;
    this.exports.enqueue(async (batch) => {
      const written = await exportWorkerWindow(this.exportContext(), batch, window, handle, interrupted);
      if (written) this.lastCapture = written;
    });
  }

  private meta(workerName: string, gpu: boolean): TraceMeta {
    const meta: TraceMeta = {
      workerName,
      pid: hostPid(),
      tid: 1,
      timeOriginEpochNs: timeOriginEpochNs(),
      rank: this.rank,
      worldSize: this.worldSize,
      deviceIndex: 0,
      streamId: 7,
      withStack: this.withStack,
      // The frontend profiler is CPU-only without shapes, memory or FLOPs (vLLM's AsyncLLM profiler).
      recordShapes: gpu && this.config.torch_profiler_record_shapes,
      withMemory: gpu && this.config.torch_profiler_with_memory,
      withFlops: gpu && this.config.torch_profiler_with_flops,
      extra: {
        profiler: gpu ? 'worker' : 'frontend',
        version: WGPROF_VERSION,
        delay_iterations: this.config.delay_iterations,
        max_iterations: this.config.max_iterations,
        ...(this.worker?.schedule ? { schedule: { ...this.worker.schedule } } : {}),
        activities: [...(this.cpuActivity ? ['CPU'] : []), ...(this.gpuActivity ? ['CUDA'] : [])],
      },
    };
    if (gpu && this.facts) meta.adapter = this.facts;
    return meta;
  }

  /** Runs a hook body: failures are logged (and rethrown when strict), never thrown into the engine loop. */
  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.exports.warned(this.exports.batch, new WgprofError('PROFILER_HOOK_FAILED', `profiler ${what} failed: ${errorMessage(error)}`, { cause: error }));
      if (this.strict) throw error;
    }
  }
}

/**
 * The hooks for a config: `noProfiler` when `config.profiler` is null (nothing to do, nothing to
 * attach), else a new Profiler.
 */
export function createProfiler(config: ProfilerConfig, options: ProfilerOptions = {}): EngineProfilerHooks {
  return config.profiler === null ? noProfiler : new Profiler(config, options);
}
