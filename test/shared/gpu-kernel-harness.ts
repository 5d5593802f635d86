// GPU test setup shared by test/gpu/kernels.test.ts, test/gpu/model.test.ts (Node, dawn.node) and
// test/browser/pages/kernels-entry.ts (Chromium, bundled with esbuild by test/browser/kernels.spec.ts):
// running one kernel on uploaded data and reading every binding back, the CPU comparisons, and the
// tiny-model prompts and prefill/decode loop. Runtime-neutral on purpose: no node:test, no node:
// imports, no assertions (each side asserts in its own way), so the page bundle can include it.

import type { KernelDescriptor } from '../../kernels/define.js';
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
} from '../../kernels/index.js';
import { compileKernel, createKernelBindGroup, encodeKernel, type CompiledKernel } from '../../src/engine/kernel-runner.js';
import { layerNormRef, matmulRef, referenceSample } from '../../src/engine/reference.js';
import type { BatchSequence } from '../../src/engine/types.js';
import { mulberry32 } from '../../src/engine/weights.js';

/** Bound for the matmul family: max |gpu - cpu| ≤ tol · max(1, max |cpu|). */
export const MATMUL_TOL = 1e-5;
/** Bound for layerNorm, same metric as MATMUL_TOL. */
export const LAYER_NORM_TOL = 1e-4;
/** Bound for whole-model logits: max |gpu - cpu| / max |cpu| per logits row (see relativeError). */
export const MODEL_REL_TOL = 1e-3;

/** `n` values uniform in [offset - scale, offset + scale), deterministic for a seed. */
export function randomArray(n: number, seed: number, scale = 1, offset = 0): Float32Array<ArrayBuffer> {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => offset + scale * (2 * rand() - 1));
}

/** Data uploaded to one storage binding. */
export type KernelData = Float32Array<ArrayBuffer> | Uint32Array<ArrayBuffer> | ArrayBuffer;

/** Runs one dispatch and returns the final contents of every storage binding (see submitKernel). */
export type KernelRun = <S>(
  kernel: KernelDescriptor<S>,
  shape: S,
  params: Uint32Array<ArrayBuffer>,
  buffers: (KernelData | number)[],
) => Promise<ArrayBuffer[]>;

/** A dispatch that has been submitted; `read()` maps the copies back and frees every buffer. */
export interface SubmittedKernel {
  read(): Promise<ArrayBuffer[]>;
}

/**
 * Encodes and submits one dispatch: binding 0 is the uniform `params`, binding i ≥ 1 is `buffers[i - 1]`
 * (data to upload, or a byte size for a zeroed output), each copied to a readback buffer afterwards.
 * Split from the readback so a caller can close a validation error scope right after the submit.
 */
export async function submitKernel<S>(
  device: GPUDevice,
  kernel: KernelDescriptor<S>,
  shape: S,
  params: Uint32Array<ArrayBuffer>,
  buffers: (KernelData | number)[],
): Promise<SubmittedKernel> {
  // compileKernel caches per device, so each kernel compiles once per device.
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
  return {
    async read() {
      const out: ArrayBuffer[] = [];
      for (const r of readbacks) {
        await r.mapAsync(GPUMapMode.READ);
        out.push(r.getMappedRange().slice(0));
        r.destroy();
      }
      for (const b of [uniform, ...storage]) b.destroy();
      return out;
    },
  };
}

/** submitKernel, then read(). */
export async function runKernel<S>(
  device: GPUDevice,
  kernel: KernelDescriptor<S>,
  shape: S,
  params: Uint32Array<ArrayBuffer>,
  buffers: (KernelData | number)[],
): Promise<ArrayBuffer[]> {
  return (await submitKernel(device, kernel, shape, params, buffers)).read();
}

/** max |gpu - cpu| over the reference's length (NaN counts as Infinity) and scale = max(minScale, max |cpu|). */
export function maxAbsDiff(gpu: Float32Array, cpu: Float32Array, minScale = 1): { maxDiff: number; scale: number } {
  let maxDiff = 0;
  let scale = minScale;
  for (let i = 0; i < cpu.length; i++) {
    const diff = Math.abs((gpu[i] as number) - (cpu[i] as number));
    maxDiff = Number.isNaN(diff) ? Infinity : Math.max(maxDiff, diff);
    scale = Math.max(scale, Math.abs(cpu[i] as number));
  }
  return { maxDiff, scale };
}

/**
 * max |gpu - cpu| / max |cpu| over one logits row: the whole row's scale, so near-zero logits do not
 * blow up the ratio (NaN counts as Infinity).
 */
export function relativeError(gpu: Float32Array, cpu: Float32Array): number {
  const { maxDiff, scale } = maxAbsDiff(gpu, cpu, 0);
  return maxDiff / scale;
}

/** The matmul family as [kernel, with bias, with GELU]. */
export const MATMUL_VARIANTS = [
  [matmul, false, false],
  [matmulBias, true, false],
  [matmulBiasGelu, true, true],
  [matmulTiled, false, false],
] as const;

export type MatmulKernel = (typeof MATMUL_VARIANTS)[number][0];

/** One matmul-family dispatch on seeded inputs: the GPU output and matmulRef's. */
export async function matmulCase(
  run: KernelRun,
  kernel: MatmulKernel,
  { m, n, k }: { m: number; n: number; k: number },
  bias: boolean,
  gelu: boolean,
): Promise<{ gpu: Float32Array; cpu: Float32Array }> {
  const a = randomArray(m * k, m + 7, 1);
  const b = randomArray(k * n, n + 11, 0.5);
  const biasData = randomArray(n, k + 13, 0.5);
  const shape = { m, n, k };
  const [, , , out] = await run(kernel, shape, matmulParams(shape), [a, b, biasData, 4 * m * n]);
  const cpu = matmulRef(a, b, m, n, k, { ...(bias ? { bias: biasData } : {}), gelu });
  return { gpu: new Float32Array(out as ArrayBuffer), cpu };
}

/** layerNorm over 5 rows × `cols` of values offset from 0: the GPU output and layerNormRef's. */
export async function layerNormCase(run: KernelRun, cols: number): Promise<{ gpu: Float32Array; cpu: Float32Array }> {
  const shape = { rows: 5, cols };
  const x = randomArray(5 * cols, 3, 2, 3);
  const gamma = randomArray(cols, 4, 0.2, 1);
  const beta = randomArray(cols, 5, 0.1);
  const [, , , out] = await run(layerNorm, shape, layerNormParams(shape), [x, gamma, beta, 4 * 5 * cols]);
  return { gpu: new Float32Array(out as ArrayBuffer), cpu: layerNormRef(x, gamma, beta, 5, cols) };
}

/** The sample kernel over `rows` (all of one vocab size) with per-row settings: the sampled ids. */
export async function runSampleKernel(run: KernelRun, rows: Float32Array[], sampling: RowSampling[]): Promise<number[]> {
  const vocabSize = rows[0]?.length ?? 0;
  const shape = { rows: rows.length, vocabSize };
  const logitsData = new Float32Array(rows.length * vocabSize);
  rows.forEach((r, i) => logitsData.set(r, i * vocabSize));
  const records = new ArrayBuffer(rows.length * SAMPLING_RECORD_BYTES);
  packSampling(sampling, records);
  const [, , ids] = await run(sample, shape, sampleParams(shape), [logitsData, records, 4 * rows.length]);
  return [...new Uint32Array(ids as ArrayBuffer).subarray(0, rows.length)];
}

/** referenceSample for each row with its settings. */
export function referenceSamples(rows: Float32Array[], sampling: RowSampling[]): number[] {
  return rows.map((row, i) => {
    const s = sampling[i] as RowSampling;
    return referenceSample(row, s.temperature, s.topK, s.random);
  });
}

/**
 * Four rows of `vocab` logits for the greedy cases: row 1 ties for the maximum at 17 and 250 (the
 * lowest index wins), row 3 has its maximum at the last index.
 */
export function greedyRows(vocab: number): Float32Array<ArrayBuffer>[] {
  const rows = [0, 1, 2, 3].map((i) => randomArray(vocab, 60 + i, 3));
  rows[1]?.fill(-1).set([5], 17);
  rows[1]?.set([5], 250);
  rows[3]?.set([100], vocab - 1);
  return rows;
}

/** Settings for greedyRows: temperature 0 (with and without topK) and topK 1 at temperature > 0. */
export const GREEDY_SAMPLING: readonly RowSampling[] = [
  { temperature: 0, topK: 0, random: 0.5 },
  { temperature: 0, topK: 40, random: 0.9 },
  { temperature: 1.3, topK: 1, random: 0.99 },
  { temperature: 0, topK: 0, random: 0 },
];

/** A random in [0, 1) whose CPU sample is the `pick`-th kept token (by index), halfway through its share. */
export function randomFor(row: Float32Array, temperature: number, topK: number, pick: number): number {
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

/**
 * Appends `row` five times with `settings` and randoms that make the CPU sample its 0th, 1st, 2nd,
 * 7th and 123rd kept token (modulo the kept count, see randomFor).
 */
export function pushPicks(rows: Float32Array[], sampling: RowSampling[], row: Float32Array, settings: { temperature: number; topK: number }): void {
  for (const pick of [0, 1, 2, 7, 123]) {
    rows.push(row);
    sampling.push({ ...settings, random: randomFor(row, settings.temperature, settings.topK, pick) });
  }
}

/** UTF-8 bytes of `text`: token ids for the byte-level tiny model. */
export function bytes(text: string): number[] {
  return [...new TextEncoder().encode(text)];
}

export function seq(slot: number, tokens: number[], startPosition: number, sample = true, temperature = 0, topK = 0, random = 0): BatchSequence {
  return { slot, tokens, startPosition, sample, temperature, topK, random };
}

export function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if ((row[i] as number) > (row[best] as number)) best = i;
  return best;
}

/** 5/11/17-token prompts in slots 2/0/3 (not in slot order, one slot left free). */
export function tinyPrompts(): { slot: number; tokens: number[] }[] {
  return [
    { slot: 2, tokens: bytes('Hello') },
    { slot: 0, tokens: bytes('Once upon a') },
    { slot: 3, tokens: bytes('The quick brown f') },
  ];
}

/**
 * Prefill of `prompts`, then `decodeSteps` decode steps each feeding every prompt its greedy next
 * token. `step` runs one batch (named 'prefill', 'decode 1', …) and returns the CPU logits rows, whose
 * argmax is the next token. Returns the tokens fed to the decode steps, per prompt.
 */
export async function prefillThenDecode(
  prompts: { slot: number; tokens: number[] }[],
  decodeSteps: number,
  step: (batch: BatchSequence[], name: string) => Promise<Float32Array[]>,
): Promise<number[][]> {
  let logits = await step(
    prompts.map((p) => seq(p.slot, p.tokens, 0)),
    'prefill',
  );
  const lengths = prompts.map((p) => p.tokens.length);
  const generated: number[][] = prompts.map(() => []);
  for (let i = 1; i <= decodeSteps; i++) {
    const next = logits.map(argmax);
    next.forEach((t, j) => generated[j]?.push(t));
    logits = await step(
      prompts.map((p, j) => seq(p.slot, [next[j] as number], lengths[j] as number)),
      `decode ${i}`,
    );
    lengths.forEach((_, j) => (lengths[j] = (lengths[j] as number) + 1));
  }
  return generated;
}
