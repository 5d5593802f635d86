// The inference engine's public surface.
export { resolveModelConfig, InferenceEngine, DEFAULT_MAX_SLOTS, DEFAULT_MAX_BATCH_TOKENS } from './engine.js';
export { createEngine } from './profiled.js';
export type { ProfiledEngineOptions } from './profiled.js';
export type { Engine, EngineOptions, EngineStats, RequestHandle, StepReport } from './engine.js';
export { presets, presetNames, getPreset } from './presets.js';
export type { PresetName } from './presets.js';
export { resolveSamplingParams, tokenizePrompt, DEFAULT_MAX_TOKENS } from './requests.js';
export type { FinishReason, GenerateResult, Prompt, RequestTimings, ResolvedSamplingParams, SamplingParams } from './requests.js';
export { Scheduler, iterationAnnotation, reachedLengthLimit, validateSchedulerConfig } from './scheduler.js';
export type { ChunkPhase, ScheduledChunk, SchedulerConfig, SchedulerOutput, SequenceState } from './scheduler.js';
export { ByteTokenizer, TokenStreamDecoder, byteTokenizer, BYTE_VOCAB_SIZE } from './tokenizer.js';
export type { Tokenizer } from './tokenizer.js';
export { SeededRandom, deriveSeed } from './rng.js';
export type { BatchSequence, ModelConfig, ModelRunner } from './types.js';
