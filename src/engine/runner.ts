// The GPU model runner: a GPT-2-layout decoder over our kernels (kernels/), implementing ModelRunner.
//
// Buffers (all created once by createModelRunner and reused; a forward allocates no GPU object):
//   weights      one storage buffer per tensor, GPT-2 names in the labels (`model.h.0.attn.c_attn.weight`)
//   KV cache     per layer, k and v: [maxSlots][contextLength][d] f32 (`model.kv.k.0`, ...)
//   activations  sized for maxBatchTokens (T): x [T, d] residual stream, h [T, d] (LayerNorm and
//                projection outputs), qkv [T, 3d], att [T, d], ff [T, dFF]
//   per token    tokenMeta [T] × (token id, slot, position, 0) u32
//   per sample   sampleRows [S] u32 (row of the batch to sample), sampling [S] × (temperature, topK,
//                random, 0), logits [S, vocab], sampled ids [S] and a MAP_READ copy of them, where
//                S = maxSlots (one sampled row per sequence, one sequence per slot)
//   params       one uniform buffer, a 256-byte slot per dispatch site (e.g. "the qkv matmul"); every
//                layer's bind groups point at the same slots, so one writeBuffer per forward sets all
//                shapes. Bind groups are created once per (layer, site).
//
// Pass structure of forward(): one command encoder, ONE COMPUTE PASS PER DISPATCH (labelled with the
// kernel's label), one submit, then a map of the sampled ids only:
//   embedding → per layer [layerNorm → matmulBias (qkv) → kvAppend → attention → matmulBias (proj) →
//   residualAdd → layerNorm → matmulBiasGelu (fc) → matmulBias (fc proj) → residualAdd] → layerNorm
//   (ln_f) → logits (only the sampled rows) → sample.
// A batch with no sampling sequence stops after the last layer; forwardLogits (a test hook) skips
// `sample` and reads the logits back instead. Pipelines are compiled once per device and descriptor
// (kernel-runner.ts) and shared by every runner on that device.
// A pass per dispatch lets a profiler put `timestampWrites` on each kernel where timestamps inside
// passes are unavailable (dawn.node); kvAppend runs before attention so a token attends to the keys
// of earlier tokens of the same step (prefill) and of earlier steps alike.

import { attentionParams, type AttentionShape } from '../../kernels/attention.js';
import { embeddingParams, TOKEN_META_BYTES, type EmbeddingShape } from '../../kernels/embedding.js';
import { kernels } from '../../kernels/index.js';
import { kvAppendParams, type KvAppendShape } from '../../kernels/kvAppend.js';
import { layerNormParams, type LayerNormShape } from '../../kernels/layerNorm.js';
import { logitsParams, type LogitsShape } from '../../kernels/logits.js';
import { matmulParams, type MatmulShape } from '../../kernels/matmul.js';
import { residualAddParams, type ResidualAddShape } from '../../kernels/residualAdd.js';
import { packSampling, SAMPLING_RECORD_BYTES, sampleParams, type SampleShape } from '../../kernels/sample.js';
import { WgprofError, errorMessage } from '../util/errors.js';
import { validateModelConfig } from './presets.js';
import { compileKernel, createKernelBindGroup, encodeKernel, type CompiledKernel } from './kernel-runner.js';
import type { BatchSequence, ModelConfig, ModelRunner } from './types.js';
import { initWeights, namedTensors, validateWeights, type ModelWeights } from './weights.js';

export interface ModelRunnerOptions {
  /** KV-cache slots: requests that can hold cache state at once. */
  maxSlots: number;
  /** Most tokens one forward may carry (sum over the batch). */
  maxBatchTokens: number;
  /** Seed of the default random weights (ignored when `weights` is given). Default 0. */
  seed?: number;
  /** Weights to load (e.g. from loadSafetensors); default initWeights(config, seed). */
  weights?: ModelWeights;
  /**
   * The device runs no GPU work (Dawn's null backend, for CPU-overhead measurements): the sampled ids
   * read back are meaningless, so they are folded into the vocabulary instead of failing the step.
   */
  deviceDoesNoWork?: boolean;
}

/** Bytes between uniform slots (minUniformBufferOffsetAlignment is at most 256). */
const PARAM_SLOT_BYTES = 256;

/** Dispatch sites with their own uniform values; the ln_f LayerNorm shares `layerNorm`. */
const SITES = ['embedding', 'layerNorm', 'qkv', 'attnProj', 'fc', 'fcProj', 'kvAppend', 'attention', 'residual', 'logits', 'sample'] as const;
type Site = (typeof SITES)[number];

/** Device limits a runner for `config` needs (pass them as requestGpuDevice's requiredLimits). */
export function modelDeviceLimits(
  config: ModelConfig,
  options: Pick<ModelRunnerOptions, 'maxSlots' | 'maxBatchTokens'>,
): {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
} {
  const { vocabSize, dModel: d, contextLength, dFF } = config;
  const largest =
    4 *
    Math.max(
      vocabSize * d,
      contextLength * d,
      d * 3 * d,
      d * dFF,
      options.maxSlots * contextLength * d,
      options.maxBatchTokens * Math.max(3 * d, dFF),
      options.maxSlots * vocabSize,
    );
  return { maxStorageBufferBindingSize: largest, maxBufferSize: largest };
}

/** Creates a runner on `device` (which the caller keeps owning): compiles the kernels, allocates and uploads. */
export async function createModelRunner(device: GPUDevice, config: ModelConfig, options: ModelRunnerOptions): Promise<ModelRunner> {
  validateModelConfig(config);
  for (const key of ['maxSlots', 'maxBatchTokens'] as const) {
    const value = options?.[key];
    if (!Number.isInteger(value) || (value as number) < 1) {
      throw new WgprofError('INVALID_RUNNER_OPTION', `${key} must be a positive integer, got ${String(value)}.`);
    }
  }
  // Token-parallel kernels dispatch one workgroup row per token (embedding, kvAppend, residualAdd).
  const maxRows = device.limits.maxComputeWorkgroupsPerDimension;
  if (options.maxBatchTokens > maxRows) {
    throw new WgprofError(
      'INVALID_RUNNER_OPTION',
      `maxBatchTokens ${options.maxBatchTokens} exceeds the device's maxComputeWorkgroupsPerDimension ${maxRows}; use at most ${maxRows}.`,
    );
  }
  const needed = modelDeviceLimits(config, options);
  for (const [limit, bytes] of Object.entries(needed) as [keyof typeof needed, number][]) {
    if (bytes > device.limits[limit]) {
      throw new WgprofError(
        'DEVICE_LIMIT_TOO_LOW',
        `model "${config.name}" (maxSlots ${options.maxSlots}, maxBatchTokens ${options.maxBatchTokens}) needs a buffer of ` +
          `${bytes} bytes, but the device's ${limit} is ${device.limits[limit]}. Request the device with ` +
          `requiredLimits: { ${limit}: ${bytes} } (see modelDeviceLimits()), or use fewer slots / batch tokens.`,
      );
    }
  }
  const weights = options.weights ?? initWeights(config, options.seed ?? 0);
  validateWeights(weights, config);
  const compiled = await Promise.all([
    compileKernel(device, kernels.embedding),
    compileKernel(device, kernels.layerNorm),
    compileKernel(device, kernels.matmulBias),
    compileKernel(device, kernels.matmulBiasGelu),
    compileKernel(device, kernels.kvAppend),
    compileKernel(device, kernels.attention),
    compileKernel(device, kernels.residualAdd),
    compileKernel(device, kernels.logits),
    compileKernel(device, kernels.sample),
  ]);
  const [embedding, layerNorm, matmulBias, matmulBiasGelu, kvAppend, attention, residualAdd, logits, sample] = compiled;
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  const runner = new GpuModelRunner(device, config, options.maxSlots, options.maxBatchTokens, weights, {
    embedding,
    layerNorm,
    matmulBias,
    matmulBiasGelu,
    kvAppend,
    attention,
    residualAdd,
    logits,
    sample,
  });
  runner.deviceDoesNoWork = options.deviceDoesNoWork === true;
  const validation = await device.popErrorScope();
  const oom = await device.popErrorScope();
  if (oom || validation) {
    runner.destroy();
    throw new WgprofError(
      oom ? 'GPU_OUT_OF_MEMORY' : 'GPU_VALIDATION',
      `creating the buffers of model "${config.name}" (${(runner.allocatedBytes / 2 ** 20).toFixed(1)} MiB with maxSlots ` +
        `${options.maxSlots}, maxBatchTokens ${options.maxBatchTokens}) failed: ${(oom ?? validation)?.message}. ` +
        'Use fewer slots or batch tokens, or a smaller model.',
    );
  }
  return runner;
}

interface Pipelines {
  embedding: CompiledKernel<EmbeddingShape>;
  layerNorm: CompiledKernel<LayerNormShape>;
  matmulBias: CompiledKernel<MatmulShape>;
  matmulBiasGelu: CompiledKernel<MatmulShape>;
  kvAppend: CompiledKernel<KvAppendShape>;
  attention: CompiledKernel<AttentionShape>;
  residualAdd: CompiledKernel<ResidualAddShape>;
  logits: CompiledKernel<LogitsShape>;
  sample: CompiledKernel<SampleShape>;
}

interface LayerBindGroups {
  ln1: GPUBindGroup;
  qkv: GPUBindGroup;
  kvAppend: GPUBindGroup;
  attention: GPUBindGroup;
  attnProj: GPUBindGroup;
  residual1: GPUBindGroup;
  ln2: GPUBindGroup;
  fc: GPUBindGroup;
  fcProj: GPUBindGroup;
  residual2: GPUBindGroup;
}

/** A batch checked and flattened for the GPU. */
interface PreparedBatch {
  tokens: number;
  sampleCount: number;
  attendedKeys: number;
  meta: Uint32Array<ArrayBuffer>;
  sampleRows: Uint32Array<ArrayBuffer>;
  sampling: ArrayBuffer;
}

class GpuModelRunner implements ModelRunner {
  readonly config: ModelConfig;
  readonly maxSlots: number;
  readonly maxBatchTokens: number;
  /** Bytes of every GPU buffer this runner created. */
  allocatedBytes = 0;
  /** See ModelRunnerOptions.deviceDoesNoWork. */
  deviceDoesNoWork = false;

  readonly #device: GPUDevice;
  readonly #pipelines: Pipelines;
  readonly #buffers: GPUBuffer[] = [];
  readonly #params: GPUBuffer;
  readonly #meta: GPUBuffer;
  readonly #sampleRows: GPUBuffer;
  readonly #sampling: GPUBuffer;
  readonly #logits: GPUBuffer;
  readonly #ids: GPUBuffer;
  readonly #idsReadback: GPUBuffer;
  #logitsReadback: GPUBuffer | undefined;
  readonly #layers: LayerBindGroups[] = [];
  readonly #embeddingGroup: GPUBindGroup;
  readonly #lnFGroup: GPUBindGroup;
  readonly #logitsGroup: GPUBindGroup;
  readonly #sampleGroup: GPUBindGroup;
  /** Positions filled per slot, to reject a startPosition past them (attention would read stale keys). */
  readonly #slotLength: number[];
  /** Forwards run one at a time: they share the activation and readback buffers. */
  #queue: Promise<unknown> = Promise.resolve();
  #lost: GPUDeviceLostInfo | undefined;
  #destroyed = false;

  constructor(device: GPUDevice, config: ModelConfig, maxSlots: number, maxBatchTokens: number, weights: ModelWeights, pipelines: Pipelines) {
    this.#device = device;
    this.config = config;
    this.maxSlots = maxSlots;
    this.maxBatchTokens = maxBatchTokens;
    this.#pipelines = pipelines;
    this.#slotLength = new Array<number>(maxSlots).fill(0);
    // Recorded, never thrown from here (STYLE §6): forward() turns it into DEVICE_LOST.
    void device.lost.then((info) => {
      this.#lost = info;
    });

    const { vocabSize: V, dModel: d, dFF, nLayers, contextLength } = config;
    const T = maxBatchTokens;
    const S = maxSlots;
    const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;

    const tensors = new Map<string, GPUBuffer>();
    for (const t of namedTensors(config)) {
      const data = t.get(weights);
      const buffer = this.#buffer(`model.${t.name}`, data.byteLength, STORAGE);
      device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
      tensors.set(t.name, buffer);
    }
    const w = (name: string) => tensors.get(name) as GPUBuffer;
    const kCache: GPUBuffer[] = [];
    const vCache: GPUBuffer[] = [];
    for (let l = 0; l < nLayers; l++) {
      kCache.push(this.#buffer(`model.kv.k.${l}`, 4 * S * contextLength * d, STORAGE));
      vCache.push(this.#buffer(`model.kv.v.${l}`, 4 * S * contextLength * d, STORAGE));
    }
    const x = this.#buffer('model.act.x', 4 * T * d, STORAGE);
    const h = this.#buffer('model.act.h', 4 * T * d, STORAGE);
    const qkv = this.#buffer('model.act.qkv', 4 * T * 3 * d, STORAGE);
    const att = this.#buffer('model.act.att', 4 * T * d, STORAGE);
    const ff = this.#buffer('model.act.ff', 4 * T * dFF, STORAGE);
    this.#meta = this.#buffer('model.tokenMeta', TOKEN_META_BYTES * T, STORAGE);
    this.#sampleRows = this.#buffer('model.sampleRows', 4 * S, STORAGE);
    this.#sampling = this.#buffer('model.sampling', SAMPLING_RECORD_BYTES * S, STORAGE);
    this.#logits = this.#buffer('model.logits', 4 * S * V, STORAGE | GPUBufferUsage.COPY_SRC);
    this.#ids = this.#buffer('model.sampledIds', 4 * S, STORAGE | GPUBufferUsage.COPY_SRC);
    this.#idsReadback = this.#buffer('model.sampledIds.readback', 4 * S, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    this.#params = this.#buffer('model.params', PARAM_SLOT_BYTES * SITES.length, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);

    const param = (site: Site): GPUBufferBinding => ({ buffer: this.#params, offset: PARAM_SLOT_BYTES * SITES.indexOf(site), size: 16 });
    const p = pipelines;
    this.#embeddingGroup = createKernelBindGroup(p.embedding, [param('embedding'), this.#meta, w('wte.weight'), w('wpe.weight'), x]);
    for (let l = 0; l < nLayers; l++) {
      const name = (suffix: string) => w(`h.${l}.${suffix}`);
      const k = kCache[l] as GPUBuffer;
      const v = vCache[l] as GPUBuffer;
      this.#layers.push({
        ln1: createKernelBindGroup(p.layerNorm, [param('layerNorm'), x, name('ln_1.weight'), name('ln_1.bias'), h]),
        qkv: createKernelBindGroup(p.matmulBias, [param('qkv'), h, name('attn.c_attn.weight'), name('attn.c_attn.bias'), qkv]),
        kvAppend: createKernelBindGroup(p.kvAppend, [param('kvAppend'), this.#meta, qkv, k, v]),
        attention: createKernelBindGroup(p.attention, [param('attention'), this.#meta, qkv, k, v, att]),
        attnProj: createKernelBindGroup(p.matmulBias, [param('attnProj'), att, name('attn.c_proj.weight'), name('attn.c_proj.bias'), h]),
        residual1: createKernelBindGroup(p.residualAdd, [param('residual'), x, h]),
        ln2: createKernelBindGroup(p.layerNorm, [param('layerNorm'), x, name('ln_2.weight'), name('ln_2.bias'), h]),
        fc: createKernelBindGroup(p.matmulBiasGelu, [param('fc'), h, name('mlp.c_fc.weight'), name('mlp.c_fc.bias'), ff]),
        fcProj: createKernelBindGroup(p.matmulBias, [param('fcProj'), ff, name('mlp.c_proj.weight'), name('mlp.c_proj.bias'), h]),
        residual2: createKernelBindGroup(p.residualAdd, [param('residual'), x, h]),
      });
    }
    this.#lnFGroup = createKernelBindGroup(p.layerNorm, [param('layerNorm'), x, w('ln_f.weight'), w('ln_f.bias'), h]);
    this.#logitsGroup = createKernelBindGroup(p.logits, [param('logits'), h, this.#sampleRows, w('wte.weight'), this.#logits]);
    this.#sampleGroup = createKernelBindGroup(p.sample, [param('sample'), this.#logits, this.#sampling, this.#ids]);
  }

  forward(batch: BatchSequence[]): Promise<number[]> {
    return this.#enqueue(async () => {
      const prepared = this.#prepare(batch);
      if (!prepared) return [];
      const readback = this.#idsReadback;
      const bytes = 4 * prepared.sampleCount;
      const ids = await this.#run(
        prepared,
        batch,
        (encoder) => {
          if (bytes > 0) encoder.copyBufferToBuffer(this.#ids, 0, readback, 0, bytes);
        },
        bytes > 0 ? readback : undefined,
        bytes,
        true,
      );
      const out = [...new Uint32Array(ids)];
      if (this.deviceDoesNoWork) return out.map((id) => id % this.config.vocabSize);
      const bad = out.findIndex((id) => id >= this.config.vocabSize);
      if (bad >= 0) {
        throw new WgprofError(
          'SAMPLING_FAILED',
          `sampled row ${bad} produced no token (id ${out[bad]}): its logits were all NaN. The weights or the device computed ` +
            'non-finite values; check the weights (or run forwardLogits to inspect them).',
        );
      }
      return out;
    });
  }

  forwardLogits(batch: BatchSequence[]): Promise<Float32Array[]> {
    return this.#enqueue(async () => {
      const prepared = this.#prepare(batch);
      if (!prepared) return [];
      const V = this.config.vocabSize;
      // Test hook: its readback buffer is created on first use, at the largest size, and kept.
      this.#logitsReadback ??= this.#buffer('model.logits.readback', 4 * this.maxSlots * V, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
      const readback = this.#logitsReadback;
      const bytes = 4 * prepared.sampleCount * V;
      const data = await this.#run(
        prepared,
        batch,
        (encoder) => {
          if (bytes > 0) encoder.copyBufferToBuffer(this.#logits, 0, readback, 0, bytes);
        },
        bytes > 0 ? readback : undefined,
        bytes,
        false,
      );
      const all = new Float32Array(data);
      return Array.from({ length: prepared.sampleCount }, (_, s) => all.slice(s * V, (s + 1) * V));
    });
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const buffer of this.#buffers) buffer.destroy();
  }

  #buffer(label: string, size: number, usage: number): GPUBuffer {
    // Sizes are multiples of 4 already; 16 keeps zero-sized tensors (none in GPT-2) valid bindings.
    const buffer = this.#device.createBuffer({ label, size: Math.max(16, size), usage });
    this.#buffers.push(buffer);
    this.allocatedBytes += buffer.size;
    return buffer;
  }

  /**
   * Runs `work` after every forward queued before it. An async function that awaits its turn and then
   * calls `work` itself (not `queue.then(work)`): V8's async stack traces then reach through it to
   * forward()'s caller, so the JS stack of each dispatch (with_stack) shows who asked for the forward.
   */
  async #enqueue<R>(work: () => Promise<R>): Promise<R> {
    const previous = this.#queue;
    let release!: () => void;
    // The chain continues after a failed forward; the failure goes to this call's caller.
    this.#queue = new Promise<void>((resolve) => (release = resolve));
    try {
      await previous;
      return await work();
    } finally {
      release();
    }
  }

  #checkUsable(): void {
    if (this.#destroyed) {
      throw new WgprofError('RUNNER_DESTROYED', 'this model runner was destroyed; create a new one with createModelRunner().');
    }
    if (this.#lost) {
      throw new WgprofError(
        'DEVICE_LOST',
        `the GPU device was lost (reason "${this.#lost.reason}": ${this.#lost.message || 'no message'}); ` +
          'its buffers are gone. Create a new device and model runner.',
      );
    }
  }

  /** Validates and flattens a batch; undefined for an empty batch (nothing to run). */
  #prepare(batch: BatchSequence[]): PreparedBatch | undefined {
    this.#checkUsable();
    if (!Array.isArray(batch)) {
      throw new WgprofError('INVALID_BATCH', `forward() takes an array of BatchSequence, got ${batch === null ? 'null' : typeof batch}.`);
    }
    if (batch.length === 0) return undefined;
    const { vocabSize, contextLength } = this.config;
    const fail = (i: number, message: string): never => {
      throw new WgprofError('INVALID_BATCH', `batch[${i}] (slot ${String(batch[i]?.slot)}): ${message}`);
    };
    const usedSlots = new Set<number>();
    let tokens = 0;
    let sampleCount = 0;
    batch.forEach((seq, i) => {
      if (seq === null || typeof seq !== 'object') fail(i, `expected a BatchSequence object, got ${seq === null ? 'null' : typeof seq}.`);
      if (!Number.isInteger(seq.slot) || seq.slot < 0 || seq.slot >= this.maxSlots) {
        fail(i, `slot ${String(seq.slot)} is out of range; expected an integer in [0, ${this.maxSlots}) (the runner's maxSlots).`);
      }
      if (usedSlots.has(seq.slot)) fail(i, `slot ${seq.slot} appears twice in the batch; each sequence needs its own KV slot.`);
      usedSlots.add(seq.slot);
      if (!Array.isArray(seq.tokens) || seq.tokens.length === 0) {
        fail(i, 'tokens must be a non-empty array of token ids (a prompt chunk or the last generated token).');
      }
      if (!Number.isInteger(seq.startPosition) || seq.startPosition < 0) {
        fail(i, `startPosition ${String(seq.startPosition)} must be a non-negative integer.`);
      }
      if (seq.startPosition + seq.tokens.length > contextLength) {
        fail(
          i,
          `startPosition ${seq.startPosition} + ${seq.tokens.length} tokens = ${seq.startPosition + seq.tokens.length} exceeds the ` +
            `model's contextLength ${contextLength}; stop the request at the context length.`,
        );
      }
      const filled = this.#slotLength[seq.slot] as number;
      if (seq.startPosition > filled) {
        fail(
          i,
          `startPosition ${seq.startPosition} is past the ${filled} positions the slot's KV cache holds; feed the tokens in ` +
            'between first (or start a new request at position 0).',
        );
      }
      seq.tokens.forEach((token, j) => {
        if (!Number.isInteger(token) || token < 0 || token >= vocabSize) {
          fail(i, `tokens[${j}] is ${String(token)}; token ids must be integers in [0, ${vocabSize}) (the model's vocabSize).`);
        }
      });
      if (seq.sample) {
        if (!(Number.isFinite(seq.temperature) && seq.temperature >= 0)) {
          fail(i, `temperature ${String(seq.temperature)} must be a finite number ≥ 0 (0 = greedy).`);
        }
        if (!Number.isInteger(seq.topK) || seq.topK < 0) fail(i, `topK ${String(seq.topK)} must be an integer ≥ 0 (0 = no top-k limit).`);
        if (!(seq.random >= 0 && seq.random < 1)) fail(i, `random ${String(seq.random)} must be a number in [0, 1).`);
        sampleCount++;
      }
      tokens += seq.tokens.length;
    });
    if (tokens > this.maxBatchTokens) {
      throw new WgprofError(
        'INVALID_BATCH',
        `the batch carries ${tokens} tokens, more than the runner's maxBatchTokens ${this.maxBatchTokens}; split prompts into chunks.`,
      );
    }

    const meta = new Uint32Array(4 * tokens);
    const sampleRows = new Uint32Array(sampleCount);
    const records: { temperature: number; topK: number; random: number }[] = [];
    let t = 0;
    let attendedKeys = 0;
    for (const seq of batch) {
      for (let j = 0; j < seq.tokens.length; j++, t++) {
        const position = seq.startPosition + j;
        meta.set([seq.tokens[j] as number, seq.slot, position, 0], 4 * t);
        attendedKeys += position + 1;
      }
      if (seq.sample) {
        sampleRows[records.length] = t - 1;
        records.push({ temperature: seq.temperature, topK: seq.topK, random: seq.random });
      }
    }
    const sampling = new ArrayBuffer(SAMPLING_RECORD_BYTES * Math.max(1, sampleCount));
    packSampling(records, sampling);
    return { tokens, sampleCount, attendedKeys, meta, sampleRows, sampling };
  }

  /** Uploads, encodes and submits one forward; resolves to the copy of `readBytes` in `readback`. */
  async #run(
    prepared: PreparedBatch,
    batch: readonly BatchSequence[],
    copyOut: (encoder: GPUCommandEncoder) => void,
    readback: GPUBuffer | undefined,
    readBytes: number,
    withSampling: boolean,
  ): Promise<ArrayBuffer> {
    const device = this.#device;
    const p = this.#pipelines;
    const { vocabSize: V, dModel: d, dFF, nHeads, contextLength } = this.config;
    const T = prepared.tokens;
    const S = prepared.sampleCount;

    const shapes = {
      embedding: { tokens: T, dModel: d, vocabSize: V, contextLength } satisfies EmbeddingShape,
      layerNorm: { rows: T, cols: d } satisfies LayerNormShape,
      qkv: { m: T, n: 3 * d, k: d } satisfies MatmulShape,
      attnProj: { m: T, n: d, k: d } satisfies MatmulShape,
      fc: { m: T, n: dFF, k: d } satisfies MatmulShape,
      fcProj: { m: T, n: d, k: dFF } satisfies MatmulShape,
      kvAppend: { tokens: T, dModel: d, contextLength, maxSlots: this.maxSlots } satisfies KvAppendShape,
      attention: { tokens: T, dModel: d, nHeads, contextLength, maxSlots: this.maxSlots, attendedKeys: prepared.attendedKeys } satisfies AttentionShape,
      residual: { rows: T, cols: d } satisfies ResidualAddShape,
      logits: { rows: S, vocabSize: V, dModel: d, tokens: T } satisfies LogitsShape,
      sample: { rows: S, vocabSize: V } satisfies SampleShape,
    };
    const params = new Uint32Array((PARAM_SLOT_BYTES / 4) * SITES.length);
    const put = (site: Site, values: Uint32Array) => params.set(values, (PARAM_SLOT_BYTES / 4) * SITES.indexOf(site));
    put('embedding', embeddingParams(shapes.embedding));
    put('layerNorm', layerNormParams(shapes.layerNorm));
    put('qkv', matmulParams(shapes.qkv));
    put('attnProj', matmulParams(shapes.attnProj));
    put('fc', matmulParams(shapes.fc));
    put('fcProj', matmulParams(shapes.fcProj));
    put('kvAppend', kvAppendParams(shapes.kvAppend));
    put('attention', attentionParams(shapes.attention));
    put('residual', residualAddParams(shapes.residual));
    put('logits', logitsParams(shapes.logits));
    put('sample', sampleParams(shapes.sample));

    device.pushErrorScope('validation');
    const queue = device.queue;
    queue.writeBuffer(this.#params, 0, params);
    queue.writeBuffer(this.#meta, 0, prepared.meta);
    if (S > 0) {
      queue.writeBuffer(this.#sampleRows, 0, prepared.sampleRows);
      queue.writeBuffer(this.#sampling, 0, prepared.sampling, 0, SAMPLING_RECORD_BYTES * S);
    }

    let commands: GPUCommandBuffer;
    try {
      const encoder = device.createCommandEncoder({ label: 'model.forward' });
      encodeKernel(encoder, p.embedding, shapes.embedding, this.#embeddingGroup);
      for (const g of this.#layers) {
        encodeKernel(encoder, p.layerNorm, shapes.layerNorm, g.ln1);
        encodeKernel(encoder, p.matmulBias, shapes.qkv, g.qkv);
        encodeKernel(encoder, p.kvAppend, shapes.kvAppend, g.kvAppend);
        encodeKernel(encoder, p.attention, shapes.attention, g.attention);
        encodeKernel(encoder, p.matmulBias, shapes.attnProj, g.attnProj);
        encodeKernel(encoder, p.residualAdd, shapes.residual, g.residual1);
        encodeKernel(encoder, p.layerNorm, shapes.layerNorm, g.ln2);
        encodeKernel(encoder, p.matmulBiasGelu, shapes.fc, g.fc);
        encodeKernel(encoder, p.matmulBias, shapes.fcProj, g.fcProj);
        encodeKernel(encoder, p.residualAdd, shapes.residual, g.residual2);
      }
      if (S > 0) {
        encodeKernel(encoder, p.layerNorm, shapes.layerNorm, this.#lnFGroup);
        encodeKernel(encoder, p.logits, shapes.logits, this.#logitsGroup);
        if (withSampling) encodeKernel(encoder, p.sample, shapes.sample, this.#sampleGroup);
      }
      copyOut(encoder);
      commands = encoder.finish();
    } catch (error) {
      // Keep the error-scope stack balanced when encoding throws (e.g. DISPATCH_TOO_LARGE).
      await device.popErrorScope().catch(() => null);
      throw error;
    }
    queue.submit([commands]);
    // The cache now holds these positions (the submit is in order with any later forward).
    for (const seq of batch) this.#slotLength[seq.slot] = seq.startPosition + seq.tokens.length;

    // Awaited after the readback; a lost device resolves it with null rather than an error.
    const validation = device.popErrorScope().catch(() => null);
    let data = new ArrayBuffer(0);
    try {
      if (readback) {
        await readback.mapAsync(GPUMapMode.READ, 0, readBytes);
        data = readback.getMappedRange(0, readBytes).slice(0);
        readback.unmap();
      } else {
        await queue.onSubmittedWorkDone();
      }
    } catch (error) {
      // A lost device rejects the map; `device.lost` may resolve a moment later.
      await Promise.race([device.lost, new Promise((resolve) => setTimeout(resolve, 100))]);
      this.#checkUsable();
      throw new WgprofError('FORWARD_FAILED', `reading the forward's results back failed: ${errorMessage(error)}`, { cause: error });
    }
    const error = await validation;
    if (error) {
      throw new WgprofError('GPU_VALIDATION', `the forward pass raised a WebGPU validation error: ${error.message}`);
    }
    return data;
  }
}
