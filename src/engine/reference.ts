// CPU reference of the model and of each kernel, for tests: plain loops, accumulation in float64,
// results stored as float32. It takes the same weights and the same batch description as the GPU
// runner, with its own KV cache, and follows the same semantics: all of a step's tokens are appended
// to the cache first, then each token attends to positions 0..its own of its slot.

import type { BatchSequence, ModelConfig } from './types.js';
import type { ModelWeights } from './weights.js';

export const LAYER_NORM_EPS = 1e-5;

export function geluRef(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

/** C[m, n] = A[m, k] · B[k, n] (+ bias) (GELU). */
export function matmulRef(
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  options: { bias?: Float32Array; gelu?: boolean } = {},
): Float32Array {
  const out = new Float32Array(m * n);
  const acc = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    acc.fill(0);
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p] as number;
      if (av === 0) continue;
      const row = p * n;
      for (let j = 0; j < n; j++) acc[j] = (acc[j] as number) + av * (b[row + j] as number);
    }
    for (let j = 0; j < n; j++) {
      let v = (acc[j] as number) + (options.bias ? (options.bias[j] as number) : 0);
      if (options.gelu) v = geluRef(v);
      out[i * n + j] = v;
    }
  }
  return out;
}

export function layerNormRef(x: Float32Array, gamma: Float32Array, beta: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let c = 0; c < cols; c++) mean += x[r * cols + c] as number;
    mean /= cols;
    let variance = 0;
    for (let c = 0; c < cols; c++) variance += ((x[r * cols + c] as number) - mean) ** 2;
    const rstd = 1 / Math.sqrt(variance / cols + LAYER_NORM_EPS);
    for (let c = 0; c < cols; c++) {
      out[r * cols + c] = ((x[r * cols + c] as number) - mean) * rstd * (gamma[c] as number) + (beta[c] as number);
    }
  }
  return out;
}

/** out[t] = wte[tokens[t]] + wpe[positions[t]]. */
export function embeddingRef(tokens: ArrayLike<number>, positions: ArrayLike<number>, wte: Float32Array, wpe: Float32Array, d: number): Float32Array {
  const out = new Float32Array(tokens.length * d);
  for (let t = 0; t < tokens.length; t++) {
    const tok = tokens[t] as number;
    const pos = positions[t] as number;
    for (let c = 0; c < d; c++) out[t * d + c] = (wte[tok * d + c] as number) + (wpe[pos * d + c] as number);
  }
  return out;
}

/** Writes each token's k and v (columns d..2d, 2d..3d of qkv) into one layer's caches at (slot, position). */
export function kvAppendRef(
  qkv: Float32Array,
  slots: ArrayLike<number>,
  positions: ArrayLike<number>,
  kCache: Float32Array,
  vCache: Float32Array,
  d: number,
  contextLength: number,
): void {
  for (let t = 0; t < slots.length; t++) {
    const dst = ((slots[t] as number) * contextLength + (positions[t] as number)) * d;
    kCache.set(qkv.subarray(t * 3 * d + d, t * 3 * d + 2 * d), dst);
    vCache.set(qkv.subarray(t * 3 * d + 2 * d, t * 3 * d + 3 * d), dst);
  }
}

/** Causal attention of each token over its slot's cache positions 0..position. */
export function attentionRef(
  qkv: Float32Array,
  slots: ArrayLike<number>,
  positions: ArrayLike<number>,
  kCache: Float32Array,
  vCache: Float32Array,
  d: number,
  nHeads: number,
  contextLength: number,
): Float32Array {
  const tokens = slots.length;
  const hd = d / nHeads;
  const scale = 1 / Math.sqrt(hd);
  const out = new Float32Array(tokens * d);
  for (let t = 0; t < tokens; t++) {
    const base = (slots[t] as number) * contextLength;
    const keys = (positions[t] as number) + 1;
    for (let h = 0; h < nHeads; h++) {
      const q = t * 3 * d + h * hd;
      const scores = new Float64Array(keys);
      let max = -Infinity;
      for (let j = 0; j < keys; j++) {
        const kb = (base + j) * d + h * hd;
        let s = 0;
        for (let i = 0; i < hd; i++) s += (qkv[q + i] as number) * (kCache[kb + i] as number);
        scores[j] = s * scale;
        max = Math.max(max, s * scale);
      }
      let sum = 0;
      for (let j = 0; j < keys; j++) {
        scores[j] = Math.exp((scores[j] as number) - max);
        sum += scores[j] as number;
      }
      for (let i = 0; i < hd; i++) {
        let acc = 0;
        for (let j = 0; j < keys; j++) acc += (scores[j] as number) * (vCache[(base + j) * d + h * hd + i] as number);
        out[t * d + h * hd + i] = acc / sum;
      }
    }
  }
  return out;
}

/** logits[s] = x[rows[s]] · Wteᵀ. */
export function logitsRef(x: Float32Array, rows: ArrayLike<number>, wte: Float32Array, vocab: number, d: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let s = 0; s < rows.length; s++) {
    const xr = (rows[s] as number) * d;
    const row = new Float32Array(vocab);
    for (let v = 0; v < vocab; v++) {
      let acc = 0;
      for (let c = 0; c < d; c++) acc += (x[xr + c] as number) * (wte[v * d + c] as number);
      row[v] = acc;
    }
    out.push(row);
  }
  return out;
}

/** Whether (v, i) ranks before (w, j): larger value first, then lower index. */
function ranksBefore(v: number, i: number, w: number, j: number): boolean {
  return v > w || (v === w && i < j);
}

/**
 * The sampler the GPU `sample` kernel implements: temperature 0 or topK 1 → argmax (ties to the lowest
 * index); otherwise keep the topK best-ranked logits (all when topK is 0 or ≥ vocab), weight them
 * exp((logit - max) / temperature), and return the first index whose running weight sum exceeds
 * random · total (the last kept index with positive weight if rounding leaves none).
 */
export function referenceSample(logits: ArrayLike<number>, temperature: number, topK: number, random: number): number {
  const vocab = logits.length;
  const order: number[] = [];
  for (let i = 0; i < vocab; i++) if (!Number.isNaN(logits[i] as number)) order.push(i);
  if (order.length === 0) return -1;
  order.sort((i, j) => (ranksBefore(logits[i] as number, i, logits[j] as number, j) ? -1 : 1));
  const top = order[0] as number;
  if (temperature <= 0 || topK === 1) return top;
  const keep = topK === 0 || topK >= vocab ? order.length : Math.min(topK, order.length);
  const kept = new Set(order.slice(0, keep));
  const max = logits[top] as number;
  const weight = (i: number) => Math.exp(((logits[i] as number) - max) / temperature);
  let total = 0;
  for (let i = 0; i < vocab; i++) if (kept.has(i)) total += weight(i);
  const target = random * total;
  let cum = 0;
  let lastPositive = top;
  for (let i = 0; i < vocab; i++) {
    if (!kept.has(i)) continue;
    const w = weight(i);
    if (w > 0) lastPositive = i;
    cum += w;
    if (cum > target) return i;
  }
  return lastPositive;
}

/** The CPU model's KV cache: per layer, k and v as [slots][contextLength][d]. */
export interface ReferenceKvCache {
  readonly config: ModelConfig;
  readonly slots: number;
  readonly k: Float32Array[];
  readonly v: Float32Array[];
}

export function createReferenceKvCache(config: ModelConfig, slots: number): ReferenceKvCache {
  const size = slots * config.contextLength * config.dModel;
  const k: Float32Array[] = [];
  const v: Float32Array[] = [];
  for (let l = 0; l < config.nLayers; l++) {
    k.push(new Float32Array(size));
    v.push(new Float32Array(size));
  }
  return { config, slots, k, v };
}

/** Flattens a batch into per-token arrays and the rows to sample (last token of each `sample` sequence). */
export function flattenBatch(batch: readonly BatchSequence[]): { tokens: number[]; slots: number[]; positions: number[]; sampleRows: number[] } {
  const tokens: number[] = [];
  const slots: number[] = [];
  const positions: number[] = [];
  const sampleRows: number[] = [];
  for (const seq of batch) {
    seq.tokens.forEach((token, i) => {
      tokens.push(token);
      slots.push(seq.slot);
      positions.push(seq.startPosition + i);
    });
    if (seq.sample) sampleRows.push(tokens.length - 1);
  }
  return { tokens, slots, positions, sampleRows };
}

/**
 * One forward over `batch` on the CPU, updating `cache`; returns the last-token logits of every
 * `sample` sequence, in batch order (as ModelRunner.forwardLogits does).
 */
export function referenceForward(weights: ModelWeights, cache: ReferenceKvCache, batch: readonly BatchSequence[]): Float32Array[] {
  const { dModel: d, nHeads, contextLength, vocabSize, dFF } = weights.config;
  const { tokens, slots, positions, sampleRows } = flattenBatch(batch);
  const T = tokens.length;
  const x = embeddingRef(tokens, positions, weights.wte, weights.wpe, d);
  const addInPlace = (target: Float32Array, y: Float32Array) => {
    for (let i = 0; i < target.length; i++) target[i] = (target[i] as number) + (y[i] as number);
  };
  weights.layers.forEach((layer, l) => {
    const h1 = layerNormRef(x, layer.ln1Weight, layer.ln1Bias, T, d);
    const qkv = matmulRef(h1, layer.attnWeight, T, 3 * d, d, { bias: layer.attnBias });
    kvAppendRef(qkv, slots, positions, cache.k[l] as Float32Array, cache.v[l] as Float32Array, d, contextLength);
    const att = attentionRef(qkv, slots, positions, cache.k[l] as Float32Array, cache.v[l] as Float32Array, d, nHeads, contextLength);
    addInPlace(x, matmulRef(att, layer.attnProjWeight, T, d, d, { bias: layer.attnProjBias }));
    const h2 = layerNormRef(x, layer.ln2Weight, layer.ln2Bias, T, d);
    const ff = matmulRef(h2, layer.fcWeight, T, dFF, d, { bias: layer.fcBias, gelu: true });
    addInPlace(x, matmulRef(ff, layer.fcProjWeight, T, d, dFF, { bias: layer.fcProjBias }));
  });
  const final = layerNormRef(x, weights.lnFWeight, weights.lnFBias, T, d);
  return logitsRef(final, sampleRows, weights.wte, vocabSize, d);
}
