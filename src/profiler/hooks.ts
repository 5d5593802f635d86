// What the engine loop calls on its profiler. The engine depends on this interface only; the
// Profiler class (src/profiler/profiler.ts) implements it. Every method must be cheap when the
// profiler is not capturing, and must never throw into the engine loop (unless `strict`).

import type { AdapterFacts } from '../gpu/device.js';

/** Options of `stop()`. */
export interface ProfileStopOptions {
  /** The signal that interrupted the run (e.g. 'SIGINT'): the worker trace records it as `wgprof.interrupted`. */
  interrupted?: string;
}

/** Options of `start()`: bounds for this session only (vLLM main's per-call overrides); the next start() uses the config's. */
export interface ProfileStartOptions {
  /** `delay_iterations` for this session (integer >= 0). */
  delayIterations?: number;
  /** `max_iterations` for this session (integer >= 0; 0 = no limit). */
  maxIterations?: number;
}

export interface EngineProfilerHooks {
  /** vLLM's `profiler.step()`: called first thing in every engine iteration, before the model runs. */
  step(): void;
  /**
   * Brackets the model execution of one iteration. `annotation` is vLLM's
   * `execute_context_{nCtxReq}({ctxTok})_generation_{nGenReq}({genTok})`.
   */
  beginIteration(annotation: string): void;
  /** Ends the iteration begun last; called after its GPU work was submitted and sampled. */
  endIteration(): void;
  /** A frontend (API-layer) CPU span: request intake, tokenize, detokenize, scheduling decisions. */
  frontendSpan<T>(name: string, fn: () => T, args?: Record<string, string | number>): T;
  /**
   * Attach GPU instrumentation to the engine's device. `facts` (optional, additive) describes its
   * adapter for the trace's deviceProperties; without it the profiler derives what the device exposes.
   */
  attach(device: GPUDevice, facts?: AdapterFacts): void;
  detach(): void;
  /** `/start_profile`, optionally bounding this session. */
  start(options?: ProfileStartOptions): void;
  /**
   * `/stop_profile`: resolves to the files written by the windows it ended (none during the delay);
   * rejects (the Profiler's ProfilerExportError) when one of them could not be written.
   */
  stop(options?: ProfileStopOptions): Promise<string[]>;
}

/** The hooks an engine uses when no profiler is configured. */
export const noProfiler: EngineProfilerHooks = {
  step() {},
  beginIteration() {},
  endIteration() {},
  frontendSpan: (_name, fn) => fn(),
  attach() {},
  detach() {},
  start() {},
  stop: async () => [],
};
