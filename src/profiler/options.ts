// What the Profiler takes: its options, and what it needs from a capture source (src/instrument's
// Instrumentation has it all; tests inject fakes).

import type { CaptureRecord } from '../capture/model.js';
import type { AdapterFacts } from '../gpu/device.js';
import type { InstrumentationOptions, WindowHandle } from '../instrument/instrumentation.js';
import type { LaunchNames } from '../trace/launch-names.js';
import type { StepCosts } from '../trace/plan.js';
import type { RangeEdge, UserTiming } from './cuda-range.js';
import type { TraceKind } from './failures.js';
import type { TraceOutput, TraceSink } from './output.js';
import { WgprofError } from '../util/errors.js';

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
  /** An estimate of the heap the open window holds, bytes (the memory budget is checked against it). */
  readonly capturedBytes?: number;
  /** Resolves once the timing mode is settled (a device whose features leave it open is probed first). */
  ready?(): Promise<void>;
  detach(): void;
}

export interface ProfilerOptions {
  /** Worker trace name prefix; default `{5 random hex}-rank-{rank}` (vLLM v0.13's `{instance_id}-rank-{rank}`). */
  workerName?: string;
  /** Frontend trace name prefix; default `{hostname}_{pid}.async_llm` (browser: `{page host}_{pseudo pid}.async_llm`). */
  frontendName?: string;
  rank?: number;
  worldSize?: number;
  /**
   * Rethrow failures that cost no file from the hooks (attach, step, ...) and reject stop() on them
   * (tests); default false: log and carry on. Files that could not be written make stop() reject
   * either way; the auto-stop and shutdown never throw (vLLM).
   */
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
  /** Extra Instrumentation options (e.g. timestamps: false, memoryBaselineBytes); torch_profiler_activities without 'CUDA' forces timestamps: false. */
  instrumentation?: Omit<InstrumentationOptions, 'withStack' | 'recordShapes' | 'withMemory' | 'withFlops'>;
  /**
   * The memory budget of a capture window, bytes (default 256 MiB): when the records a window holds
   * pass it (an estimate: Instrumentation.capturedBytes), the window is written at the next step
   * boundary as one segment — a complete trace file — and capture goes on in a new one, ProfilerStep
   * numbering continued; `wgprof merge` joins the segments. An unbounded window (max_iterations 0) that
   * passes it is warned about once. Infinity: no budget.
   */
  memoryBudgetBytes?: number;
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

/** The default memory budget of a capture window (ProfilerOptions.memoryBudgetBytes). */
export const DEFAULT_MEMORY_BUDGET_BYTES = 256 * 1024 * 1024;

/** Throws INVALID_OPTION naming `what` unless `value` is undefined or an integer >= min. */
export function checkInteger(what: string, value: number | undefined, min: number, meaning = ''): void {
  if (value !== undefined && (!Number.isInteger(value) || value < min)) {
    throw new WgprofError('INVALID_OPTION', `${what} must be an integer >= ${min}${meaning}; got ${String(value)}.`);
  }
}

/** The options a Profiler refuses, named with what was given (the others are checked where they are used). */
export function checkProfilerOptions(options: ProfilerOptions): void {
  checkInteger('Profiler option "rank"', options.rank, 0);
  checkInteger('Profiler option "worldSize"', options.worldSize, 1);
  const budget = options.memoryBudgetBytes;
  if (budget !== undefined && !(budget === Infinity || (Number.isSafeInteger(budget) && budget > 0))) {
    throw new WgprofError(
      'INVALID_OPTION',
      `Profiler option "memoryBudgetBytes" must be a positive integer number of bytes or Infinity; got ${String(budget)}.`,
    );
  }
}
