// The Profiler: vLLM's worker profiler + AsyncLLM frontend profiler for any WebGPU workload, driven
// by a ProfilerConfig. It implements EngineProfilerHooks, so the engine calls it; other code calls
// attach/start/step/stop itself (an iteration is whatever the caller brackets with step()).
//
// Modes (config.profiler):
// - 'torch': in-process capture. The WorkerProfiler state machine (delay/max) opens and closes the
//   capture window of an Instrumentation attached to the device; each captured iteration is a
//   `ProfilerStep#N` step. On stop (explicit, or the auto-stop inside the (max+1)-th step()) the window
//   is detached from the loop at once (instrumentation no longer capturing) and exported
//   asynchronously: flush (readbacks, clock fit) → CaptureRecord → `{worker}.{time_ns}.pt.trace.json[.gz]`
//   and, with dump_cuda_time_total, `profiler_out_{rank}.txt`. The engine keeps stepping meanwhile;
//   stop() awaits every pending export and resolves to the files written since the previous stop().
//   The frontend profiler records frontendSpan()s from start() to stop(), whatever the delay/max,
//   into `{host}_{pid}.async_llm.{time_ns}.pt.trace.json[.gz]` (unless ignore_frontend).
// - 'cuda': an external capture range (see cuda-range.ts): same window logic, marked with User Timing
//   and debug groups; no file.
// - null: every hook is a no-op.
//
// Each window is the instrumentation's own (Instrumentation.endWindow()): what happens after a stop
// (a restart while the export is still queued) is never mixed into the stopped window's trace.
//
// ProfilerStep numbering: N = the iteration's index counted by the profiler since start() (1-based:
// the first step() after start() is iteration 1). delay D, max M therefore gives ProfilerStep#D ..
// #(D+M-1) (delay 0 counts like delay 1), e.g. delay 2, max 3 → #2, #3, #4 = the 2nd..4th iteration
// after start. A step spans step() → endIteration(); the annotation (user_annotation) spans
// beginIteration() → endIteration().
//
// Failures (instrumentation, file writes) are logged with log.warn and never thrown into the engine
// loop; with `strict` they are rethrown (hooks) or reject stop().

import { parseProfilerConfig } from '../config/parse.js';
import { PROFILER_CONFIG_KEYS, type ProfilerConfig } from '../config/schema.js';
import type { AdapterFacts } from '../gpu/device.js';
import { timestampModeOf } from '../gpu/device.js';
import { Instrumentation, type InstrumentationOptions, type WindowHandle } from '../instrument/instrumentation.js';
import type { CaptureRecord, CpuSpanRecord, StepRecord, TraceMeta } from '../capture/model.js';
import type { StepCosts } from '../trace/plan.js';
import { launchNamesFromEnv, parseLaunchNames, type LaunchNames } from '../trace/launch-names.js';
import { WgprofError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { isNode, monotonicNowNs } from '../util/runtime.js';
import { WGPROF_VERSION } from '../version.js';
import { CudaRangeMarker, type RangeEdge, type UserTiming } from './cuda-range.js';
import { FrontendProfiler, type SpanArgs } from './frontend.js';
import { noProfiler, type EngineProfilerHooks, type ProfileStopOptions } from './hooks.js';
import { defaultTraceOutput, type TraceOutput, type TraceSink } from './output.js';
import { WorkerProfiler, type CaptureStopReason } from './worker-profiler.js';

/** What the profiler needs from an instrumentation (src/instrument's Instrumentation has it all). */
export interface CaptureSource {
  attach(device: GPUDevice): void;
  /** Opens a capture window (`true`). */
  setCapturing(on: boolean): void;
  /** Closes the window; its records are collected later, apart from any window opened after it. */
  endWindow(): WindowHandle | undefined;
  /** Peak allocated bytes since the previous call; starts the next step. */
  markStep(): number;
  /** GPU bytes allocated now (the memory counter's level at a step's start). */
  readonly allocatedBytes?: number;
  /** Resolves once the timing mode is settled (a device whose features leave it open is probed first). */
  ready?(): Promise<void>;
  detach(): void;
}

export type TraceKind = 'worker' | 'frontend' | 'key_averages';

export interface ProfilerOptions {
  /** Worker trace name prefix; default `{5 random hex}-rank-{rank}` (vLLM v0.13's `{instance_id}-rank-{rank}`). */
  workerName?: string;
  /** Frontend trace name prefix; default `{hostname}_{pid}.async_llm` (browser: `{page host}_{pseudo pid}.async_llm`). */
  frontendName?: string;
  rank?: number;
  worldSize?: number;
  /** Rethrow failures (tests); default false: log and carry on. */
  strict?: boolean;
  /** Where traces go instead of torch_profiler_dir (browser download, OPFS, callback, ...). */
  sink?: TraceSink;
  /**
   * Called with each worker capture before it is written (awaited): adapters enrich it here, e.g. name
   * the dispatches after the ONNX nodes that made them, or add CPU spans for work a runtime did on the
   * CPU. A throw is logged and the capture is written as it stands.
   */
  beforeExport?: (record: CaptureRecord) => void | Promise<void>;
  /** Called with each worker capture once its trace is written, with its per-step costs. */
  onCapture?: (record: CaptureRecord, costs: StepCosts[]) => void;
  /** Called once per file written (worker trace, frontend trace, key-averages table). */
  onTraceWritten?: (file: string, kind: TraceKind) => void;
  /** Facts of the adapter behind the attached device (default: derived from the device). */
  adapterFacts?: AdapterFacts;
  /** 'cuda' mode: the User Timing implementation (default globalThis.performance). */
  performance?: UserTiming;
  /** 'cuda' mode: called at the window edges (e.g. to start/stop Chromium tracing). */
  onRange?: (edge: RangeEdge) => void;
  /** Creates the capture source for 'torch' (default: src/instrument's Instrumentation). Tests inject fakes. */
  createCaptureSource?: (options: InstrumentationOptions) => CaptureSource | Promise<CaptureSource>;
  /** How records become files (default: src/trace's writer). Tests inject fakes. */
  output?: TraceOutput;
  /** Extra Instrumentation options (e.g. timestamps: false, memoryBaselineBytes). */
  instrumentation?: Omit<InstrumentationOptions, 'withStack' | 'recordShapes' | 'withMemory' | 'withFlops'>;
  /** CPU clock in ns (default performance.now() * 1e6). */
  nowNs?: () => number;
  /**
   * How launches are named in the traces (src/trace/launch-names.ts): 'webgpu', the WebGPU call; 'cuda',
   * the CUDA call HTA's queue length, launch statistics and critical path need (`cudaLaunchKernel`,
   * `cudaMemcpyAsync`), the WebGPU call kept in the launch's args. Default: the environment variable
   * WGPROF_LAUNCH_NAMES, else 'webgpu'.
   */
  launchNames?: LaunchNames;
}

interface CaptureWindow {
  startNs: number;
  stopNs?: number;
  steps: StepRecord[];
}

function randomHex(chars: number): string {
  const bytes = new Uint8Array(Math.ceil(chars / 2));
  globalThis.crypto.getRandomValues(bytes);
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('').slice(0, chars);
}

/** A pseudo pid for pages: stable for the page's life, in the range of real pids. */
const browserPid = 1 + (Math.floor(performance.timeOrigin) % 4_000_000);

export function hostPid(): number {
  return isNode ? process.pid : browserPid;
}

interface NodeOs {
  hostname(): string;
}

/** The host name part of the frontend file name (Node: os.hostname(); browser: the page's host). */
export function hostName(): string {
  if (isNode) {
    const os = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.('node:os') as NodeOs | undefined;
    const name = os?.hostname();
    if (name) return name;
    return 'localhost';
  }
  const host = typeof location !== 'undefined' ? location.hostname : '';
  // File-name safe: what a page's host may hold beyond [A-Za-z0-9.-] becomes '-'.
  return (host || 'browser').replace(/[^A-Za-z0-9.-]/g, '-');
}

function timeOriginEpochNs(): bigint {
  return BigInt(Math.round(performance.timeOrigin * 1e6));
}

function checkRank(name: string, value: number | undefined, min: number): void {
  if (value !== undefined && (!Number.isInteger(value) || value < min)) {
    throw new WgprofError('INVALID_OPTION', `Profiler option "${name}" must be an integer >= ${min}; got ${String(value)}.`);
  }
}

/** AdapterFacts of a device when the caller has none: what GPUDevice itself exposes. */
export function factsFromDevice(device: GPUDevice): AdapterFacts {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const limits: Record<string, number> = {};
  for (let proto: object | null = device.limits; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const value = (device.limits as unknown as Record<string, unknown>)[key];
      if (key !== 'constructor' && !(key in limits) && typeof value === 'number') limits[key] = value;
    }
  }
  return {
    runtime: isNode ? 'node' : 'browser',
    backend: isNode ? 'unknown' : 'webgpu',
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    isFallbackAdapter: Boolean((info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined)?.isFallbackAdapter),
    features: [...device.features].sort(),
    limits,
    timestampMode: timestampModeOf(device.features),
    timestampQuantizationDisabled: null,
  };
}

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

  private exportChain: Promise<void> = Promise.resolve();
  private readonly pending = new Set<Promise<void>>();
  private written: string[] = [];
  private errors: Error[] = [];
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
    checkRank('rank', options.rank, 0);
    checkRank('worldSize', options.worldSize, 1);
    this.config = Object.freeze({ ...config });
    this.options = options;
    this.rank = options.rank ?? 0;
    this.worldSize = options.worldSize ?? 1;
    this.strict = options.strict ?? false;
    this.workerName = options.workerName ?? `${randomHex(5)}-rank-${this.rank}`;
    this.nowNs = options.nowNs ?? monotonicNowNs;
    if (config.profiler === null) return;
    this.worker = new WorkerProfiler(
      {
        startCapture: () => this.startCapture(),
        stopCapture: (reason) => this.stopCapture(reason),
      },
      { delayIterations: config.delay_iterations, maxIterations: config.max_iterations, strict: this.strict, label: this.workerName },
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
      if (!config.ignore_frontend) this.frontend = new FrontendProfiler({ nowNs: this.nowNs });
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

  /** Whether iterations are being captured now (vLLM `_running`). */
  get running(): boolean {
    return this.worker?.running ?? false;
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
        withStack: this.config.torch_profiler_with_stack,
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

  start(): void {
    if (!this.worker) return;
    if (this.frontend?.start()) log.debug(`${this.workerName}: frontend profiler started.`);
    this.worker.start();
  }

  step(): void {
    const worker = this.worker;
    if (!worker?.active) return;
    // A step left open (no endIteration) ends where the next one begins, as torch's ProfilerStep does.
    if (this.openStep) this.closeStep(this.nowNs());
    worker.step();
    if (!worker.running) return;
    this.stepNumber = worker.activeIterationCount;
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
    if (!this.worker?.running) return;
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

  async stop(options: ProfileStopOptions = {}): Promise<string[]> {
    if (!this.worker) return [];
    this.interrupted = options.interrupted;
    try {
      this.worker.stop();
    } catch (error) {
      // strict only: the machine already logged it.
      this.errors.push(error instanceof Error ? error : new Error(String(error)));
    }
    this.interrupted = undefined;
    const spans = this.frontend?.stop();
    if (spans) this.enqueue(() => this.exportFrontend(spans));
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    const files = this.written;
    const errors = this.errors;
    this.written = [];
    this.errors = [];
    if (errors.length > 0 && this.strict) {
      throw new WgprofError('PROFILER_EXPORT_FAILED', `stop(): ${errors.length} failure(s): ${errors.map(errorMessage).join('; ')}`, { cause: errors[0] });
    }
    return files;
  }

  /** Resolves once every export queued so far has finished (files are reported by the next stop()). */
  async flushed(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  // ---- window driver (called by the WorkerProfiler) ----------------------------------------------

  private startCapture(): void {
    if (this.range) {
      this.range.startRange();
      return;
    }
    if (!this.source) {
      throw new WgprofError(
        'NOT_ATTACHED',
        this.sourceReady
          ? 'the instrumentation is still being created; start the profiler after attach() has completed.'
          : 'the profiler has no device: call attach(device) before start() (createEngine does this for its device).',
      );
    }
    this.source.setCapturing(true);
    this.window = { startNs: this.nowNs(), steps: [] };
  }

  private stopCapture(reason: CaptureStopReason): void {
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
    const interrupted = this.interrupted;
    this.enqueue(() => this.exportWorker(window, handle, interrupted));
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

  private useSource(device: GPUDevice, source: CaptureSource): void {
    if (this.device !== device) return; // detached or re-attached meanwhile
    source.attach(device);
    this.source = source;
  }

  // ---- export -------------------------------------------------------------------------------------

  /** Queues an export after the ones before it; failures are collected for stop(). */
  private enqueue(job: () => Promise<void>): void {
    const run = this.exportChain.then(
      () => new Promise<void>((resolve) => setTimeout(resolve, 0)).then(job),
    );
    const settled = run.catch((error: unknown) => {
      const failure = error instanceof Error ? error : new Error(String(error));
      log.warn(`${this.workerName}: writing the profile failed: ${errorMessage(failure)}`);
      this.errors.push(failure);
    });
    this.exportChain = settled;
    this.pending.add(settled);
    void settled.then(() => this.pending.delete(settled));
  }

  private async exportWorker(window: CaptureWindow, handle: WindowHandle | undefined, interrupted?: string): Promise<void> {
    const output = this.output!;
    const captured = handle ? await handle.collect() : undefined;
    for (const error of captured?.errors ?? []) {
      log.warn(`${this.workerName}: ${errorMessage(error)}`);
      this.errors.push(error);
    }
    const meta = this.meta(this.workerName, true);
    if (interrupted) meta.extra = { ...meta.extra, interrupted };
    if (captured) {
      meta.timestamps = captured.timestamps;
      if (captured.clock) meta.clock = captured.clock;
      meta.extra = { ...meta.extra, captureStats: { ...captured.stats } };
    }
    const record: CaptureRecord = {
      meta,
      steps: window.steps,
      cpuSpans: [],
      dispatches: captured?.dispatches ?? [],
      copies: captured?.copies ?? [],
      memory: captured?.memory ?? [],
    };
    if (this.options.beforeExport) {
      try {
        await this.options.beforeExport(record);
      } catch (error) {
        log.warn(`${this.workerName}: beforeExport threw: ${errorMessage(error)}; the capture is written as it stands.`);
      }
    }
    const dump = this.config.torch_profiler_dump_cuda_time_total;
    const exported = await output.exportTrace(record, { workerName: this.workerName, useGzip: this.config.torch_profiler_use_gzip, table: dump, launchNames: this.launchNames });
    this.lastCapture = { file: exported.file, costs: exported.steps };
    this.wrote(exported.file, 'worker');
    try {
      this.options.onCapture?.(record, exported.steps);
    } catch (error) {
      log.warn(`${this.workerName}: onCapture threw: ${errorMessage(error)}`);
    }
    if (dump && exported.table !== undefined) {
      // vLLM prints the table on rank 0 only.
      if (this.rank === 0) log.info(`${this.workerName} key averages (sorted by self GPU time):\n${exported.table}`);
      const tableFile = await output.writeKeyAverages(this.rank, exported.table);
      if (tableFile !== undefined) this.wrote(tableFile, 'key_averages');
    }
  }

  private async exportFrontend(spans: CpuSpanRecord[]): Promise<void> {
    const output = this.output!;
    const name = this.options.frontendName ?? `${hostName()}_${hostPid()}.async_llm`;
    const meta = this.meta(name, false);
    const record: CaptureRecord = { meta, steps: [], cpuSpans: spans, dispatches: [], copies: [], memory: [] };
    const exported = await output.exportTrace(record, { workerName: name, useGzip: this.config.torch_profiler_use_gzip, table: false, launchNames: this.launchNames });
    this.wrote(exported.file, 'frontend');
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
      withStack: this.config.torch_profiler_with_stack,
      // The frontend profiler is CPU-only without shapes, memory or FLOPs (vLLM's AsyncLLM profiler).
      recordShapes: gpu && this.config.torch_profiler_record_shapes,
      withMemory: gpu && this.config.torch_profiler_with_memory,
      withFlops: gpu && this.config.torch_profiler_with_flops,
      extra: { profiler: gpu ? 'worker' : 'frontend', version: WGPROF_VERSION, delay_iterations: this.config.delay_iterations, max_iterations: this.config.max_iterations },
    };
    if (gpu && this.facts) meta.adapter = this.facts;
    return meta;
  }

  private wrote(file: string, kind: TraceKind): void {
    this.written.push(file);
    log.debug(`${this.workerName}: wrote ${kind} ${file}`);
    try {
      this.options.onTraceWritten?.(file, kind);
    } catch (error) {
      log.warn(`${this.workerName}: onTraceWritten threw: ${errorMessage(error)}`);
    }
  }

  /** Runs a hook body: failures are logged (and rethrown when strict), never thrown into the engine loop. */
  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      log.warn(`${this.workerName}: profiler ${what} failed: ${errorMessage(error)}`);
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
