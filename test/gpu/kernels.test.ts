// Every kernel on dawn.node (SwiftShader) against the CPU reference, on odd shapes that are not
// multiples of any tile or workgroup size, inside a validation error scope that must stay empty.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KernelDescriptor } from '../../kernels/define.js';
import {
  attention,
  attentionParams,
  embedding,
  embeddingParams,
  kernels,
  kvAppend,
  kvAppendParams,
  logits,
  logitsParams,
  residualAdd,
  residualAddParams,
  SAMPLE_NONE,
  type RowSampling,
} from '../../kernels/index.js';
import { requestGpuDevice, type GpuRuntime } from '../../src/gpu/device.js';
import { setHintReceiver, type DispatchHint } from '../../src/instrument/hints.js';
import { compileKernel, createKernelBindGroup, encodeKernel, type CompiledKernel } from '../../src/engine/kernel-runner.js';
import { attentionRef, embeddingRef, kvAppendRef, logitsRef } from '../../src/engine/reference.js';
import { WgprofError } from '../../src/util/errors.js';
import {
  GREEDY_SAMPLING,
  greedyRows,
  LAYER_NORM_TOL,
  layerNormCase,
  MATMUL_TOL,
  MATMUL_VARIANTS,
  matmulCase,
  maxAbsDiff,
  pushPicks,
  randomArray,
  referenceSamples,
  runSampleKernel,
  submitKernel,
  type KernelData,
} from '../shared/gpu-kernel-harness.js';

let rt: GpuRuntime;
let device: GPUDevice;
before(async () => {
  rt = await requestGpuDevice();
  device = rt.device;
});
after(() => rt.destroy());

/** compileKernel caches per device, so each kernel compiles once per file. */
const compile = <S>(kernel: KernelDescriptor<S>): Promise<CompiledKernel<S>> => compileKernel(device, kernel);

/**
 * Runs one dispatch (see submitKernel) inside a validation error scope that must stay empty, and
 * returns the final contents of every storage binding.
 */
async function run<S>(kernel: KernelDescriptor<S>, shape: S, params: Uint32Array<ArrayBuffer>, buffers: (KernelData | number)[]): Promise<ArrayBuffer[]> {
  device.pushErrorScope('validation');
  const submitted = await submitKernel(device, kernel, shape, params, buffers);
  const error = await device.popErrorScope();
  assert.equal(error, null, `validation error: ${error?.message}`);
  return submitted.read();
}

/** max |gpu - cpu| ≤ tol · max(1, max |cpu|): relative to the output's scale, absolute below 1. */
function assertClose(gpu: Float32Array, cpu: Float32Array, tol: number, what: string): void {
  assert.equal(gpu.length >= cpu.length, true, `${what}: GPU output has ${gpu.length} values, expected ${cpu.length}`);
  const { maxDiff, scale } = maxAbsDiff(gpu, cpu);
  assert.ok(maxDiff <= tol * scale, `${what}: max |gpu - cpu| = ${maxDiff} > ${tol} · ${scale}`);
}

const f32 = (b: ArrayBuffer | undefined) => new Float32Array(b as ArrayBuffer);

/** Per-token metadata records (token id, slot, position, 0). */
function meta(tokens: number[], slots: number[], positions: number[]): Uint32Array<ArrayBuffer> {
  return Uint32Array.from(tokens.flatMap((t, i) => [t, slots[i] as number, positions[i] as number, 0]));
}

describe('kernels vs CPU reference', () => {
  test('the registry lists every kernel under its own name, with a label equal to the name', () => {
    for (const [key, kernel] of Object.entries(kernels)) {
      assert.equal(kernel.name, key);
      assert.equal(kernel.label, key);
    }
    assert.deepEqual(Object.keys(kernels).sort(), [
      'attention',
      'embedding',
      'kvAppend',
      'layerNorm',
      'logits',
      'matmul',
      'matmulBias',
      'matmulBiasGelu',
      'matmulTiled',
      'residualAdd',
      'sample',
    ]);
  });

  test('embedding: 7 tokens, d 45', async () => {
    const shape = { tokens: 7, dModel: 45, vocabSize: 29, contextLength: 13 };
    const wte = randomArray(29 * 45, 1);
    const wpe = randomArray(13 * 45, 2);
    const tokens = [0, 28, 5, 5, 17, 3, 11];
    const positions = [0, 1, 2, 12, 7, 3, 3];
    const [, , , out] = await run(embedding, shape, embeddingParams(shape), [
      meta(
        tokens,
        tokens.map(() => 0),
        positions,
      ),
      wte,
      wpe,
      4 * 7 * 45,
    ]);
    assertClose(f32(out), embeddingRef(tokens, positions, wte, wpe, 45), 1e-6, 'embedding');
  });

  for (const cols of [45, 200]) {
    test(`layerNorm: 5 rows × ${cols} (values offset from 0)`, async () => {
      const { gpu, cpu } = await layerNormCase(run, cols);
      assertClose(gpu, cpu, LAYER_NORM_TOL, 'layerNorm');
    });
  }

  const matmulCases = [
    { m: 37, n: 45, k: 29 },
    { m: 1, n: 70, k: 33 },
    { m: 70, n: 67, k: 40 },
  ];
  for (const shape of matmulCases) {
    for (const [kernel, bias, gelu] of MATMUL_VARIANTS) {
      test(`${kernel.name}: ${shape.m}×${shape.n}×${shape.k}`, async () => {
        const { gpu, cpu } = await matmulCase(run, kernel, shape, bias, gelu);
        assertClose(gpu, cpu, MATMUL_TOL, kernel.name);
      });
    }
  }

  test('kvAppend: 6 tokens into 3 slots; other cache rows keep their values', async () => {
    const d = 20;
    const ctx = 9;
    const shape = { tokens: 6, dModel: d, contextLength: ctx, maxSlots: 3 };
    const qkv = randomArray(6 * 3 * d, 21);
    const slots = [0, 0, 0, 2, 1, 2];
    const positions = [0, 1, 2, 8, 4, 5];
    const kInit = randomArray(3 * ctx * d, 22);
    const vInit = randomArray(3 * ctx * d, 23);
    const [, , kOut, vOut] = await run(kvAppend, shape, kvAppendParams(shape), [
      meta(
        slots.map(() => 0),
        slots,
        positions,
      ),
      qkv,
      kInit,
      vInit,
    ]);
    const k = kInit.slice();
    const v = vInit.slice();
    kvAppendRef(qkv, slots, positions, k, v, d, ctx);
    assert.deepEqual(f32(kOut), k);
    assert.deepEqual(f32(vOut), v);
  });

  for (const { d, nHeads } of [
    { d: 24, nHeads: 3 },
    { d: 160, nHeads: 2 },
  ]) {
    test(`attention: d ${d}, ${nHeads} heads, prefill + long decode + mid chunk, 3 slots`, async () => {
      const ctx = 150;
      const slots = [0, 0, 0, 0, 0, 1, 2, 2, 2];
      const positions = [0, 1, 2, 3, 4, 130, 60, 61, 66];
      const tokens = slots.length;
      const qkv = randomArray(tokens * 3 * d, 31 + d, 1);
      const kCache = randomArray(3 * ctx * d, 32 + d, 1);
      const vCache = randomArray(3 * ctx * d, 33 + d, 1);
      const attendedKeys = positions.reduce((sum, p) => sum + p + 1, 0);
      const shape = { tokens, dModel: d, nHeads, contextLength: ctx, maxSlots: 3, attendedKeys };
      const [, , , , out] = await run(attention, shape, attentionParams(shape), [
        meta(
          slots.map(() => 0),
          slots,
          positions,
        ),
        qkv,
        kCache,
        vCache,
        4 * tokens * d,
      ]);
      assertClose(f32(out), attentionRef(qkv, slots, positions, kCache, vCache, d, nHeads, ctx), 1e-5, 'attention');
    });
  }

  test('residualAdd: 7 × 45 in place', async () => {
    const shape = { rows: 7, cols: 45 };
    const x = randomArray(7 * 45, 41);
    const y = randomArray(7 * 45, 42);
    const [xOut] = await run(residualAdd, shape, residualAddParams(shape), [x, y]);
    assertClose(
      f32(xOut),
      x.map((v, i) => v + (y[i] as number)),
      1e-6,
      'residualAdd',
    );
  });

  test('logits: 3 gathered rows of 9, vocab 70, d 29', async () => {
    const shape = { rows: 3, vocabSize: 70, dModel: 29, tokens: 9 };
    const x = randomArray(9 * 29, 51);
    const wte = randomArray(70 * 29, 52);
    const rows = Uint32Array.of(8, 0, 4);
    const [, , , out] = await run(logits, shape, logitsParams(shape), [x, rows, wte, 4 * 3 * 70]);
    const want = logitsRef(x, rows, wte, 70, 29);
    want.forEach((row, s) => assertClose(f32(out).subarray(s * 70, (s + 1) * 70), row, 1e-5, `logits row ${s}`));
  });
});

describe('sample kernel', () => {
  const vocab = 300;

  const runSample = (rows: Float32Array[], sampling: RowSampling[]): Promise<number[]> => runSampleKernel(run, rows, sampling);

  test('greedy equals the CPU argmax; ties go to the lowest index; topK 1 is greedy', async () => {
    // Row 1: a tie for the maximum at 17 and 250; row 3: the maximum at the last index.
    const rows = greedyRows(vocab);
    const sampling = [...GREEDY_SAMPLING];
    const got = await runSample(rows, sampling);
    assert.deepEqual(got, referenceSamples(rows, sampling));
    assert.equal(got[1], 17);
    assert.equal(got[3], vocab - 1);
  });

  test('temperature / top-k sampling equals the CPU reference sampler for given randoms', async () => {
    const rows: Float32Array[] = [];
    const sampling: RowSampling[] = [];
    const configs = [
      { temperature: 1, topK: 0 },
      { temperature: 0.7, topK: 5 },
      { temperature: 2, topK: 40 },
      { temperature: 1, topK: vocab + 10 },
      { temperature: 0.5, topK: 3 },
      // The largest topK of the kernel's one-pass sorted list, and one past it (the multi-pass path).
      { temperature: 1.1, topK: 64 },
      { temperature: 0.9, topK: 100 },
    ];
    configs.forEach((c, i) => {
      const row = randomArray(vocab, 70 + i, 4);
      if (i === 4) row.set([9, 9, 9], 100); // tied top-3 block: ranks by index
      pushPicks(rows, sampling, row, c);
      // Plus arbitrary randoms (could fall at a boundary only with probability ~1e-7).
      for (const random of [0, 0.3141, 0.999]) {
        rows.push(row);
        sampling.push({ ...c, random });
      }
    });
    const got = await runSample(rows, sampling);
    assert.deepEqual(got, referenceSamples(rows, sampling));
    // The picks really spread over the kept set (not all argmax).
    assert.ok(new Set(got).size > 10, `expected varied samples, got ${new Set(got).size} distinct`);
  });

  test('a row of NaN logits yields SAMPLE_NONE (the runner turns it into an error)', async () => {
    const row = new Float32Array(vocab).fill(NaN);
    const got = await runSample(
      [row, row],
      [
        { temperature: 0, topK: 0, random: 0 },
        { temperature: 1, topK: 4, random: 0.5 },
      ],
    );
    assert.deepEqual(got, [SAMPLE_NONE, SAMPLE_NONE]);
  });
});

describe('kernel runner', () => {
  test('encodeKernel tells an attached receiver the kernel and shape of each dispatch', async () => {
    const hints: DispatchHint[] = [];
    setHintReceiver(device, (kernel, shape) => hints.push({ kernel, shape }));
    try {
      const shape = { rows: 2, cols: 3 };
      await run(residualAdd, shape, residualAddParams(shape), [new Float32Array(6), new Float32Array(6)]);
    } finally {
      setHintReceiver(device, undefined);
    }
    assert.equal(hints.length, 1);
    assert.equal(hints[0]?.kernel, residualAdd);
    assert.deepEqual(hints[0]?.shape, { rows: 2, cols: 3 });
  });

  test('encodeKernel rejects a dispatch over the per-dimension workgroup limit', async () => {
    const c = await compile(residualAdd);
    const encoder = device.createCommandEncoder();
    const rows = device.limits.maxComputeWorkgroupsPerDimension + 1;
    const buffer = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE });
    const uniform = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM });
    const bindGroup = createKernelBindGroup(c as CompiledKernel<unknown>, [uniform, buffer, buffer]);
    assert.throws(
      () => encodeKernel(encoder, c, { rows, cols: 1 }, bindGroup),
      (error: unknown) => error instanceof WgprofError && error.code === 'DISPATCH_TOO_LARGE' && /residualAdd/.test(error.message),
    );
    buffer.destroy();
    uniform.destroy();
  });
});
