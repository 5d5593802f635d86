// `wgprof/engine`: the inference engine (continuous batching over wgprof's kernels, byte tokenizer,
// GPT-2-shaped presets) that `wgprof run` and `wgprof serve` drive; createEngine takes vLLM's
// `--profiler-config`. A subpath of its own: the profiler (`wgprof`) does not carry it.
export { createEngine } from './profiled.js';
export type { ProfiledEngineOptions } from './profiled.js';
export { DEFAULT_MAX_SLOTS, DEFAULT_MAX_BATCH_TOKENS } from './engine.js';
export type { Engine, EngineOptions, EngineStats, RequestHandle, StepReport } from './engine.js';
export { presets, presetNames, getPreset } from './presets.js';
export type { PresetName } from './presets.js';
export { DEFAULT_MAX_TOKENS } from './requests.js';
export type { FinishReason, GenerateResult, Prompt, RequestTimings, SamplingParams } from './requests.js';
export { ByteTokenizer, byteTokenizer, TokenStreamDecoder } from './tokenizer.js';
export type { Tokenizer } from './tokenizer.js';
export { loadSafetensors } from './weights.js';
export type { LayerWeights, ModelWeights } from './weights.js';
export type { BatchSequence, ModelConfig, ModelRunner } from './types.js';
