// `wgprof run`'s engine driver: creates the engine, submits the requests, steps until they finish (or a
// signal asks it to stop), stops the profiler and measures. The caller prints.

import { createEngine, type Engine, type EngineOptions } from '../../engine/engine.js';
import type { GenerateResult, SamplingParams } from '../../engine/requests.js';
import { ProfilerExportError, type ProfileFailure } from '../../profiler/failures.js';
import { createProfiler } from '../../profiler/profiler.js';
import { WgprofError } from '../../util/errors.js';
import { log } from '../../util/log.js';
import { UsageError } from '../command.js';
import type { RunOptions } from './options.js';

export interface RunSummary {
  model: string;
  requests: number;
  promptTokens: number;
  generatedTokens: number;
  steps: number;
  /** Engine creation: device, weights, pipelines. */
  initMs: number;
  /** First request added → last request finished (or the interruption). */
  wallMs: number;
  /** Generated tokens / wallMs. */
  tokensPerSecond: number;
  ttftP50Ms: number;
  ttftP90Ms: number;
  /** Median gap between consecutive tokens over all requests. */
  interTokenP50Ms: number;
  traceFiles: string[];
  /** Profile files that could not be written (the run then exits 1), each naming the file and the cause. */
  profileFailures?: ProfileFailure[];
  /** The signal that stopped the run early (the summary covers what finished before it). */
  interrupted?: string;
}

export interface RunControl {
  /** Read after each engine step: once set (to the signal's name), the run stops, keeping what it has. */
  interrupted?: () => string | undefined;
  onProgress?: (steps: number, generatedTokens: number, elapsedMs: number) => void;
}

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

/**
 * Runs the engine as the options say. Throws on setup errors; failed requests come back as errors, a
 * profile that could not be written as `profileError` (the summary lists what was written).
 * Interrupted, it stops after the step in flight: the profiler writes what it captured (the worker trace
 * marked `wgprof.interrupted`) and `results` holds the requests that finished.
 */
export async function runEngine(
  options: RunOptions,
  control: RunControl = {},
): Promise<{ engine: Engine; results: (GenerateResult | Error)[]; summary: RunSummary; profileError?: ProfilerExportError }> {
  const interrupted = control.interrupted ?? (() => undefined);
  const initStart = performance.now();
  const engineOptions: EngineOptions = { model: options.model, seed: options.seed, backend: options.backend };
  if (options.maxBatchTokens !== undefined) engineOptions.maxBatchTokens = options.maxBatchTokens;
  if (options.maxSlots !== undefined) engineOptions.maxSlots = options.maxSlots;
  // The config was parsed once, with the arguments; the engine gets the profiler hooks made from it.
  // (`"profiler": null` is a config that profiles nothing: the run is not profiled.)
  const profilerConfig = options.profilerConfig?.profiler ? options.profilerConfig : undefined;
  if (profilerConfig) engineOptions.profiler = createProfiler(profilerConfig, options.launchNames !== undefined ? { launchNames: options.launchNames } : {});
  const engine = await createEngine(engineOptions);
  const initMs = performance.now() - initStart;
  try {
    const outcomes: (GenerateResult | Error)[] = [];
    const startMs = performance.now();
    if (!interrupted()) {
      if (profilerConfig) {
        engine.startProfile();
        log.info(`profiler started (${profilerConfig.profiler}); Ctrl-C stops the run and writes what was captured.`);
      }
      const params: SamplingParams = { maxTokens: options.maxTokens, temperature: options.temperature, topK: options.topK };
      if (options.stop.length > 0) params.stop = options.stop;
      const count = options.requests > 0 ? options.requests : options.prompts.length;
      const settled: Promise<unknown>[] = [];
      for (let i = 0; i < count; i++) {
        const prompt = options.prompts[i % options.prompts.length]!;
        let handle;
        try {
          handle = engine.addRequest(prompt, params);
        } catch (error) {
          // A prompt the model cannot take is a usage error (e.g. longer than the context).
          throw error instanceof WgprofError ? new UsageError(`request ${i} (prompt ${JSON.stringify(prompt)}): ${error.message}`) : error;
        }
        settled.push(
          handle.result.then(
            (r) => (outcomes[i] = r),
            (e: unknown) => (outcomes[i] = e instanceof Error ? e : new Error(String(e))),
          ),
        );
      }
      while (engine.hasUnfinishedRequests() && !interrupted()) {
        await engine.step();
        control.onProgress?.(engine.stats.steps, engine.stats.generatedTokens, performance.now() - startMs);
      }
      if (!interrupted()) await Promise.all(settled);
    }
    const wallMs = performance.now() - startMs;
    const signal = interrupted();
    let traceFiles: string[] = [];
    let profileError: ProfilerExportError | undefined;
    try {
      if (profilerConfig) traceFiles = await engine.stopProfile(signal ? { interrupted: signal } : {});
    } catch (error) {
      // A profile that could not be written fails the run, after the summary (with what was written).
      if (!(error instanceof ProfilerExportError)) throw error;
      profileError = error;
      traceFiles = error.files;
    }
    // Interrupted: only the requests that finished, at their own indexes (the array has holes).
    const results = outcomes;
    const ok = results.filter((r): r is GenerateResult => !(r instanceof Error));
    const ttfts = ok.map((r) => r.timings.ttftMs).filter((t): t is number => t !== null);
    const summary: RunSummary = {
      model: options.model,
      requests: results.filter(() => true).length,
      promptTokens: engine.stats.promptTokens,
      generatedTokens: engine.stats.generatedTokens,
      steps: engine.stats.steps,
      initMs,
      wallMs,
      tokensPerSecond: wallMs > 0 ? engine.stats.generatedTokens / (wallMs / 1000) : 0,
      ttftP50Ms: percentile(ttfts, 50),
      ttftP90Ms: percentile(ttfts, 90),
      interTokenP50Ms: percentile(
        ok.flatMap((r) => r.timings.interTokenLatenciesMs),
        50,
      ),
      traceFiles,
      ...(profileError ? { profileFailures: profileError.failures } : {}),
      ...(signal ? { interrupted: signal } : {}),
    };
    return { engine, results, summary, ...(profileError ? { profileError } : {}) };
  } catch (error) {
    await engine.destroy();
    throw error;
  }
}
