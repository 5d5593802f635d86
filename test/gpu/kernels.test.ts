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
  layerNorm,
  layerNormParams,
  logits,
  logitsParams,
  matmul,
  matmulBias,
  matmulBiasGelu,
  matmulParams,
  matmulTiled,
  packSampling,
  residualAdd,
  residualAddParams,
  sample,
  SAMPLE_NONE,
  SAMPLING_RECORD_BYTES,
  sampleParams,
  type RowSampling,
} from '../../kernels/index.js';
import { requestGpuDevice, type GpuRuntime } from '../../src/gpu/device.js';
import { setHintReceiver, type DispatchHint } from '../../src/instrument/hints.js';
import { compileKernel, createKernelBindGroup, encodeKernel, type CompiledKernel } from '../../src/engine/kernel-runner.js';
import {
  attentionRef,
  embeddingRef,
  kvAppendRef,
  layerNormRef,
  logitsRef,
  matmulRef,
  referenceSample,
} from '../../src/engine/reference.js';
import { mulberry32 } from '../../src/engine/weights.js';
import { WgprofError } from '../../src/util/errors.js';

let rt: GpuRuntime;
let device: GPUDevice;
before(async () => {
  rt = await requestGpuDevice();
  device = rt.device;
});
after(() => rt.destroy());

/** compileKernel caches per device, so each kernel compiles once per file. */
const compile = <S>(kernel: KernelDescriptor<S>): Promise<CompiledKernel<S>> => compileKernel(device, kernel);

function randomArray(n: number, seed: number, scale = 1, offset = 0): Float32Array<ArrayBuffer> {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => offset + scale * (2 * rand() - 1));
}

type Data = Float32Array<ArrayBuffer> | Uint32Array<ArrayBuffer> | ArrayBuffer;

/**
 * Runs one dispatch: binding 0 is the uniform `params`, binding i ≥ 1 is `buffers[i - 1]` (data to
 * upload, or a byte size for a zeroed output). Returns the final contents of every storage binding.
 */
async function run<S>(kernel: KernelDescriptor<S>, shape: S, params: Uint32Array<ArrayBuffer>, buffers: (Data | number)[]): Promise<ArrayBuffer[]> {
  device.pushErrorScope('validation');
  const c = await compile(kernel);
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
  const error = await device.popErrorScope();
  assert.equal(error, null, `validation error: ${error?.message}`);
  const out: ArrayBuffer[] = [];
  for (const r of readbacks) {
    await r.mapAsync(GPUMapMode.READ);
    out.push(r.getMappedRange().slice(0));
    r.destroy();
  }
  for (const b of [uniform, ...storage]) b.destroy();
  return out;
}

/** max |gpu - cpu| ≤ tol · max(1, max |cpu|): relative to the output's scale, absolute below 1. */
function assertClose(gpu: Float32Array, cpu: Float32Array, tol: number, what: string): void {
  assert.equal(gpu.length >= cpu.length, true, `${what}: GPU output has ${gpu.length} values, expected ${cpu.length}`);
  let maxDiff = 0;
  let scale = 1;
  for (let i = 0; i < cpu.length; i++) {
    const diff = Math.abs((gpu[i] as number) - (cpu[i] as number));
    maxDiff = Number.isNaN(diff) ? Infinity : Math.max(maxDiff, diff);
    scale = Math.max(scale, Math.abs(cpu[i] as number));
  }
  assert.ok(maxDiff <= tol * scale, `${what}: max |gpu - cpu| = ${maxDiff} > ${tol} · ${scale}`);
}

const f32 = (b: ArrayBuffer | undefined) => new Float32Array(b as ArrayBuffer);
const u32 = (b: ArrayBuffer | undefined) => new Uint32Array(b as ArrayBuffer);

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
      'attention', 'embedding', 'kvAppend', 'layerNorm', 'logits', 'matmul', 'matmulBias', 'matmulBiasGelu', 'matmulTiled', 'residualAdd', 'sample',
    ]);
  });

  test('embedding: 7 tokens, d 45', async () => {
    const shape = { tokens: 7, dModel: 45, vocabSize: 29, contextLength: 13 };
    const wte = randomArray(29 * 45, 1);
    const wpe = randomArray(13 * 45, 2);
    const tokens = [0, 28, 5, 5, 17, 3, 11];
    const positions = [0, 1, 2, 12, 7, 3, 3];
    const [, , , out] = await run(embedding, shape, embeddingParams(shape), [meta(tokens, tokens.map(() => 0), positions), wte, wpe, 4 * 7 * 45]);
    assertClose(f32(out), embeddingRef(tokens, positions, wte, wpe, 45), 1e-6, 'embedding');
  });

  for (const cols of [45, 200]) {
    test(`layerNorm: 5 rows × ${cols} (values offset from 0)`, async () => {
      const shape = { rows: 5, cols };
      const x = randomArray(5 * cols, 3, 2, 3);
      const gamma = randomArray(cols, 4, 0.2, 1);
      const beta = randomArray(cols, 5, 0.1);
      const [, , , out] = await run(layerNorm, shape, layerNormParams(shape), [x, gamma, beta, 4 * 5 * cols]);
      assertClose(f32(out), layerNormRef(x, gamma, beta, 5, cols), 1e-4, 'layerNorm');
    });
  }

  const matmulCases = [
    { m: 37, n: 45, k: 29 },
    { m: 1, n: 70, k: 33 },
    { m: 70, n: 67, k: 40 },
  ];
  for (const { m, n, k } of matmulCases) {
    for (const [kernel, options] of [
      [matmul, {}],
      [matmulBias, { bias: true }],
      [matmulBiasGelu, { bias: true, gelu: true }],
      [matmulTiled, {}],
    ] as const) {
      test(`${kernel.name}: ${m}×${n}×${k}`, async () => {
        const a = randomArray(m * k, m + 7, 1);
        const b = randomArray(k * n, n + 11, 0.5);
        const bias = randomArray(n, k + 13, 0.5);
        const shape = { m, n, k };
        const [, , , out] = await run(kernel, shape, matmulParams(shape), [a, b, bias, 4 * m * n]);
        const want = matmulRef(a, b, m, n, k, { ...('bias' in options ? { bias } : {}), gelu: 'gelu' in options });
        assertClose(f32(out), want, 1e-5, kernel.name);
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
    const [, , kOut, vOut] = await run(kvAppend, shape, kvAppendParams(shape), [meta(slots.map(() => 0), slots, positions), qkv, kInit, vInit]);
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
      const [, , , , out] = await run(attention, shape, attentionParams(shape), [meta(slots.map(() => 0), slots, positions), qkv, kCache, vCache, 4 * tokens * d]);
      assertClose(f32(out), attentionRef(qkv, slots, positions, kCache, vCache, d, nHeads, ctx), 1e-5, 'attention');
    });
  }

  test('residualAdd: 7 × 45 in place', async () => {
    const shape = { rows: 7, cols: 45 };
    const x = randomArray(7 * 45, 41);
    const y = randomArray(7 * 45, 42);
    const [xOut] = await run(residualAdd, shape, residualAddParams(shape), [x, y]);
    assertClose(f32(xOut), x.map((v, i) => v + (y[i] as number)), 1e-6, 'residualAdd');
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

  /** A random in [0, 1) whose CPU sample is `token`, halfway through its share of the distribution. */
  function randomFor(row: Float32Array, temperature: number, topK: number, pick: number): number {
    const order = [...row.keys()].sort((i, j) => (row[j] as number) - (row[i] as number) || i - j);
    const keep = new Set(topK === 0 || topK >= vocab ? order : order.slice(0, topK));
    const max = row[order[0] as number] as number;
    const kept = [...keep].sort((i, j) => i - j);
    const weights = kept.map((i) => Math.exp(((row[i] as number) - max) / temperature));
    const total = weights.reduce((a, b) => a + b, 0);
    const at = pick % kept.length;
    const before = weights.slice(0, at).reduce((a, b) => a + b, 0);
    return (before + (weights[at] as number) / 2) / total;
  }

  async function runSample(rows: Float32Array[], sampling: RowSampling[]): Promise<number[]> {
    const shape = { rows: rows.length, vocabSize: vocab };
    const logitsData = new Float32Array(rows.length * vocab);
    rows.forEach((r, i) => logitsData.set(r, i * vocab));
    const records = new ArrayBuffer(rows.length * SAMPLING_RECORD_BYTES);
    packSampling(sampling, records);
    const [, , ids] = await run(sample, shape, sampleParams(shape), [logitsData, records, 4 * rows.length]);
    return [...u32(ids).subarray(0, rows.length)];
  }

  test('greedy equals the CPU argmax; ties go to the lowest index; topK 1 is greedy', async () => {
    const rows = [0, 1, 2, 3].map((i) => randomArray(vocab, 60 + i, 3));
    // Row 1: a tie for the maximum at 17 and 250; row 3: the maximum at the last index.
    rows[1]?.fill(-1).set([5], 17);
    rows[1]?.set([5], 250);
    rows[3]?.set([100], vocab - 1);
    const sampling = [
      { temperature: 0, topK: 0, random: 0.5 },
      { temperature: 0, topK: 40, random: 0.9 },
      { temperature: 1.3, topK: 1, random: 0.99 },
      { temperature: 0, topK: 0, random: 0 },
    ];
    const got = await runSample(rows, sampling);
    const want = rows.map((row, i) => referenceSample(row, sampling[i]?.temperature ?? 0, sampling[i]?.topK ?? 0, sampling[i]?.random ?? 0));
    assert.deepEqual(got, want);
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
      for (const pick of [0, 1, 2, 7, 123]) {
        rows.push(row);
        sampling.push({ ...c, random: randomFor(row, c.temperature, c.topK, pick) });
      }
      // Plus arbitrary randoms (could fall at a boundary only with probability ~1e-7).
      for (const random of [0, 0.3141, 0.999]) {
        rows.push(row);
        sampling.push({ ...c, random });
      }
    });
    const got = await runSample(rows, sampling);
    const want = rows.map((row, i) => {
      const s = sampling[i] as RowSampling;
      return referenceSample(row, s.temperature, s.topK, s.random);
    });
    assert.deepEqual(got, want);
    // The picks really spread over the kept set (not all argmax).
    assert.ok(new Set(got).size > 10, `expected varied samples, got ${new Set(got).size} distinct`);
  });

  test('a row of NaN logits yields SAMPLE_NONE (the runner turns it into an error)', async () => {
    const row = new Float32Array(vocab).fill(NaN);
    const got = await runSample([row, row], [
      { temperature: 0, topK: 0, random: 0 },
      { temperature: 1, topK: 4, random: 0.5 },
    ]);
    assert.deepEqual(got, [SAMPLE_NONE, SAMPLE_NONE]);
  });
});

describe('kernel runner', () => {
  test('encodeKernel tells an attached receiver the kernel and shape of each dispatch', async () => {
    const hints: DispatchHint[] = [];
    setHintReceiver(device, (hint) => hints.push(hint));
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
