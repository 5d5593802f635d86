// The frontend profiler: CPU spans of the API layer (request intake, tokenize, detokenize, scheduling
// decisions), as vLLM's AsyncLLM profiler records them: CPU-only, over the whole start..stop range,
// not iteration-aware (delay_iterations / max_iterations do not apply), its own trace file.

import type { CpuSpanRecord } from '../capture/model.js';
import { monotonicNowNs } from '../util/runtime.js';

export type SpanArgs = Record<string, string | number>;

export interface FrontendProfilerOptions {
  /** Clock in ns on the capture model's timeline (default performance.now() * 1e6). */
  nowNs?: () => number;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

export class FrontendProfiler {
  private readonly nowNs: () => number;
  private spans: CpuSpanRecord[] = [];
  private isRunning = false;
  /** Bumped at every start/stop so a promise that settles after its window closed is dropped. */
  private generation = 0;

  constructor(options: FrontendProfilerOptions = {}) {
    this.nowNs = options.nowNs ?? monotonicNowNs;
  }

  get running(): boolean {
    return this.isRunning;
  }

  /** Starts recording; a duplicate start is ignored (returns false). */
  start(): boolean {
    if (this.isRunning) return false;
    this.isRunning = true;
    this.generation += 1;
    this.spans = [];
    return true;
  }

  /**
   * Runs `fn`, recording a `cpu_op` span around it while running. A promise result ends the span when
   * it settles; spans still open at stop() are dropped (their end is unknown).
   */
  span<T>(name: string, fn: () => T, args?: SpanArgs): T {
    if (!this.isRunning) return fn();
    const generation = this.generation;
    const startNs = this.nowNs();
    let result: T;
    try {
      result = fn();
    } catch (error) {
      // As torch's record_function: the span of a throwing function still ends where it threw.
      this.record(generation, name, startNs, args);
      throw error;
    }
    if (isThenable(result)) {
      const end = () => this.record(generation, name, startNs, args);
      result.then(end, end);
    } else {
      this.record(generation, name, startNs, args);
    }
    return result;
  }

  /** Stops and hands over the spans, ordered by start; null when it was not running. */
  stop(): CpuSpanRecord[] | null {
    if (!this.isRunning) return null;
    this.isRunning = false;
    this.generation += 1;
    const spans = this.spans.sort((a, b) => a.startNs - b.startNs || b.endNs - a.endNs);
    this.spans = [];
    return spans;
  }

  private record(generation: number, name: string, startNs: number, args: SpanArgs | undefined): void {
    if (generation !== this.generation) return;
    const span: CpuSpanRecord = { name, cat: 'cpu_op', startNs, endNs: this.nowNs() };
    if (args) span.args = { ...args };
    this.spans.push(span);
  }
}
