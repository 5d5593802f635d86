// vLLM's WorkerProfiler state machine (vllm/profiler/wrapper.py), latest-main semantics: the
// auto-stop at `max_iterations` fully resets, so the next start() works; start() may override the
// delay/max bounds for one session; warmup/wait iterations run torch.profiler.schedule.
//
// Two flags, as in vLLM: `active` = a start was requested (from start() until stop() or the
// auto-stop), `running` = the profiler is on (after the delay). The machine only decides; what "start
// capturing" and "stop and export" mean is the injected driver's business, so every transition can
// be tested without a GPU.
//
//   start(d?, m?): active → ignore (duplicate). bounds = (d ?? config delay, m ?? config max);
//             active = true; delay == 0 → callStart().
//   step():   (start of each iteration) !active → return. count += 1;
//             !running && delay > 0 && count == delay → callStart();
//             running && profilerStep() → profilingForIters += 1;
//             max > 0 && running && profilingForIters > max → full reset, callStop('max_iterations').
//   stop():   !active → ignore. full reset; running → callStop('stop').
//
// So delay D captures from the D-th iteration on (delay 0 and 1 both capture the first one; 0 starts
// at start() itself), and max M captures M iterations, the stop firing inside the (M+1)-th step().
//
// Schedule (warmup_iterations > 0 or wait_iterations > 0), as vLLM's TorchProfilerWrapper drives
// torch.profiler.schedule(wait, warmup, active, repeat=1): callStart() is schedule step 0 and each
// running step() advances one step. Step k is WAIT for k < wait (profiler off: no driver call), WARMUP
// for k < wait + warmup (driver.startWarmup: capture, to be discarded), RECORD for the next `active`
// steps (driver.startCapture), then done (driver.stopCapture('schedule'): the trace is written; the
// machine stays running, recording nothing, until max or stop(), as vLLM's does). profilerStep()
// returns false for the first wait + warmup - 1 steps (vLLM's `_warmup_steps_remaining`), so only the
// recorded iterations count toward max_iterations.
//
// Failures of the driver are logged and swallowed (the engine loop must never break) unless `strict`,
// which rethrows (vLLM's `_propagate_errors`) from start(), stop() and a start inside step(). As in
// vLLM, the stops the machine makes on its own are never rethrown, strict or not: the auto-stop at
// max_iterations and the schedule's end (both inside step(), on the engine's hot path) and
// shutdown() log their failure and go on (vLLM: `logger.exception("Failed to stop profiler after
// reaching max iterations.")`, `"... during worker shutdown."`). The driver reports such a failure
// to whoever asks next (the Profiler: its next stop()).

import { errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';

export type CaptureStopReason =
  /** The (max_iterations + 1)-th step() after the capture started. */
  | 'max_iterations'
  /** An explicit stop() (`/stop_profile`) while running. */
  | 'stop'
  /** shutdown() while running. */
  | 'shutdown'
  /** The schedule recorded its `active_iterations` (torch's RECORD_AND_SAVE ended): write the trace. */
  | 'schedule';

/** What the state machine drives: vLLM's `_start()` / `_stop()` and torch.profiler.schedule's phases. */
export interface WorkerProfilerDriver {
  /**
   * Begin recording. Throwing means the start failed: the machine stays not running. After
   * startWarmup(), whatever the warmup captured is discarded first: only what follows is recorded.
   */
  startCapture(): void;
  /** End the recording and hand it to export (write the trace). Called only while recording. */
  stopCapture(reason: CaptureStopReason): void;
  /**
   * Schedule only (warmup_iterations > 0): torch's WARMUP. Capture as when recording, so one-time
   * costs (pipeline compilation, first-use allocations, query-set pools) are paid now and not in the
   * recorded iterations, but keep nothing: what is captured until startCapture() or cancelWarmup() is
   * discarded. A driver without it does nothing during warmup (the iterations are just not recorded).
   */
  startWarmup?(): void;
  /** Schedule only: a warmup ends without recording (stop(), max or shutdown during it): discard its capture, write nothing. */
  cancelWarmup?(): void;
}

export interface WorkerProfilerOptions {
  /** `delay_iterations`: engine iterations to skip before capturing (0 = start at start()). */
  delayIterations: number;
  /** `max_iterations`: iterations to capture before stopping on its own (0 = no limit). */
  maxIterations: number;
  /** `warmup_iterations` (default 0): schedule iterations captured and discarded. */
  warmupIterations?: number;
  /** `active_iterations` (default 5): schedule iterations recorded. */
  activeIterations?: number;
  /** `wait_iterations` (default 0): schedule iterations with the profiler off. */
  waitIterations?: number;
  /** Rethrow driver failures instead of logging them (tests). */
  strict?: boolean;
  /** Prefix of log messages, e.g. the worker name. */
  label?: string;
}

/** Where a running schedule is: torch's NONE (wait), WARMUP, RECORD, then done (NONE after repeat=1). */
export type SchedulePhase = 'wait' | 'warmup' | 'record' | 'done';

export interface WorkerProfilerState {
  active: boolean;
  running: boolean;
  /** Steps since start() (vLLM `_active_iteration_count`). */
  activeIterationCount: number;
  /** Recorded steps while running (vLLM `_profiling_for_iters`). */
  profilingForIters: number;
}

function checkCount(name: string, value: number, min = 0): void {
  if (!Number.isInteger(value) || value < min) {
    const zero = name === 'delayIterations' ? '; 0 means no delay' : name === 'maxIterations' ? '; 0 means no limit' : '';
    throw new RangeError(`${name} must be an integer >= ${min} (got ${String(value)})${zero}`);
  }
}

const infoOnceKeys = new Set<string>();
function infoOnce(message: string): void {
  if (infoOnceKeys.has(message)) return;
  infoOnceKeys.add(message);
  log.info(message);
}

export class WorkerProfiler {
  readonly strict: boolean;
  /** The config's bounds, which each start() without overrides returns to. */
  readonly defaults: { readonly delayIterations: number; readonly maxIterations: number };
  readonly schedule: { readonly wait: number; readonly warmup: number; readonly active: number } | undefined;
  private readonly driver: WorkerProfilerDriver;
  private readonly prefix: string;
  private delay: number;
  private max: number;
  private isActive = false;
  private isRunning = false;
  private iterationCount = 0;
  private capturedCount = 0;
  private scheduleStep = 0;
  private warmupStepsRemaining = 0;
  private currentPhase: SchedulePhase = 'record';

  constructor(driver: WorkerProfilerDriver, options: WorkerProfilerOptions) {
    checkCount('delayIterations', options.delayIterations);
    checkCount('maxIterations', options.maxIterations);
    const { warmupIterations: warmup = 0, activeIterations: active = 5, waitIterations: wait = 0 } = options;
    checkCount('warmupIterations', warmup);
    checkCount('activeIterations', active, 1);
    checkCount('waitIterations', wait);
    this.driver = driver;
    this.defaults = Object.freeze({ delayIterations: options.delayIterations, maxIterations: options.maxIterations });
    this.delay = options.delayIterations;
    this.max = options.maxIterations;
    this.schedule = warmup > 0 || wait > 0 ? Object.freeze({ wait, warmup, active }) : undefined;
    this.strict = options.strict ?? false;
    this.prefix = options.label ? `${options.label}: ` : '';
    if (this.delay > 0) infoOnce(`GPU profiling will start ${this.delay} steps after start_profile.`);
    if (this.max > 0) infoOnce(`GPU profiling will stop after ${this.max} worker steps, or when stop_profile is received.`);
    if (this.schedule) infoOnce(`Profiler schedule configured: wait=${wait}, warmup=${warmup}, active=${active}`);
  }

  /** This session's delay (vLLM `_delay_iters`): start()'s override, else the config's. */
  get delayIterations(): number {
    return this.delay;
  }

  /** This session's max (vLLM `_max_iters`): start()'s override, else the config's. */
  get maxIterations(): number {
    return this.max;
  }

  /** A start was requested and not yet ended (by stop() or the auto-stop). */
  get active(): boolean {
    return this.isActive;
  }

  /** The profiler is on (vLLM `_running`); with a schedule it may be waiting or warming up. */
  get running(): boolean {
    return this.isRunning;
  }

  /** The iteration begun by the last step() is being recorded: running, and in the schedule's RECORD phase if there is one. */
  get recording(): boolean {
    return this.isRunning && this.currentPhase === 'record';
  }

  /** Whether iterations get their annotation (vLLM `should_annotate`): only while recording. */
  get shouldAnnotate(): boolean {
    return this.recording;
  }

  /** Where the schedule is while running; undefined without a schedule or when not running. */
  get phase(): SchedulePhase | undefined {
    return this.schedule && this.isRunning ? this.currentPhase : undefined;
  }

  /** Steps since start(), 1-based after the first step (0 before it). */
  get activeIterationCount(): number {
    return this.iterationCount;
  }

  /** Recorded steps counted while running. */
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

  /**
   * `/start_profile`, optionally bounding this session (vLLM main's per-call `delay_iterations` /
   * `max_iterations`); the next start() without them uses the config's again. A duplicate while active
   * is ignored, overrides included.
   */
  start(delayIterations?: number, maxIterations?: number): void {
    if (this.isActive) {
      log.debug(`${this.prefix}start_profile received when profiler is already active. Ignoring request.`);
      return;
    }
    if (delayIterations !== undefined) checkCount('delayIterations', delayIterations);
    if (maxIterations !== undefined) checkCount('maxIterations', maxIterations);
    this.delay = delayIterations ?? this.defaults.delayIterations;
    this.max = maxIterations ?? this.defaults.maxIterations;
    this.isActive = true;
    if (this.delay === 0) this.startOrDeactivate();
  }

  /** Called at the start of every engine iteration, before the model runs. */
  step(): void {
    if (!this.isActive) return;
    this.iterationCount += 1;
    if (!this.isRunning && this.delay > 0 && this.iterationCount === this.delay) {
      infoOnce('Starting profiler after delay...');
      this.startOrDeactivate();
    }
    if (this.isRunning && this.profilerStep()) this.capturedCount += 1;
    if (this.max > 0 && this.isRunning && this.capturedCount > this.max) {
      infoOnce('Max profiling iterations reached. Stopping profiler...');
      // Latest vLLM main: a full reset, so a later start_profile is not a permanent no-op.
      this.reset();
      this.callStop('max_iterations', false);
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

  /** Engine shutdown: stops (and exports) a running capture. A failure is logged, never thrown (vLLM). */
  shutdown(): void {
    if (!this.isRunning) return;
    this.reset();
    this.callStop('shutdown', false);
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

  /** Schedule step k's phase (torch.profiler.schedule with skip_first=0, repeat=1). */
  private phaseAt(k: number): SchedulePhase {
    const { wait, warmup, active } = this.schedule!;
    return k < wait ? 'wait' : k < wait + warmup ? 'warmup' : k < wait + warmup + active ? 'record' : 'done';
  }

  /** vLLM's `_call_start` → `_start()`: without a schedule, recording begins; with one, schedule step 0. */
  private callStart(): void {
    try {
      if (!this.schedule) this.driver.startCapture();
      else {
        this.scheduleStep = 0;
        this.warmupStepsRemaining = Math.max(this.schedule.wait + this.schedule.warmup - 1, 0);
        this.currentPhase = this.phaseAt(0);
        if (this.currentPhase === 'warmup') this.driver.startWarmup?.();
      }
      this.isRunning = true; // only once the start succeeded
    } catch (error) {
      log.warn(`${this.prefix}Failed to start profiler: ${errorMessage(error)}`);
      if (this.strict) throw error;
    }
  }

  /** vLLM's `_profiler_step()`: advances the schedule; false for a step that records nothing (wait, warmup). */
  private profilerStep(): boolean {
    if (!this.schedule) return true;
    this.scheduleStep += 1;
    const next = this.phaseAt(this.scheduleStep);
    if (next !== this.currentPhase) {
      const from = this.currentPhase;
      this.currentPhase = next;
      try {
        if (next === 'warmup') this.driver.startWarmup?.();
        else if (next === 'record') this.driver.startCapture();
        else if (next === 'done' && from === 'record') this.driver.stopCapture('schedule');
      } catch (error) {
        log.warn(`${this.prefix}Profiler schedule step failed: ${errorMessage(error)}`);
        this.currentPhase = 'done'; // nothing more is recorded this session
        // A failed start is rethrown when strict, as a delayed start is; the schedule's own stop is an auto-stop: never.
        if (this.strict && next !== 'done') throw error;
      }
    }
    if (this.warmupStepsRemaining > 0) {
      this.warmupStepsRemaining -= 1;
      return false;
    }
    return true;
  }

  /** vLLM's `_call_stop`; `propagate` false for the stops the machine makes itself (auto-stop, shutdown). */
  private callStop(reason: CaptureStopReason, propagate = this.strict): void {
    try {
      if (this.currentPhase === 'record' || !this.schedule) this.driver.stopCapture(reason);
      else if (this.currentPhase === 'warmup') this.driver.cancelWarmup?.();
    } catch (error) {
      log.warn(`${this.prefix}Failed to stop profiler: ${errorMessage(error)}`);
      if (propagate) throw error;
    } finally {
      this.isRunning = false;
      this.currentPhase = 'record';
    }
  }
}
