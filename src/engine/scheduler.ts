// The scheduler: which requests run in the next iteration and with which tokens. Pure (no GPU, no
// clock), so it is unit-tested on its own.
//
// Continuous batching (vLLM v1's policy, without preemption because every request owns a whole
// KV-cache slot of `contextLength` positions):
//   1. every running request that is decoding gets 1 token (its last sampled one), in arrival order;
//   2. the rest of the token budget (`maxBatchTokens`) goes to prompt chunks, in arrival order: first
//      requests whose prefill is under way, then waiting requests, each admitted only when a KV slot
//      is free (lowest free slot first). A prompt longer than what is left of the budget is split
//      (chunked prefill) and continues in the next iteration.
// A request samples its first token in the iteration that feeds its last prompt token.

import { WgprofError } from '../util/errors.js';

export interface SchedulerConfig {
  /** KV-cache slots: the most requests that hold cache at once. */
  maxSlots: number;
  /** Most tokens one iteration may carry (decode tokens + prompt chunks). */
  maxBatchTokens: number;
  /** Positions per slot: prompt + generated tokens of one request. */
  contextLength: number;
}

/** What the scheduler reads and updates on a request. */
export interface SequenceState {
  readonly id: number;
  readonly promptTokenIds: readonly number[];
  /** Sampled tokens so far (the engine appends them). */
  readonly outputTokenIds: number[];
  /** Tokens whose keys/values are in the KV cache (= position of the next token fed). */
  numComputedTokens: number;
  /** KV-cache slot, while the request holds one. */
  slot: number | undefined;
}

export type ChunkPhase = 'context' | 'generation';

/** One request's share of an iteration. */
export interface ScheduledChunk<S extends SequenceState = SequenceState> {
  sequence: S;
  /**
   * vLLM's classification (compute_iteration_details): 'context' while the request has no output
   * token yet (a new request or a further chunk of a chunked prefill), else 'generation'.
   */
  phase: ChunkPhase;
  slot: number;
  /** Position of tokenIds[0] (tokens already in the slot's cache). */
  startPosition: number;
  tokenIds: number[];
  /** Whether this chunk ends at the last known token, so a next token is sampled from it. */
  sample: boolean;
}

export interface SchedulerOutput<S extends SequenceState = SequenceState> {
  /** Generation chunks first, then context chunks, each group in arrival order. */
  chunks: ScheduledChunk<S>[];
  contextRequests: number;
  contextTokens: number;
  generationRequests: number;
  generationTokens: number;
  /** Requests given a KV slot (admitted from the waiting queue) in this decision. */
  admitted: S[];
}

function checkPositiveInteger(field: string, value: number, hint: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new WgprofError('INVALID_ENGINE_OPTION', `${field} must be an integer ≥ 1 (got ${String(value)}); ${hint}`);
  }
}

export function validateSchedulerConfig(config: SchedulerConfig): void {
  checkPositiveInteger('maxSlots', config.maxSlots, 'it is how many requests hold a KV-cache slot at once (e.g. 4).');
  checkPositiveInteger('maxBatchTokens', config.maxBatchTokens, 'it is the token budget of one iteration (e.g. 128).');
  checkPositiveInteger('contextLength', config.contextLength, "it is the model's maximum tokens per request.");
  if (config.maxBatchTokens < config.maxSlots) {
    // vLLM has the same rule (max_num_batched_tokens >= max_num_seqs): otherwise decoding requests
    // can be starved of their one token per iteration.
    throw new WgprofError(
      'INVALID_ENGINE_OPTION',
      `maxBatchTokens (${config.maxBatchTokens}) must be ≥ maxSlots (${config.maxSlots}), so every running request can decode ` +
        `one token per iteration; raise maxBatchTokens or lower maxSlots.`,
    );
  }
}

/** Whether the sequence has fed its whole prompt (it decodes from now on). */
export function isPrefillDone(seq: SequenceState): boolean {
  return seq.numComputedTokens >= seq.promptTokenIds.length;
}

/** Total tokens of the sequence: prompt + generated. */
export function sequenceLength(seq: SequenceState): number {
  return seq.promptTokenIds.length + seq.outputTokenIds.length;
}

/**
 * vLLM's length stop: the request is done when it has `maxTokens` output tokens, or when its KV slot
 * is full (one more token would not fit in the context). Both are finish reason 'length'.
 */
export function reachedLengthLimit(seq: SequenceState, maxTokens: number, contextLength: number): boolean {
  return seq.outputTokenIds.length >= maxTokens || sequenceLength(seq) >= contextLength;
}

/** vLLM's profiler annotation for one iteration: `execute_context_{n}({tok})_generation_{n}({tok})`. */
export function iterationAnnotation(counts: Pick<SchedulerOutput, 'contextRequests' | 'contextTokens' | 'generationRequests' | 'generationTokens'>): string {
  return `execute_context_${counts.contextRequests}(${counts.contextTokens})_generation_${counts.generationRequests}(${counts.generationTokens})`;
}

export class Scheduler<S extends SequenceState = SequenceState> {
  readonly config: Readonly<SchedulerConfig>;
  /** Requests holding a slot, in arrival order. */
  private readonly running: S[] = [];
  /** Requests without a slot yet, in arrival order. */
  private readonly waiting: S[] = [];
  /** slotOwner[slot] = the request holding it. */
  private readonly slotOwner: (S | undefined)[];

  constructor(config: SchedulerConfig) {
    validateSchedulerConfig(config);
    this.config = { ...config };
    this.slotOwner = new Array<S | undefined>(config.maxSlots).fill(undefined);
  }

  /** Queues a request (it gets a slot when one is free and the budget allows). */
  add(seq: S): void {
    if (seq.promptTokenIds.length === 0) {
      throw new WgprofError('EMPTY_PROMPT', `request ${seq.id} has an empty prompt; a prompt needs at least one token.`);
    }
    if (seq.promptTokenIds.length >= this.config.contextLength) {
      throw new WgprofError(
        'PROMPT_TOO_LONG',
        `request ${seq.id}: the prompt is ${seq.promptTokenIds.length} tokens but the context holds ${this.config.contextLength}, ` +
          `one of which must be left for generation; shorten the prompt to at most ${this.config.contextLength - 1} tokens.`,
      );
    }
    if (this.has(seq)) throw new WgprofError('DUPLICATE_REQUEST', `request ${seq.id} was already added to the scheduler.`);
    seq.slot = undefined;
    this.waiting.push(seq);
  }

  has(seq: S): boolean {
    return this.running.includes(seq) || this.waiting.includes(seq);
  }

  /** Whether any request is waiting or running. */
  hasWork(): boolean {
    return this.running.length > 0 || this.waiting.length > 0;
  }

  get numRunning(): number {
    return this.running.length;
  }

  get numWaiting(): number {
    return this.waiting.length;
  }

  get numFreeSlots(): number {
    let free = 0;
    for (const owner of this.slotOwner) if (owner === undefined) free++;
    return free;
  }

  /** The requests holding a slot and the requests waiting, in arrival order (copies). */
  snapshot(): { running: S[]; waiting: S[] } {
    return { running: [...this.running], waiting: [...this.waiting] };
  }

  /** One scheduling decision. Mutates only slot assignments (admission); token counts move in `commit`. */
  schedule(): SchedulerOutput<S> {
    const out: SchedulerOutput<S> = {
      chunks: [],
      contextRequests: 0,
      contextTokens: 0,
      generationRequests: 0,
      generationTokens: 0,
      admitted: [],
    };
    let budget = this.config.maxBatchTokens;

    // 1. Decode: one token per request that has finished its prompt.
    for (const seq of this.running) {
      if (budget === 0) break;
      if (!isPrefillDone(seq)) continue;
      const last = seq.outputTokenIds[seq.outputTokenIds.length - 1];
      if (last === undefined) {
        throw new WgprofError('SCHEDULER_STATE', `request ${seq.id} finished its prompt but has no sampled token to decode from.`);
      }
      this.push(out, seq, [last], true);
      budget -= 1;
    }

    // 2. Prefill: requests part-way through their prompt, then admissions from the waiting queue.
    for (const seq of this.running) {
      if (budget === 0) break;
      if (isPrefillDone(seq)) continue;
      budget -= this.pushPrefill(out, seq, budget);
    }
    while (budget > 0 && this.waiting.length > 0) {
      const slot = this.slotOwner.indexOf(undefined);
      // First come, first served: when the oldest waiting request cannot get a slot, none can.
      if (slot < 0) break;
      const seq = this.waiting.shift() as S;
      seq.slot = slot;
      this.slotOwner[slot] = seq;
      this.running.push(seq);
      out.admitted.push(seq);
      budget -= this.pushPrefill(out, seq, budget);
    }
    return out;
  }

  /**
   * Applies an executed iteration: each chunk's tokens are now in the cache. Sampled tokens are
   * appended by the caller (the engine owns sampling results and finish checks).
   */
  commit(output: SchedulerOutput<S>): void {
    for (const chunk of output.chunks) chunk.sequence.numComputedTokens += chunk.tokenIds.length;
  }

  /** Removes a request (finished, aborted or failed) and frees its slot. Unknown requests are ignored. */
  free(seq: S): void {
    const r = this.running.indexOf(seq);
    if (r >= 0) this.running.splice(r, 1);
    const w = this.waiting.indexOf(seq);
    if (w >= 0) this.waiting.splice(w, 1);
    if (seq.slot !== undefined && this.slotOwner[seq.slot] === seq) this.slotOwner[seq.slot] = undefined;
    seq.slot = undefined;
  }

  private pushPrefill(out: SchedulerOutput<S>, seq: S, budget: number): number {
    const start = seq.numComputedTokens;
    const count = Math.min(seq.promptTokenIds.length - start, budget);
    const tokens = seq.promptTokenIds.slice(start, start + count);
    this.push(out, seq, tokens, start + count === seq.promptTokenIds.length);
    return count;
  }

  private push(out: SchedulerOutput<S>, seq: S, tokenIds: number[], sample: boolean): void {
    if (seq.slot === undefined) throw new WgprofError('SCHEDULER_STATE', `request ${seq.id} is running without a KV slot.`);
    const phase: ChunkPhase = seq.outputTokenIds.length === 0 ? 'context' : 'generation';
    out.chunks.push({ sequence: seq, phase, slot: seq.slot, startPosition: seq.numComputedTokens, tokenIds, sample });
    if (phase === 'context') {
      out.contextRequests += 1;
      out.contextTokens += tokenIds.length;
    } else {
      out.generationRequests += 1;
      out.generationTokens += tokenIds.length;
    }
  }
}
