// createEngine with vLLM's `--profiler-config`: the one place where a ProfilerConfig becomes profiler
// hooks for the engine. The engine itself (./engine.ts) knows only the hooks interface.

import { parseProfilerConfig } from '../config/index.js';
import { createProfiler } from '../profiler/profiler.js';
import { createEngine as createEngineWithHooks, type Engine, type EngineOptions } from './engine.js';

export interface ProfiledEngineOptions extends EngineOptions {
  /**
   * A vLLM ProfilerConfig (object or JSON text), parsed here (ProfilerConfigError when invalid); gives a
   * Profiler, or no profiler when `profiler` is null. Ignored when `profiler` hooks are given.
   */
  profilerConfig?: unknown;
}

export async function createEngine(options: ProfiledEngineOptions): Promise<Engine> {
  if (
    options === null ||
    typeof options !== 'object' ||
    options.profiler !== undefined ||
    options.profilerConfig === undefined ||
    options.profilerConfig === null
  ) {
    return createEngineWithHooks(options);
  }
  const { profilerConfig, ...rest } = options;
  return createEngineWithHooks({ ...rest, profiler: createProfiler(parseProfilerConfig(profilerConfig)) });
}
