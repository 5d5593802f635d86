// vLLM's WorkerProfiler state machine (vllm/profiler/wrapper.py), latest-main semantics: the
// auto-stop at `max_iterations` fully resets, so the next start() works.
//
// Two flags, as in vLLM: `active` = a start was requested (from start() until stop() or the
// auto-stop), `running` = the capture is actually on (after the delay). The machine only decides;
// what "start capturing" and "stop and export" mean is the injected driver's business, so every
// transition can be tested without a GPU.
//
//   start():  active → ignore (duplicate). active = true; delay == 0 → callStart().
//   step():   (start of each iteration) !active → return. count += 1;
//             !running && delay > 0 && count == delay → callStart();
//             running → profilingForIters += 1;
//             max > 0 && running && profilingForIters > max → full reset, callStop('max_iterations').
//   stop():   !active → ignore. full reset; running → callStop('stop').
//
// So delay D captures from the D-th iteration on (delay 0 and 1 both capture the first one; 0 starts
// at start() itself), and max M captures M iterations, the stop firing inside the (M+1)-th step().
// Failures of the driver are logged and swallowed (the engine loop must never break) unless
// `strict`, which rethrows (vLLM's `_propagate_errors`).

import { errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';

export type CaptureStopReason =
  /** The (max_iterations + 1)-th step() after the capture started. */
  | 'max_iterations'
  /** An explicit stop() (`/stop_profile`) while running. */
  | 'stop'
  /** shutdown() while running. */
  | 'shutdown';

/** What the state machine drives: vLLM's `_start()` / `_stop()`. */
export interface WorkerProfilerDriver {
  /** Begin capturing. Throwing means the start failed: the machine stays not running. */
  startCapture(): void;
  /** End the capture and hand it to export. Called only while running; the machine is not running afterwards either way. */
  stopCapture(reason: CaptureStopReason): void;
}

export interface WorkerProfilerOptions {
  /** `delay_iterations`: engine iterations to skip before capturing (0 = start at start()). */
  delayIterations: number;
  /** `max_iterations`: iterations to capture before stopping on its own (0 = no limit). */
  maxIterations: number;
  /** Rethrow driver failures instead of logging them (tests). */
  strict?: boolean;
  /** Prefix of log messages, e.g. the worker name. */
  label?: string;
}

export interface WorkerProfilerState {
  active: boolean;
  running: boolean;
  /** Steps since start() (vLLM `_active_iteration_count`). */
  activeIterationCount: number;
  /** Steps while running (vLLM `_profiling_for_iters`). */
  profilingForIters: number;
}

function checkCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${name} must be an integer >= 0 (got ${String(value)}); 0 means ${name === 'delayIterations' ? 'no delay' : 'no limit'}`);
  }
}

const infoOnceKeys = new Set<string>();
function infoOnce(message: string): void {
  if (infoOnceKeys.has(message)) return;
  infoOnceKeys.add(message);
  log.info(message);
}

export class WorkerProfiler {
  readonly delayIterations: number;
  readonly maxIterations: number;
  readonly strict: boolean;
  private readonly driver: WorkerProfilerDriver;
  private readonly prefix: string;
  private isActive = false;
  private isRunning = false;
  private iterationCount = 0;
  private capturedCount = 0;

  constructor(driver: WorkerProfilerDriver, options: WorkerProfilerOptions) {
    checkCount('delayIterations', options.delayIterations);
    checkCount('maxIterations', options.maxIterations);
    this.driver = driver;
    this.delayIterations = options.delayIterations;
    this.maxIterations = options.maxIterations;
    this.strict = options.strict ?? false;
    this.prefix = options.label ? `${options.label}: ` : '';
    if (this.delayIterations > 0) infoOnce(`GPU profiling will start ${this.delayIterations} steps after start_profile.`);
    if (this.maxIterations > 0) {
      infoOnce(`GPU profiling will stop after ${this.maxIterations} worker steps, or when stop_profile is received.`);
    }
  }

  /** A start was requested and not yet ended (by stop() or the auto-stop). */
  get active(): boolean {
    return this.isActive;
  }

  /** The capture is on: the iteration begun by the last step() is being recorded. */
  get running(): boolean {
    return this.isRunning;
  }

  /** Steps since start(), 1-based after the first step (0 before it). */
  get activeIterationCount(): number {
    return this.iterationCount;
  }

  /** Steps counted while running. */
  get profilingForIters(): number {
    return this.capturedCount;
  }

  state(): WorkerProfilerState {
    return {
      active: this.isActive,
      running: this.isRunning,
      activeIterationCount: this.iterationCount,
      profilingForIters: this.capturedCount,
    };
  }

  /** `/start_profile`. A duplicate while active is ignored. */
  start(): void {
    if (this.isActive) {
      log.debug(`${this.prefix}start_profile received when profiler is already active. Ignoring request.`);
      return;
    }
    this.isActive = true;
    if (this.delayIterations === 0) this.startOrDeactivate();
  }

  /** Called at the start of every engine iteration, before the model runs. */
  step(): void {
    if (!this.isActive) return;
    this.iterationCount += 1;
    if (!this.isRunning && this.delayIterations > 0 && this.iterationCount === this.delayIterations) {
      infoOnce('Starting profiler after delay...');
      this.startOrDeactivate();
    }
    if (this.isRunning) this.capturedCount += 1;
    if (this.maxIterations > 0 && this.isRunning && this.capturedCount > this.maxIterations) {
      infoOnce('Max profiling iterations reached. Stopping profiler...');
      // Latest vLLM main: a full reset, so a later start_profile is not a permanent no-op.
      this.reset();
      this.callStop('max_iterations');
    }
  }

  /** `/stop_profile`. During the delay nothing was captured and nothing is written; a duplicate is ignored. */
  stop(): void {
    if (!this.isActive) {
      log.debug(`${this.prefix}stop_profile received when profiler is not active. Ignoring request.`);
      return;
    }
    this.reset();
    if (this.isRunning) this.callStop('stop');
  }

  /** Engine shutdown: stops (and exports) a running capture. */
  shutdown(): void {
    if (!this.isRunning) return;
    this.reset();
    this.callStop('shutdown');
  }

  private reset(): void {
    this.isActive = false;
    this.iterationCount = 0;
    this.capturedCount = 0;
  }

  private startOrDeactivate(): void {
    try {
      this.callStart();
    } catch (error) {
      // Only reached when strict: the request is dropped so a retry can start afresh.
      this.isActive = false;
      throw error;
    }
  }

  private callStart(): void {
    try {
      this.driver.startCapture();
      this.isRunning = true; // only once the start succeeded
    } catch (error) {
      log.warn(`${this.prefix}Failed to start profiler: ${errorMessage(error)}`);
      if (this.strict) throw error;
    }
  }

  private callStop(reason: CaptureStopReason): void {
    try {
      this.driver.stopCapture(reason);
    } catch (error) {
      log.warn(`${this.prefix}Failed to stop profiler: ${errorMessage(error)}`);
      if (this.strict) throw error;
    } finally {
      this.isRunning = false;
    }
  }
}
