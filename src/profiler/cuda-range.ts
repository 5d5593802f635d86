// `profiler: 'cuda'`: an external capture range, as vLLM's CudaProfilerWrapper serves nsys with
// cudaProfilerStart/Stop and nvtx ranges. There is no in-process capture and no trace file; the window
// chosen by the same delay/max logic is made visible to tools outside:
//
// - User Timing (Chrome tracing, DevTools Performance, Node's perf_hooks): a mark
//   `wgprof:profile:start` / `wgprof:profile:stop` at the window edges and a measure `wgprof:profile`
//   over it; per captured iteration a measure `ProfilerStep#N` and a measure named by the iteration's
//   annotation (vLLM's nvtx range), both with `detail` { step, annotation }.
// - Debug groups (native GPU tools: RenderDoc, PIX, Xcode, Dawn's own traces): while a captured
//   iteration runs, every command encoder created on the attached device gets
//   pushDebugGroup(annotation) right after creation and popDebugGroup() right before finish(). The
//   device's createCommandEncoder is wrapped with an own property on attach and restored on detach;
//   outside captured iterations the wrapper is one flag test.
// - `onRange(edge)`: a callback at the window edges, for drivers that start/stop an external tracer.
//   Without one, the edges go to the page-global hook `globalThis.wgprofCaptureRange(edge)` when it is
//   a function (public API: connectChromiumTracing in chromium-tracing.ts installs it under Playwright
//   to start/stop Chromium's own tracing). The hook is looked up at each edge (it may be installed
//   after the Profiler was made) and never awaited: the hot path only fires it. A hook that throws or
//   whose promise rejects is logged with log.warn, never thrown into the engine loop; a driver that
//   needs the tracer to be running (tests) awaits captureRangeSettled() at a point of its choosing.
//   Because nothing waits, the tracer starts a little after the start edge: the start mark itself is
//   normally not in an external trace, but every measure is (they are emitted when an iteration or
//   the window ends, with their start times), as long as the tracer started by then. (Chromium's
//   tracing took ~150 ms to start under Playwright on the test machine: measures of iterations that
//   end sooner are missed unless the driver awaits captureRangeSettled() after the step() that opened
//   the window.)

import { OwnPatch } from '../instrument/patch.js';
import { errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';

/** The page-global hook called at the window edges when no `onRange` is given (public API). */
export const CAPTURE_RANGE_HOOK = 'wgprofCaptureRange';

/** What `globalThis.wgprofCaptureRange` must be: called with the edge, its result (a promise) not awaited. */
export type CaptureRangeHook = (edge: RangeEdge) => unknown;

/** Hook calls whose promises have not settled yet (see captureRangeSettled). */
const inFlight = new Set<Promise<void>>();

/**
 * Calls `globalThis.wgprofCaptureRange(edge)` if it is a function; returns at once. A synchronous
 * throw or a rejected promise is logged (one warning per failed call), never thrown.
 */
export function callCaptureRangeHook(edge: RangeEdge): void {
  const hook = (globalThis as Record<string, unknown>)[CAPTURE_RANGE_HOOK];
  if (typeof hook !== 'function') return;
  const fail = (error: unknown): void => {
    log.warn(`globalThis.${CAPTURE_RANGE_HOOK}('${edge}') failed: ${errorMessage(error)}; the external trace may lack this window (the workload carries on).`);
  };
  let result: unknown;
  try {
    result = (hook as CaptureRangeHook)(edge);
  } catch (error) {
    fail(error);
    return;
  }
  if (!isThenable(result)) return;
  const settled: Promise<void> = Promise.resolve(result).then(
    () => undefined,
    (error: unknown) => fail(error),
  );
  inFlight.add(settled);
  void settled.finally(() => inFlight.delete(settled));
}

/**
 * Resolves once every `wgprofCaptureRange` call made so far has settled (failures already logged;
 * this never rejects). Off the hot path, for drivers that want the external tracer really started
 * or stopped before going on (e.g. tests that assert what the trace holds).
 */
export async function captureRangeSettled(): Promise<void> {
  while (inFlight.size > 0) await Promise.all([...inFlight]);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

export const PROFILE_START_MARK = 'wgprof:profile:start';
export const PROFILE_STOP_MARK = 'wgprof:profile:stop';
export const PROFILE_MEASURE = 'wgprof:profile';

/** The part of `performance` used here (injectable for tests). */
export interface UserTiming {
  now(): number;
  mark(name: string, options?: { startTime?: number; detail?: unknown }): unknown;
  measure(name: string, options: { start: number; end: number; detail?: unknown }): unknown;
}

export type RangeEdge = 'start' | 'stop';

export interface CudaRangeOptions {
  performance?: UserTiming;
  /** Called at the window edges. Default: `globalThis.wgprofCaptureRange` when present; null: nothing. */
  onRange?: ((edge: RangeEdge) => void) | null;
}

export class CudaRangeMarker {
  private readonly perf: UserTiming;
  private readonly onRange: ((edge: RangeEdge) => void) | undefined;
  private windowStartMs: number | undefined;
  private step: { step: number; startMs: number } | undefined;
  private iteration: { step: number; annotation: string; stepStartMs: number; startMs: number } | undefined;
  private patch: OwnPatch<GPUDevice> | undefined;
  /** Label pushed onto encoders created now; undefined outside captured iterations. */
  private groupLabel: string | undefined;

  constructor(options: CudaRangeOptions = {}) {
    this.perf = options.performance ?? performance;
    this.onRange = options.onRange === undefined ? callCaptureRangeHook : (options.onRange ?? undefined);
  }

  get inWindow(): boolean {
    return this.windowStartMs !== undefined;
  }

  /** Wraps the device's createCommandEncoder (debug groups). A second attach replaces the first. */
  attach(device: GPUDevice): void {
    this.detach();
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const marker = this;
    const patch = new OwnPatch(device);
    patch.define(
      'createCommandEncoder',
      (original) =>
        function (this: GPUDevice, descriptor?: GPUCommandEncoderDescriptor): GPUCommandEncoder {
          const encoder = original().call(this, descriptor) as GPUCommandEncoder;
          const label = marker.groupLabel;
          if (label === undefined) return encoder;
          encoder.pushDebugGroup(label);
          const finish = encoder.finish;
          // Own property on this encoder only: popped exactly once, just before the encoder closes.
          encoder.finish = function (this: GPUCommandEncoder, finishDescriptor?: GPUCommandBufferDescriptor) {
            this.popDebugGroup();
            return finish.call(this, finishDescriptor);
          };
          return encoder;
        },
    );
    this.patch = patch;
  }

  detach(): void {
    this.patch?.restore();
    this.patch = undefined;
  }

  /** The window opens (vLLM's cudaProfilerStart). */
  startRange(): void {
    const startMs = this.perf.now();
    this.perf.mark(PROFILE_START_MARK, { startTime: startMs });
    this.windowStartMs = startMs;
    this.onRange?.('start');
  }

  /** The window closes (cudaProfilerStop); an iteration still open is closed first. */
  stopRange(): void {
    if (this.iteration || this.step) this.endIteration();
    const startMs = this.windowStartMs;
    this.windowStartMs = undefined;
    const endMs = this.perf.now();
    this.perf.mark(PROFILE_STOP_MARK, { startTime: endMs });
    if (startMs !== undefined) this.perf.measure(PROFILE_MEASURE, { start: startMs, end: endMs });
    this.onRange?.('stop');
  }

  /** A captured iteration's step() ran: the ProfilerStep measure starts here. */
  beginStep(step: number): void {
    if (this.iteration || this.step) this.endIteration();
    this.step = { step, startMs: this.perf.now() };
  }

  /** The iteration's model execution begins: its annotation measure starts, debug groups on from here. */
  beginIteration(annotation: string): void {
    const step = this.step;
    if (!step) return;
    this.iteration = { step: step.step, annotation, stepStartMs: step.startMs, startMs: this.perf.now() };
    this.groupLabel = annotation || `ProfilerStep#${step.step}`;
  }

  endIteration(): void {
    this.groupLabel = undefined;
    const iteration = this.iteration;
    const step = this.step;
    if (!iteration && !step) return;
    this.iteration = undefined;
    this.step = undefined;
    const endMs = this.perf.now();
    if (iteration) {
      const detail = { step: iteration.step, annotation: iteration.annotation };
      this.perf.measure(`ProfilerStep#${iteration.step}`, { start: iteration.stepStartMs, end: endMs, detail });
      if (iteration.annotation) this.perf.measure(iteration.annotation, { start: iteration.startMs, end: endMs, detail });
    } else if (step) {
      this.perf.measure(`ProfilerStep#${step.step}`, { start: step.startMs, end: endMs, detail: { step: step.step } });
    }
  }
}
