// Kernel descriptors as plain data: exact cost formulas, dispatch sizes that cover the output, WGSL
// overrides that match the descriptor, and the trace's input dims/types.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { KernelDescriptor } from '../../kernels/define.js';
import {
  attention,
  embedding,
  GELU_FLOPS_PER_ELEMENT,
  kernels,
  kvAppend,
  LAYER_NORM_FLOPS_PER_ELEMENT,
  layerNorm,
  logits,
  matmul,
  matmulBias,
  matmulBiasGelu,
  matmulTiled,
  residualAdd,
  sample,
  TOKEN_META_BYTES,
} from '../../kernels/index.js';
import { pipelineConstants } from '../../src/engine/kernel-runner.js';

describe('cost formulas', () => {
  test('matmul: flops = 2·M·N·K exactly, bytes = 4·(MK + KN) read and 4·MN written', () => {
    for (const [m, n, k] of [
      [37, 45, 29],
      [256, 256, 256],
      [1, 3072, 768],
    ] as const) {
      assert.deepEqual(matmul.cost?.({ m, n, k }), { flops: 2 * m * n * k, bytesRead: 4 * (m * k + k * n), bytesWritten: 4 * m * n });
      assert.deepEqual(matmulTiled.cost?.({ m, n, k }), matmul.cost?.({ m, n, k }));
    }
    assert.equal(matmul.cost?.({ m: 256, n: 256, k: 256 }).flops, 33_554_432);
  });

  test('matmul epilogues: flops stay 2·M·N·K (as torch counts addmm); bias adds 4·N bytes read', () => {
    const shape = { m: 37, n: 45, k: 29 };
    assert.deepEqual(matmulBias.cost?.(shape), { flops: 2 * 37 * 45 * 29, bytesRead: 4 * (37 * 29 + 29 * 45 + 45), bytesWritten: 4 * 37 * 45 });
    assert.equal(GELU_FLOPS_PER_ELEMENT, 9);
    assert.equal(matmulBiasGelu.cost?.(shape).flops, 2 * 37 * 45 * 29);
    assert.equal(matmulBiasGelu.cost?.(shape).bytesRead, matmulBias.cost?.(shape).bytesRead);
  });

  test('embedding, layerNorm, residualAdd, kvAppend', () => {
    assert.deepEqual(embedding.cost?.({ tokens: 7, dModel: 45, vocabSize: 29, contextLength: 13 }), {
      flops: 7 * 45,
      bytesRead: 7 * TOKEN_META_BYTES + 4 * 2 * 7 * 45,
      bytesWritten: 4 * 7 * 45,
    });
    assert.equal(LAYER_NORM_FLOPS_PER_ELEMENT, 8);
    assert.deepEqual(layerNorm.cost?.({ rows: 5, cols: 64 }), { flops: 8 * 5 * 64, bytesRead: 4 * (5 * 64 + 2 * 64), bytesWritten: 4 * 5 * 64 });
    assert.deepEqual(residualAdd.cost?.({ rows: 3, cols: 10 }), { flops: 30, bytesRead: 240, bytesWritten: 120 });
    assert.deepEqual(kvAppend.cost?.({ tokens: 6, dModel: 20, contextLength: 9, maxSlots: 3 }), {
      flops: 0,
      bytesRead: 6 * 16 + 4 * 2 * 6 * 20,
      bytesWritten: 4 * 2 * 6 * 20,
    });
  });

  test('attention counts every (head, token, key) pair: nHeads·(keys·(4·hd + 4) + tokens·2·hd)', () => {
    // One decode token at position 9 (10 keys), d 64, 4 heads (hd 16).
    const shape = { tokens: 1, dModel: 64, nHeads: 4, contextLength: 128, maxSlots: 2, attendedKeys: 10 };
    assert.deepEqual(attention.cost?.(shape), {
      flops: 4 * (10 * (4 * 16 + 4) + 1 * 2 * 16),
      bytesRead: 16 + 4 * 64 + 4 * 2 * 10 * 64,
      bytesWritten: 4 * 64,
    });
    // Doubling the attended keys doubles the key-dependent part only.
    const twice = attention.cost?.({ ...shape, attendedKeys: 20 }).flops as number;
    assert.equal(twice - (attention.cost?.(shape).flops as number), 4 * 10 * (4 * 16 + 4));
  });

  test('logits: 2·rows·vocab·d, reading the row indices, x rows and all of wte', () => {
    assert.deepEqual(logits.cost?.({ rows: 3, vocabSize: 256, dModel: 64, tokens: 33 }), {
      flops: 2 * 3 * 256 * 64,
      bytesRead: 4 * (3 + 3 * 64 + 256 * 64),
      bytesWritten: 4 * 3 * 256,
    });
  });

  test('sample has no cost estimate: unknown is not zero', () => {
    assert.equal(sample.cost, undefined);
  });
});

/** Threads a kernel needs along x and y for a shape, for the dispatch coverage check. */
const coverage: Partial<Record<keyof typeof kernels, (shape: never) => [number, number]>> = {
  embedding: (s: { tokens: number; dModel: number }) => [s.dModel, s.tokens],
  layerNorm: (s: { rows: number }) => [s.rows, 1],
  matmul: (s: { m: number; n: number }) => [Math.ceil(s.n / 8), Math.ceil(s.m / 4)],
  matmulBias: (s: { m: number; n: number }) => [Math.ceil(s.n / 8), Math.ceil(s.m / 4)],
  matmulBiasGelu: (s: { m: number; n: number }) => [Math.ceil(s.n / 8), Math.ceil(s.m / 4)],
  matmulTiled: (s: { m: number; n: number }) => [Math.ceil(s.n / 4), Math.ceil(s.m / 4)],
  kvAppend: (s: { tokens: number; dModel: number }) => [s.dModel, s.tokens],
  attention: (s: { tokens: number; nHeads: number }) => [s.tokens * s.nHeads, 1],
  residualAdd: (s: { rows: number; cols: number }) => [s.cols, s.rows],
  logits: (s: { rows: number; vocabSize: number }) => [Math.ceil(s.vocabSize / 4), Math.ceil(s.rows / 4)],
  sample: (s: { rows: number }) => [s.rows, 1],
};

const oddShape = {
  tokens: 37,
  dModel: 44,
  vocabSize: 259,
  contextLength: 13,
  rows: 37,
  cols: 45,
  m: 37,
  n: 45,
  k: 29,
  maxSlots: 3,
  nHeads: 4,
  attendedKeys: 100,
};

describe('descriptors', () => {
  for (const [name, kernel] of Object.entries(kernels) as [keyof typeof kernels, KernelDescriptor<unknown>][]) {
    test(`${name}: dispatch covers an odd shape with no spare workgroup`, () => {
      const need = coverage[name];
      assert.ok(need, `no coverage rule for ${name}`);
      const [tx, ty] = need(oddShape as never);
      const [wx, wy, wz] = kernel.dispatch(oddShape);
      const [sx, sy] = kernel.workgroupSize;
      assert.equal(wz, 1);
      assert.ok(wx * sx >= tx && (wx - 1) * sx < tx, `${name}: x ${wx} workgroups of ${sx} for ${tx} threads`);
      assert.ok(wy * sy >= ty && (wy - 1) * sy < ty, `${name}: y ${wy} workgroups of ${sy} for ${ty} threads`);
    });

    test(`${name}: the WGSL declares WG_X/WG_Y/WG_Z with the descriptor's defaults and every constant`, () => {
      const [x, y, z] = kernel.workgroupSize;
      assert.match(kernel.source, /@workgroup_size\(WG_X, WG_Y, WG_Z\)/);
      for (const [key, value] of Object.entries({ WG_X: x, WG_Y: y, WG_Z: z })) {
        assert.match(kernel.source, new RegExp(`override ${key}: u32 = ${value};`), `${name}: override ${key} = ${value}`);
      }
      for (const key of Object.keys(pipelineConstants(kernel))) {
        assert.match(kernel.source, new RegExp(`override ${key}\\b`), `${name}: constant ${key} is not an override`);
      }
      assert.ok(x * y * z <= 256, 'SwiftShader allows at most 256 invocations per workgroup');
    });

    test(`${name}: inputs() gives one type per dims entry`, () => {
      const inputs = kernel.inputs?.(oddShape);
      assert.ok(inputs);
      assert.equal(inputs.dims.length, inputs.types.length);
      for (const dims of inputs.dims)
        assert.ok(
          dims.every((v) => Number.isInteger(v) && v > 0),
          JSON.stringify(dims),
        );
    });
  }

  test("the WGSL files on disk are the descriptors' sources (static, not generated)", () => {
    for (const file of ['matmul', 'matmulTiled', 'attention', 'sample']) {
      const text = readFileSync(new URL(`../../kernels/${file}.wgsl`, import.meta.url), 'utf8');
      assert.ok(
        Object.values(kernels).some((k) => k.source === text),
        `${file}.wgsl`,
      );
    }
  });

  test('pipelineConstants: the workgroup size first, then the descriptor constants', () => {
    assert.deepEqual(pipelineConstants(matmulBiasGelu as KernelDescriptor<unknown>), { WG_X: 32, WG_Y: 4, WG_Z: 1, HAS_BIAS: 1, GELU: 1 });
    assert.deepEqual(pipelineConstants(layerNorm as KernelDescriptor<unknown>), { WG_X: 64, WG_Y: 1, WG_Z: 1 });
  });
});
