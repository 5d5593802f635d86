// Page side of test/browser/kernels.spec.ts: runs kernels and the tiny model on the page's WebGPU device
// (Chromium, SwiftShader) next to the CPU reference and returns plain numbers; the spec asserts on them.
// Bundled by the spec with esbuild into dist/test/kernels-page.js. The setup mirrors
// test/gpu/kernels.test.ts and test/gpu/model.test.ts (those import node:test, so they cannot be bundled).

import type { KernelDescriptor } from '../../../kernels/define.js';
import {
  layerNorm,
  layerNormParams,
  matmul,
  matmulBias,
  matmulBiasGelu,
  matmulParams,
  matmulTiled,
  packSampling,
  sample,
  SAMPLING_RECORD_BYTES,
  sampleParams,
  type RowSampling,
} from '../../../kernels/index.js';
import { compileKernel, createKernelBindGroup, encodeKernel, type CompiledKernel } from '../../../src/engine/kernel-runner.js';
import { layerNormRef, matmulRef } from '../../../src/engine/reference.js';
import {
  createModelRunner,
  createReferenceKvCache,
  getPreset,
  initWeights,
  mulberry32,
  referenceForward,
  referenceSample,
} from '../../../src/engine/model.js';
import type { BatchSequence } from '../../../src/engine/types.js';
import { requestGpuDevice } from '../../../src/gpu/device.js';

/** One float kernel compared with its CPU reference: max |gpu - cpu| and max(1, max |cpu|). */
export interface FloatCase {
  name: string;
  maxDiff: number;
  scale: number;
  /** Values the GPU wrote vs values the reference has (the output must cover the reference). */
  gpuLength: number;
  cpuLength: number;
}

export interface SampleCase {
  name: string;
  got: number[];
  want: number[];
}

export interface KernelReport {
  runtime: string;
  adapter: string;
  validationError: string | null;
  floats: FloatCase[];
  samples: SampleCase[];
}

export interface ModelStep {
  step: string;
  gpuRows: number;
  cpuRows: number;
  rowLengths: number[];
  /** Per sampling row: max |gpu - cpu| / max |cpu| (the metric of test/gpu/model.test.ts). */
  relErrors: number[];
  /** Greedy next tokens from the CPU logits (fed to the next decode step). */
  next: number[];
}

export interface ModelReport {
  validationError: string | null;
  vocabSize: number;
  promptLengths: number[];
  steps: ModelStep[];
}

function randomArray(n: number, seed: number, scale = 1, offset = 0): Float32Array<ArrayBuffer> {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => offset + scale * (2 * rand() - 1));
}

type Data = Float32Array<ArrayBuffer> | Uint32Array<ArrayBuffer> | ArrayBuffer;

/** One dispatch: binding 0 = uniform params, binding i ≥ 1 = buffers[i - 1] (data, or a zeroed byte size). */
async function runKernel<S>(device: GPUDevice, kernel: KernelDescriptor<S>, shape: S, params: Uint32Array<ArrayBuffer>, buffers: (Data | number)[]): Promise<ArrayBuffer[]> {
  const c = await compileKernel(device, kernel);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const uniform = device.createBuffer({ label: 'test.params', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(uniform, 0, params);
  const storage = buffers.map((b) => {
    const bytes = typeof b === 'number' ? b : b.byteLength;
    const buffer = device.createBuffer({ label: 'test.storage', size: Math.max(16, Math.ceil(bytes / 4) * 4), usage });
    if (typeof b !== 'number') device.queue.writeBuffer(buffer, 0, b);
    return buffer;
  });
  const readbacks = storage.map((b) => device.createBuffer({ label: 'test.readback', size: b.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
  const encoder = device.createCommandEncoder();
  encodeKernel(encoder, c, shape, createKernelBindGroup(c as CompiledKernel<unknown>, [uniform, ...storage]));
  storage.forEach((b, i) => encoder.copyBufferToBuffer(b, 0, readbacks[i] as GPUBuffer, 0, b.size));
  device.queue.submit([encoder.finish()]);
  const out: ArrayBuffer[] = [];
  for (const r of readbacks) {
    await r.mapAsync(GPUMapMode.READ);
    out.push(r.getMappedRange().slice(0));
    r.destroy();
  }
  for (const b of [uniform, ...storage]) b.destroy();
  return out;
}

function compare(name: string, gpu: Float32Array, cpu: Float32Array): FloatCase {
  let maxDiff = 0;
  let scale = 1;
  for (let i = 0; i < cpu.length; i++) {
    const diff = Math.abs((gpu[i] as number) - (cpu[i] as number));
    maxDiff = Number.isNaN(diff) ? Infinity : Math.max(maxDiff, diff);
    scale = Math.max(scale, Math.abs(cpu[i] as number));
  }
  return { name, maxDiff, scale, gpuLength: gpu.length, cpuLength: cpu.length };
}

/** A random in [0, 1) whose CPU sample is the `pick`-th kept token, halfway through its share. */
function randomFor(row: Float32Array, temperature: number, topK: number, pick: number): number {
  const vocab = row.length;
  const order = [...row.keys()].sort((i, j) => (row[j] as number) - (row[i] as number) || i - j);
  const kept = (topK === 0 || topK >= vocab ? order : order.slice(0, topK)).sort((i, j) => i - j);
  const max = row[order[0] as number] as number;
  const weights = kept.map((i) => Math.exp(((row[i] as number) - max) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  const at = pick % kept.length;
  const before = weights.slice(0, at).reduce((a, b) => a + b, 0);
  return (before + (weights[at] as number) / 2) / total;
}

async function sampleCase(device: GPUDevice, name: string, rows: Float32Array[], sampling: RowSampling[]): Promise<SampleCase> {
  const vocabSize = rows[0]?.length ?? 0;
  const shape = { rows: rows.length, vocabSize };
  const logitsData = new Float32Array(rows.length * vocabSize);
  rows.forEach((r, i) => logitsData.set(r, i * vocabSize));
  const records = new ArrayBuffer(rows.length * SAMPLING_RECORD_BYTES);
  packSampling(sampling, records);
  const [, , ids] = await runKernel(device, sample, shape, sampleParams(shape), [logitsData, records, 4 * rows.length]);
  const got = [...new Uint32Array(ids as ArrayBuffer).subarray(0, rows.length)];
  const want = rows.map((row, i) => {
    const s = sampling[i] as RowSampling;
    return referenceSample(row, s.temperature, s.topK, s.random);
  });
  return { name, got, want };
}

/** matmul family, layerNorm and sample on odd shapes vs the CPU reference, all in one validation scope. */
export async function runKernelChecks(): Promise<KernelReport> {
  const rt = await requestGpuDevice();
  const device = rt.device;
  const floats: FloatCase[] = [];
  const samples: SampleCase[] = [];
  let error: GPUError | null = null;
  device.pushErrorScope('validation');
  try {
    for (const { m, n, k } of [
      { m: 37, n: 45, k: 29 },
      { m: 1, n: 70, k: 33 },
    ]) {
      for (const [kernel, bias, gelu] of [
        [matmul, false, false],
        [matmulBias, true, false],
        [matmulBiasGelu, true, true],
        [matmulTiled, false, false],
      ] as const) {
        const a = randomArray(m * k, m + 7, 1);
        const b = randomArray(k * n, n + 11, 0.5);
        const biasData = randomArray(n, k + 13, 0.5);
        const shape = { m, n, k };
        const [, , , out] = await runKernel(device, kernel, shape, matmulParams(shape), [a, b, biasData, 4 * m * n]);
        const want = matmulRef(a, b, m, n, k, { ...(bias ? { bias: biasData } : {}), gelu });
        floats.push(compare(`${kernel.name} ${m}×${n}×${k}`, new Float32Array(out as ArrayBuffer), want));
      }
    }
    for (const cols of [45, 200]) {
      const shape = { rows: 5, cols };
      const x = randomArray(5 * cols, 3, 2, 3);
      const gamma = randomArray(cols, 4, 0.2, 1);
      const beta = randomArray(cols, 5, 0.1);
      const [, , , out] = await runKernel(device, layerNorm, shape, layerNormParams(shape), [x, gamma, beta, 4 * 5 * cols]);
      floats.push(compare(`layerNorm 5×${cols}`, new Float32Array(out as ArrayBuffer), layerNormRef(x, gamma, beta, 5, cols)));
    }

    const vocab = 300;
    // Greedy: a tie for the maximum (17 and 250: lowest index wins) and a maximum at the last index.
    const greedyRows = [0, 1, 2, 3].map((i) => randomArray(vocab, 60 + i, 3));
    greedyRows[1]?.fill(-1).set([5], 17);
    greedyRows[1]?.set([5], 250);
    greedyRows[3]?.set([100], vocab - 1);
    samples.push(
      await sampleCase(device, 'greedy', greedyRows, [
        { temperature: 0, topK: 0, random: 0.5 },
        { temperature: 0, topK: 40, random: 0.9 },
        { temperature: 1.3, topK: 1, random: 0.99 },
        { temperature: 0, topK: 0, random: 0 },
      ]),
    );
    const rows: Float32Array[] = [];
    const sampling: RowSampling[] = [];
    const configs = [
      { temperature: 1, topK: 0 },
      { temperature: 0.7, topK: 5 },
      { temperature: 2, topK: 40 },
      { temperature: 0.5, topK: 3 },
      // The kernel's one-pass sorted-list size and past it (the multi-pass path).
      { temperature: 1.1, topK: 64 },
      { temperature: 0.9, topK: 100 },
    ];
    configs.forEach((c, i) => {
      const row = randomArray(vocab, 70 + i, 4);
      for (const pick of [0, 1, 2, 7, 123]) {
        rows.push(row);
        sampling.push({ ...c, random: randomFor(row, c.temperature, c.topK, pick) });
      }
      rows.push(row);
      sampling.push({ ...c, random: 0.3141 });
    });
    samples.push(await sampleCase(device, 'top-k with given randoms', rows, sampling));
  } finally {
    error = await device.popErrorScope();
    rt.destroy();
  }
  return { runtime: rt.facts.runtime, adapter: rt.facts.description, validationError: error?.message ?? null, floats, samples };
}

function relativeError(gpu: Float32Array, cpu: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < cpu.length; i++) {
    const d = Math.abs((gpu[i] as number) - (cpu[i] as number));
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(cpu[i] as number));
  }
  return diff / scale;
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if ((row[i] as number) > (row[best] as number)) best = i;
  return best;
}

/** The tiny preset: 5/11/17-token prompts in slots 2/0/3, prefill then 3 decode steps, GPU vs CPU logits. */
export async function runModelCheck(seed = 7): Promise<ModelReport> {
  const rt = await requestGpuDevice();
  const device = rt.device;
  const config = getPreset('tiny');
  const weights = initWeights(config, seed);
  const steps: ModelStep[] = [];
  const bytes = (text: string) => [...new TextEncoder().encode(text)];
  const prompts = [
    { slot: 2, tokens: bytes('Hello') },
    { slot: 0, tokens: bytes('Once upon a') },
    { slot: 3, tokens: bytes('The quick brown f') },
  ];
  const seq = (slot: number, tokens: number[], startPosition: number): BatchSequence => ({ slot, tokens, startPosition, sample: true, temperature: 0, topK: 0, random: 0 });
  let error: GPUError | null = null;
  device.pushErrorScope('validation');
  try {
    const runner = await createModelRunner(device, config, { maxSlots: 4, maxBatchTokens: 64, weights });
    try {
      const cache = createReferenceKvCache(config, 4);
      const lengths = prompts.map((p) => p.tokens.length);
      let batch = prompts.map((p) => seq(p.slot, p.tokens, 0));
      for (let step = 0; step <= 3; step++) {
        const gpu = await runner.forwardLogits(batch);
        const cpu = referenceForward(weights, cache, batch);
        const next = cpu.map(argmax);
        steps.push({
          step: step === 0 ? 'prefill' : `decode ${step}`,
          gpuRows: gpu.length,
          cpuRows: cpu.length,
          rowLengths: gpu.map((r) => r.length),
          relErrors: cpu.map((row, i) => (gpu[i] ? relativeError(gpu[i], row) : Infinity)),
          next,
        });
        if (step > 0) lengths.forEach((_, i) => (lengths[i] = (lengths[i] as number) + 1));
        batch = prompts.map((p, i) => seq(p.slot, [next[i] as number], lengths[i] as number));
      }
    } finally {
      runner.destroy();
    }
  } finally {
    error = await device.popErrorScope();
    rt.destroy();
  }
  return { validationError: error?.message ?? null, vocabSize: config.vocabSize, promptLengths: prompts.map((p) => p.tokens.length), steps };
}
