// OpenAI's /v1/completions over the engine: the request body checked field by field (each mistake
// is a 400 naming the field, what was given and what is accepted), and the response shapes, whole
// and streamed (server-sent events), as vLLM's OpenAI server answers them.

import { randomUUID } from 'node:crypto';
import type { FinishReason, GenerateResult, Prompt, SamplingParams } from '../engine/requests.js';
import { HttpError } from './http.js';

export interface CompletionRequest {
  prompts: Prompt[];
  params: SamplingParams;
  stream: boolean;
  /** stream_options.include_usage: a last chunk with the token counts. */
  includeUsage: boolean;
}

function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function invalid(param: string, value: unknown, expected: string): HttpError {
  return new HttpError(400, 'INVALID_PARAMETER', `${param} must be ${expected} (got ${shown(value)}).`, param);
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

function optionalInt(body: Record<string, unknown>, key: string, min: number, expected: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!isInt(v) || v < min) throw invalid(key, v, expected);
  return v;
}

/** Fields OpenAI defines that this engine does not implement: accepted only at their no-op value. */
const NO_OP_FIELDS: Record<string, { ok: (v: unknown) => boolean; expected: string }> = {
  n: { ok: (v) => v === 1, expected: '1 (one completion per prompt)' },
  best_of: { ok: (v) => v === 1, expected: '1' },
  echo: { ok: (v) => v === false, expected: 'false' },
  logprobs: { ok: (v) => v === 0 || v === false, expected: 'null (log probabilities are not returned)' },
  top_p: { ok: (v) => v === 1, expected: '1 (nucleus sampling is not implemented; use top_k)' },
  presence_penalty: { ok: (v) => v === 0, expected: '0 (penalties are not implemented)' },
  frequency_penalty: { ok: (v) => v === 0, expected: '0 (penalties are not implemented)' },
  suffix: { ok: () => false, expected: 'null (suffixes are not supported)' },
  logit_bias: { ok: (v) => typeof v === 'object' && v !== null && Object.keys(v).length === 0, expected: 'null (logit bias is not supported)' },
};

function parsePrompts(value: unknown): Prompt[] {
  const expected = 'a non-empty string, an array of strings, an array of token ids, or an array of token id arrays';
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value) || value.length === 0) throw invalid('prompt', value, expected);
  if (value.every((v) => typeof v === 'string')) return value as string[];
  if (value.every(isInt)) return [{ promptTokenIds: value as number[] }];
  if (value.every((v) => Array.isArray(v) && v.length > 0 && v.every(isInt))) return (value as number[][]).map((ids) => ({ promptTokenIds: ids }));
  throw invalid('prompt', value, expected);
}

/**
 * Checks a /v1/completions body. Fields: prompt (required), max_tokens, temperature, top_k, seed,
 * stop, stream, stream_options.include_usage, model (must name the served model when given),
 * ignore_eos (accepted: the byte tokenizer has no end-of-sequence token); OpenAI fields this engine
 * does not implement are accepted only at their no-op values; other fields are ignored, as vLLM does.
 */
export function parseCompletionRequest(body: unknown, servedModel: string): CompletionRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError(
      400,
      'INVALID_REQUEST',
      `the request body must be a JSON object such as {"prompt": "Hello", "max_tokens": 16} (got ${Array.isArray(body) ? 'an array' : shown(body)}).`,
    );
  }
  const b = body as Record<string, unknown>;
  if (b['model'] !== undefined && b['model'] !== null && b['model'] !== servedModel) {
    throw new HttpError(
      404,
      'MODEL_NOT_FOUND',
      `The model ${shown(b['model'])} does not exist; this server serves "${servedModel}" (omit "model" or use that name).`,
      'model',
    );
  }
  if (b['prompt'] === undefined) throw invalid('prompt', undefined, 'given: the text to complete');
  const prompts = parsePrompts(b['prompt']);
  for (const [key, rule] of Object.entries(NO_OP_FIELDS)) {
    const v = b[key];
    if (v !== undefined && v !== null && !rule.ok(v)) throw invalid(key, v, rule.expected);
  }
  const params: SamplingParams = {};
  const maxTokens = optionalInt(b, 'max_tokens', 1, 'an integer ≥ 1');
  if (maxTokens !== undefined) params.maxTokens = maxTokens;
  const temperature = b['temperature'];
  if (temperature !== undefined && temperature !== null) {
    if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0)
      throw invalid('temperature', temperature, 'a number ≥ 0 (0 = greedy)');
    params.temperature = temperature;
  }
  const topK = optionalInt(b, 'top_k', -1, 'an integer ≥ 1, or 0 / -1 for no limit');
  if (topK !== undefined) params.topK = topK;
  const seed = b['seed'];
  if (seed !== undefined && seed !== null) {
    if (!isInt(seed)) throw invalid('seed', seed, 'an integer');
    params.seed = seed;
  }
  const stop = b['stop'];
  if (stop !== undefined && stop !== null) {
    const list = typeof stop === 'string' ? [stop] : stop;
    if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || s === ''))
      throw invalid('stop', stop, 'a non-empty string or an array of non-empty strings');
    if (list.length > 0) params.stop = list as string[];
  }
  const ignoreEos = b['ignore_eos'];
  if (ignoreEos !== undefined && ignoreEos !== null && typeof ignoreEos !== 'boolean') throw invalid('ignore_eos', ignoreEos, 'true or false');
  const stream = b['stream'] ?? false;
  if (typeof stream !== 'boolean') throw invalid('stream', stream, 'true or false');
  const options = b['stream_options'];
  let includeUsage = false;
  if (options !== undefined && options !== null) {
    if (!stream) throw invalid('stream_options', options, 'null unless stream is true');
    if (typeof options !== 'object' || Array.isArray(options)) throw invalid('stream_options', options, 'an object such as {"include_usage": true}');
    const usage = (options as Record<string, unknown>)['include_usage'] ?? false;
    if (typeof usage !== 'boolean') throw invalid('stream_options.include_usage', usage, 'true or false');
    includeUsage = usage;
  }
  return { prompts, params, stream, includeUsage };
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usageOf(results: readonly GenerateResult[]): Usage {
  const prompt = results.reduce((n, r) => n + r.promptTokenIds.length, 0);
  const completion = results.reduce((n, r) => n + r.tokenIds.length, 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export interface CompletionChoice {
  index: number;
  text: string;
  logprobs: null;
  finish_reason: FinishReason | null;
  /** vLLM's extra: the stop string that matched, else null. */
  stop_reason: string | null;
}

/** One response (or one chunk): the fields every completion object carries. */
export class CompletionShape {
  readonly id = `cmpl-${randomUUID().replace(/-/g, '')}`;
  readonly created = Math.floor(Date.now() / 1000);
  constructor(readonly model: string) {}

  choice(index: number, text: string, result: GenerateResult | undefined): CompletionChoice {
    return { index, text, logprobs: null, finish_reason: result?.finishReason ?? null, stop_reason: result?.stopReason ?? null };
  }

  /** The whole answer of a request that was not streamed. */
  response(results: readonly GenerateResult[]): Record<string, unknown> {
    return {
      id: this.id,
      object: 'text_completion',
      created: this.created,
      model: this.model,
      choices: results.map((r, i) => this.choice(i, r.text, r)),
      usage: usageOf(results),
    };
  }

  /** One server-sent event of a streamed answer. */
  chunk(choices: CompletionChoice[], usage?: Usage): string {
    const body: Record<string, unknown> = { id: this.id, object: 'text_completion', created: this.created, model: this.model, choices };
    if (usage) body['usage'] = usage;
    return `data: ${JSON.stringify(body)}\n\n`;
  }
}
