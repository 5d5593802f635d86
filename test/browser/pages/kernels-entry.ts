// Page side of test/browser/kernels.spec.ts: runs kernels and the tiny model on the page's WebGPU device
// (Chromium, SwiftShader) next to the CPU reference and returns plain numbers; the spec asserts on them.
// Bundled by the spec with esbuild into dist/test/kernels-page.js. The GPU setup and the cases are
// test/shared/gpu-kernel-harness.ts, shared with test/gpu/kernels.test.ts and test/gpu/model.test.ts
// (those import node:test, so they cannot be bundled themselves).

import type { RowSampling } from '../../../kernels/index.js';
import { createModelRunner, createReferenceKvCache, getPreset, initWeights, referenceForward } from '../../../src/engine/model.js';
import { requestGpuDevice } from '../../../src/gpu/device.js';
import {
  argmax,
  GREEDY_SAMPLING,
  greedyRows,
  layerNormCase,
  MATMUL_VARIANTS,
  matmulCase,
  maxAbsDiff,
  prefillThenDecode,
  pushPicks,
  randomArray,
  referenceSamples,
  relativeError,
  runKernel,
  runSampleKernel,
  tinyPrompts,
  type KernelRun,
} from '../../shared/gpu-kernel-harness.js';

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

function compare(name: string, gpu: Float32Array, cpu: Float32Array): FloatCase {
  return { name, ...maxAbsDiff(gpu, cpu), gpuLength: gpu.length, cpuLength: cpu.length };
}

async function sampleCase(run: KernelRun, name: string, rows: Float32Array[], sampling: RowSampling[]): Promise<SampleCase> {
  return { name, got: await runSampleKernel(run, rows, sampling), want: referenceSamples(rows, sampling) };
}

/** matmul family, layerNorm and sample on odd shapes vs the CPU reference, all in one validation scope. */
export async function runKernelChecks(): Promise<KernelReport> {
  const rt = await requestGpuDevice();
  const device = rt.device;
  // One validation scope around everything (the spec asserts it stays empty), so no scope per dispatch.
  const run: KernelRun = (kernel, shape, params, buffers) => runKernel(device, kernel, shape, params, buffers);
  const floats: FloatCase[] = [];
  const samples: SampleCase[] = [];
  let error: GPUError | null;
  device.pushErrorScope('validation');
  try {
    for (const shape of [
      { m: 37, n: 45, k: 29 },
      { m: 1, n: 70, k: 33 },
    ]) {
      for (const [kernel, bias, gelu] of MATMUL_VARIANTS) {
        const { gpu, cpu } = await matmulCase(run, kernel, shape, bias, gelu);
        floats.push(compare(`${kernel.name} ${shape.m}×${shape.n}×${shape.k}`, gpu, cpu));
      }
    }
    for (const cols of [45, 200]) {
      const { gpu, cpu } = await layerNormCase(run, cols);
      floats.push(compare(`layerNorm 5×${cols}`, gpu, cpu));
    }

    const vocab = 300;
    // Greedy: a tie for the maximum (17 and 250: lowest index wins) and a maximum at the last index.
    samples.push(await sampleCase(run, 'greedy', greedyRows(vocab), [...GREEDY_SAMPLING]));
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
      pushPicks(rows, sampling, row, c);
      rows.push(row);
      sampling.push({ ...c, random: 0.3141 });
    });
    samples.push(await sampleCase(run, 'top-k with given randoms', rows, sampling));
  } finally {
    error = await device.popErrorScope();
    rt.destroy();
  }
  return { runtime: rt.facts.runtime, adapter: rt.facts.description, validationError: error?.message ?? null, floats, samples };
}

/** The tiny preset: 5/11/17-token prompts in slots 2/0/3, prefill then 3 decode steps, GPU vs CPU logits. */
export async function runModelCheck(seed = 7): Promise<ModelReport> {
  const rt = await requestGpuDevice();
  const device = rt.device;
  const config = getPreset('tiny');
  const weights = initWeights(config, seed);
  const steps: ModelStep[] = [];
  const prompts = tinyPrompts();
  let error: GPUError | null;
  device.pushErrorScope('validation');
  try {
    const runner = await createModelRunner(device, config, { maxSlots: 4, maxBatchTokens: 64, weights });
    try {
      const cache = createReferenceKvCache(config, 4);
      await prefillThenDecode(prompts, 3, async (batch, step) => {
        const gpu = await runner.forwardLogits(batch);
        const cpu = referenceForward(weights, cache, batch);
        steps.push({
          step,
          gpuRows: gpu.length,
          cpuRows: cpu.length,
          rowLengths: gpu.map((r) => r.length),
          relErrors: cpu.map((row, i) => (gpu[i] ? relativeError(gpu[i], row) : Infinity)),
          next: cpu.map(argmax),
        });
        return cpu;
      });
    } finally {
      runner.destroy();
    }
  } finally {
    error = await device.popErrorScope();
    rt.destroy();
  }
  return { validationError: error?.message ?? null, vocabSize: config.vocabSize, promptLengths: prompts.map((p) => p.tokens.length), steps };
}
