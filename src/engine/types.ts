// The contract between the engine loop (scheduler, requests, KV slots) and the model runner (GPU
// forward pass over our kernels). The scheduler decides what runs; the runner runs it.

export interface ModelConfig {
  name: string;
  vocabSize: number;
  /** Model width d. */
  dModel: number;
  nLayers: number;
  nHeads: number;
  /** Maximum tokens per request (prompt + generated). */
  contextLength: number;
  /** MLP hidden width (4·d for GPT-2). */
  dFF: number;
}

/** One request's share of an iteration. */
export interface BatchSequence {
  /** KV-cache slot owned by the request (0 ≤ slot < maxSlots). */
  slot: number;
  /** Tokens fed this iteration: a prompt chunk (prefill) or the last generated token (decode). */
  tokens: number[];
  /** Tokens already in the KV cache for this slot = position of tokens[0]. */
  startPosition: number;
  /** Whether to sample a next token from the last token's logits (last prompt chunk, or decode). */
  sample: boolean;
  /** Sampling for this sequence (used when `sample`). temperature 0 = greedy. */
  temperature: number;
  /** 0 = no top-k restriction. */
  topK: number;
  /** Uniform random number in [0, 1) for this sample, from the request's seeded generator. */
  random: number;
}

export interface ModelRunner {
  readonly config: ModelConfig;
  readonly maxSlots: number;
  /** Most tokens one forward may carry (sum of tokens over the batch). */
  readonly maxBatchTokens: number;
  /** One forward + sampling over the batch; resolves to the sampled token per `sample` sequence, in batch order. */
  forward(batch: BatchSequence[]): Promise<number[]>;
  /** Test hook: one forward; resolves to the last-token logits of every `sample` sequence. */
  forwardLogits(batch: BatchSequence[]): Promise<Float32Array[]>;
  destroy(): void;
}
