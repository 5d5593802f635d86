// The one engine loop of a server: steps the engine while it holds requests, sleeps when it holds
// none, wakes when a request arrives. Requests join the running batch at the next iteration
// (continuous batching is the engine's scheduler). The loop gives the event loop a turn between
// iterations so HTTP requests, streamed chunks and /metrics are served while the engine is busy.

import type { Engine, StepReport } from '../engine/engine.js';
import { WgprofError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';

/** Errors after which the engine cannot run again. */
const FATAL_CODES = new Set(['DEVICE_LOST', 'ENGINE_DESTROYED']);

export interface EngineLoopHooks {
  /** After each iteration. */
  onStep(report: StepReport): void;
  /**
   * step() failed outside a forward (a forward failure only rejects the requests it carried, inside
   * the engine). Requests waiting on the engine may never settle then: the server fails them.
   */
  onError(error: WgprofError, fatal: boolean): void;
}

export class EngineLoop {
  private wake: (() => void) | undefined;
  private stopping = false;
  private idleWaiters: (() => void)[] = [];
  private readonly done: Promise<void>;
  /** Set when the engine can run no more (device lost, destroyed). */
  fatal: WgprofError | undefined;

  constructor(
    private readonly engine: Engine,
    private readonly hooks: EngineLoopHooks,
  ) {
    this.done = this.run();
  }

  /** A request was added: step soon. */
  notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Resolves when the engine holds no request (at once when it holds none). */
  whenIdle(): Promise<void> {
    if (!this.engine.hasUnfinishedRequests() || this.fatal) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Ends the loop after the iteration in flight. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.notify();
    await this.done;
    this.settleIdle();
  }

  private settleIdle(): void {
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      if (this.fatal || !this.engine.hasUnfinishedRequests()) {
        this.settleIdle();
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        continue;
      }
      try {
        const report = await this.engine.step();
        if (report) this.hooks.onStep(report);
      } catch (error) {
        const wrapped =
          error instanceof WgprofError ? error : new WgprofError('ENGINE_FAILED', `an engine iteration failed: ${errorMessage(error)}`, { cause: error });
        const fatal = FATAL_CODES.has(wrapped.code);
        if (fatal) this.fatal = wrapped;
        log.error(`engine loop: ${wrapped.message}`);
        this.hooks.onError(wrapped, fatal);
      }
      // One event-loop turn between iterations (the forward's own awaits may all be resolved already).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}
