// Requests: sampling parameters (validated up front, vLLM's names and defaults in camelCase), the
// per-request state the engine and scheduler share, detokenization with stop strings, and the result
// a caller gets back.

import { WgprofError } from '../util/errors.js';
import { SeededRandom } from './rng.js';
import type { SequenceState } from './scheduler.js';
import type { TokenStreamDecoder, Tokenizer } from './tokenizer.js';

/** A prompt: text (tokenized by the engine's tokenizer) or token ids (vLLM's TokensPrompt). */
export type Prompt = string | { promptTokenIds: readonly number[] };

export interface SamplingParams {
  /** Most tokens to generate (vLLM `max_tokens`, default 16). Generation also stops when the context is full. */
  maxTokens?: number;
  /** 0 = greedy; default 1 (vLLM's default). */
  temperature?: number;
  /** Sample among the k most likely tokens; 0 or -1 = all (default). */
  topK?: number;
  /** Seed of this request's generator; default: derived from the engine seed and the request's index. */
  seed?: number;
  /** Stop when the generated text contains one of these; the stop string is not part of the text (vLLM). */
  stop?: string | readonly string[];
}

export interface ResolvedSamplingParams {
  maxTokens: number;
  temperature: number;
  topK: number;
  seed: number;
  stop: string[];
}

/** vLLM's default `max_tokens`. */
export const DEFAULT_MAX_TOKENS = 16;

/**
 * Why a request ended (vLLM's finish_reason): 'stop' = a stop string matched; 'length' = maxTokens
 * reached or the context is full; 'abort' = `RequestHandle.abort()`.
 */
export type FinishReason = 'stop' | 'length' | 'abort';

export interface RequestTimings {
  /** Arrival (addRequest) → first iteration that fed this request. */
  queueMs: number;
  /** Arrival → first generated token (time to first token); null when the request ended before its first token (abort). */
  ttftMs: number | null;
  /** Gap between consecutive generated tokens (one entry per token after the first). */
  interTokenLatenciesMs: number[];
  /** Arrival → finish. */
  totalMs: number;
}

export interface GenerateResult {
  requestId: number;
  /** The prompt as text (decoded when the prompt was given as token ids). */
  prompt: string;
  promptTokenIds: number[];
  /** Generated text, cut before the stop string when one matched. */
  text: string;
  /** Every generated token id (including those of a matched stop string). */
  tokenIds: number[];
  finishReason: FinishReason;
  /** The stop string that matched (finishReason 'stop'). */
  stopReason?: string;
  timings: RequestTimings;
  /** The seed the request sampled with (pass it back to reproduce the output). */
  seed: number;
}

function fieldError(field: string, given: unknown, expected: string): WgprofError {
  const shown = typeof given === 'string' ? JSON.stringify(given) : String(given);
  return new WgprofError('INVALID_SAMPLING_PARAMS', `${field} must be ${expected} (got ${shown}).`);
}

/** Validates sampling parameters against the model; every problem is a WgprofError naming the field. */
export function resolveSamplingParams(params: SamplingParams | undefined, defaults: { seed: number; vocabSize: number }): ResolvedSamplingParams {
  const p = params ?? {};
  if (typeof p !== 'object') throw fieldError('sampling params', p, 'an object such as { maxTokens: 16 }');
  const maxTokens = p.maxTokens ?? DEFAULT_MAX_TOKENS;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw fieldError('maxTokens', maxTokens, 'an integer ≥ 1 (tokens to generate)');
  const temperature = p.temperature ?? 1;
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0) {
    throw fieldError('temperature', temperature, 'a finite number ≥ 0 (0 = greedy)');
  }
  let topK = p.topK ?? 0;
  if (!Number.isInteger(topK) || topK < -1) throw fieldError('topK', topK, `an integer ≥ 1, or 0 / -1 for no limit`);
  // -1 is vLLM's older spelling of "no limit"; a k at least the vocabulary size restricts nothing.
  if (topK === -1 || topK >= defaults.vocabSize) topK = 0;
  const seed = p.seed ?? defaults.seed;
  if (!Number.isSafeInteger(seed)) throw fieldError('seed', seed, 'a safe integer');
  const stopList = p.stop === undefined ? [] : typeof p.stop === 'string' ? [p.stop] : [...p.stop];
  for (const [i, s] of stopList.entries()) {
    if (typeof s !== 'string' || s.length === 0) throw fieldError(`stop[${i}]`, s, 'a non-empty string');
  }
  return { maxTokens, temperature, topK, seed, stop: stopList };
}

/** Turns a prompt into token ids, checking them against the model; errors name the prompt and the fix. */
export function tokenizePrompt(
  prompt: Prompt,
  tokenizer: Tokenizer,
  model: { vocabSize: number; contextLength: number },
): { text: string; tokenIds: number[] } {
  let text: string;
  let tokenIds: number[];
  if (typeof prompt === 'string') {
    text = prompt;
    tokenIds = tokenizer.encode(prompt);
  } else if (prompt !== null && typeof prompt === 'object' && Array.isArray(prompt.promptTokenIds)) {
    tokenIds = [...prompt.promptTokenIds];
    for (const [i, id] of tokenIds.entries()) {
      if (!Number.isInteger(id) || id < 0 || id >= model.vocabSize) {
        throw new WgprofError(
          'INVALID_TOKEN_ID',
          `promptTokenIds[${i}] is ${String(id)}; token ids must be integers in 0..${model.vocabSize - 1} for this model.`,
        );
      }
    }
    text = tokenizer.decode(tokenIds);
  } else {
    throw new WgprofError('INVALID_PROMPT', `a prompt must be a string or { promptTokenIds: number[] } (got ${describe(prompt)}).`);
  }
  if (tokenIds.length === 0) {
    throw new WgprofError('EMPTY_PROMPT', 'the prompt is empty; give at least one character (or one token id).');
  }
  // vLLM rejects prompts longer than max_model_len; here one position must also remain for the first generated token.
  if (tokenIds.length >= model.contextLength) {
    throw new WgprofError(
      'PROMPT_TOO_LONG',
      `the prompt is ${tokenIds.length} tokens but the model's context is ${model.contextLength} tokens (prompt + generated); ` +
        `shorten the prompt to at most ${model.contextLength - 1} tokens or use a model with a longer context.`,
    );
  }
  return { text, tokenIds };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/** A request inside the engine: scheduler state + sampling + detokenized text + timings + its promise. */
export class EngineRequest implements SequenceState {
  readonly id: number;
  readonly promptText: string;
  readonly promptTokenIds: readonly number[];
  readonly outputTokenIds: number[] = [];
  readonly params: ResolvedSamplingParams;
  readonly rng: SeededRandom;
  numComputedTokens = 0;
  slot: number | undefined = undefined;

  text = '';
  finishReason: FinishReason | undefined;
  stopReason: string | undefined;
  abortRequested = false;
  private failed = false;

  readonly arrivalMs: number;
  firstScheduledMs: number | undefined;
  readonly tokenTimesMs: number[] = [];
  finishedMs: number | undefined;

  readonly result: Promise<GenerateResult>;
  private settle!: { resolve: (r: GenerateResult) => void; reject: (e: unknown) => void };
  private readonly decoder: TokenStreamDecoder;
  private readonly maxStopLength: number;

  constructor(init: { id: number; promptText: string; promptTokenIds: number[]; params: ResolvedSamplingParams; tokenizer: Tokenizer; arrivalMs: number }) {
    this.id = init.id;
    this.promptText = init.promptText;
    this.promptTokenIds = init.promptTokenIds;
    this.params = init.params;
    this.rng = new SeededRandom(init.params.seed);
    this.decoder = init.tokenizer.createStreamDecoder();
    this.arrivalMs = init.arrivalMs;
    this.maxStopLength = Math.max(0, ...init.params.stop.map((s) => s.length));
    this.result = new Promise<GenerateResult>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // A rejected request whose caller never awaits it must not crash Node as an unhandled rejection;
    // callers that do await still see the error.
    this.result.catch(() => undefined);
  }

  get finished(): boolean {
    return this.finishReason !== undefined || this.failed;
  }

  /**
   * Appends a sampled token and its text; returns the stop string when the text now contains one
   * (the text is then cut right before it, as vLLM does with include_stop_str_in_output=false).
   */
  appendToken(id: number, nowMs: number): string | undefined {
    this.outputTokenIds.push(id);
    this.tokenTimesMs.push(nowMs);
    if (this.stopReason !== undefined) return this.stopReason;
    const before = this.text.length;
    this.text += this.decoder.push(id);
    if (this.maxStopLength === 0 || this.text.length === before) return undefined;
    // Only a match that ends in the new text is new: search from maxStopLength-1 characters back.
    const from = Math.max(0, before - this.maxStopLength + 1);
    let cut = -1;
    let which: string | undefined;
    for (const stop of this.params.stop) {
      const at = this.text.indexOf(stop, from);
      if (at >= 0 && (cut < 0 || at < cut)) {
        cut = at;
        which = stop;
      }
    }
    if (which === undefined) return undefined;
    this.text = this.text.slice(0, cut);
    this.stopReason = which;
    return which;
  }

  finish(reason: FinishReason, nowMs: number): void {
    if (this.finished) return;
    this.finishReason = reason;
    this.finishedMs = nowMs;
    // Bytes of an unfinished multibyte character at the end become U+FFFD (only when no stop string cut the text).
    if (reason !== 'stop') this.text += this.decoder.flush();
    this.settle.resolve(this.toResult(nowMs));
  }

  fail(error: unknown, nowMs: number): void {
    if (this.finished) return;
    this.failed = true;
    this.finishedMs = nowMs;
    this.settle.reject(error);
  }

  private toResult(nowMs: number): GenerateResult {
    const first = this.tokenTimesMs[0];
    const gaps: number[] = [];
    for (let i = 1; i < this.tokenTimesMs.length; i++) gaps.push((this.tokenTimesMs[i] as number) - (this.tokenTimesMs[i - 1] as number));
    const result: GenerateResult = {
      requestId: this.id,
      prompt: this.promptText,
      promptTokenIds: [...this.promptTokenIds],
      text: this.text,
      tokenIds: [...this.outputTokenIds],
      finishReason: this.finishReason ?? 'abort',
      timings: {
        queueMs: this.firstScheduledMs === undefined ? nowMs - this.arrivalMs : this.firstScheduledMs - this.arrivalMs,
        ttftMs: first === undefined ? null : first - this.arrivalMs,
        interTokenLatenciesMs: gaps,
        totalMs: nowMs - this.arrivalMs,
      },
      seed: this.params.seed,
    };
    if (this.stopReason !== undefined) result.stopReason = this.stopReason;
    return result;
  }
}
