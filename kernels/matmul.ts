import { ceilDiv, defineKernel } from './define.js';
import type { KernelCost, KernelDescriptor } from './define.js';
import matmulSource from './matmul.wgsl';
import matmulTiledSource from './matmulTiled.wgsl';

/** C[m, n] = A[m, k] · B[k, n]. */
export interface MatmulShape {
  m: number;
  n: number;
  k: number;
}

/** Output block of one workgroup: 32 × 4 invocations, each a 4 × 8 register block → 16 rows × 256 columns. */
export const MATMUL_TILE_ROWS = 16;
export const MATMUL_TILE_COLS = 256;

/**
 * FLOPs of one GELU (tanh approximation): x³ (2), ·0.044715 (1), +x (1), ·√(2/π) (1), tanh (1),
 * +1 (1), ·x·0.5 (2). Documented for readers; not added to `flops` (see matmulCost).
 */
export const GELU_FLOPS_PER_ELEMENT = 9;

/**
 * `flops` is 2·M·N·K for every variant, as torch counts `aten::addmm` (bias ignored): the fused bias
 * and GELU epilogue (≤ 10 flops per output element, < 1% of a d ≥ 64 matmul) is left out so our
 * numbers compare one-to-one with a torch trace of the same model. Its bytes are counted.
 */
function matmulCost({ m, n, k }: MatmulShape, bias: boolean): KernelCost {
  return {
    flops: 2 * m * n * k,
    bytesRead: 4 * (m * k + k * n + (bias ? n : 0)),
    bytesWritten: 4 * m * n,
  };
}

function variant(name: string, bias: boolean, gelu: boolean): KernelDescriptor<MatmulShape> {
  return defineKernel<MatmulShape>({
    name,
    label: name,
    source: matmulSource,
    entryPoint: 'main',
    workgroupSize: [32, 4, 1],
    constants: { HAS_BIAS: bias ? 1 : 0, GELU: gelu ? 1 : 0 },
    dispatch: ({ m, n }) => [ceilDiv(n, MATMUL_TILE_COLS), ceilDiv(m, MATMUL_TILE_ROWS), 1],
    cost: (shape) => matmulCost(shape, bias),
    inputs: ({ m, n, k }) =>
      bias
        ? { dims: [[m, k], [k, n], [n]], types: ['float', 'float', 'float'] }
        : {
            dims: [
              [m, k],
              [k, n],
            ],
            types: ['float', 'float'],
          },
  });
}

/** C = A·B. Its `bias` binding must still be bound (to any storage buffer); it is not read. */
export const matmul = variant('matmul', false, false);
/** C = A·B + bias (GPT-2's Conv1D / Linear). */
export const matmulBias = variant('matmulBias', true, false);
/** C = GELU(A·B + bias) (GPT-2's MLP up-projection). */
export const matmulBiasGelu = variant('matmulBiasGelu', true, true);

export function matmulParams(shape: MatmulShape): Uint32Array<ArrayBuffer> {
  return Uint32Array.of(shape.m, shape.n, shape.k, 0);
}

/**
 * C = A·B with workgroup-memory tiling (64 × 64 output tile per 16 × 16 workgroup, TK = 16 slices):
 * the classic GPU design, for benchmarks and hardware GPUs; the model uses the barrier-free variants
 * (see matmul.wgsl for the SwiftShader measurements). Same bindings and params as `matmul`.
 */
export const matmulTiled = defineKernel<MatmulShape>({
  name: 'matmulTiled',
  label: 'matmulTiled',
  source: matmulTiledSource,
  entryPoint: 'main',
  workgroupSize: [16, 16, 1],
  constants: { HAS_BIAS: 0, GELU: 0 },
  dispatch: ({ m, n }) => [ceilDiv(n, 64), ceilDiv(m, 64), 1],
  cost: (shape) => matmulCost(shape, false),
  inputs: ({ m, n, k }) => ({
    dims: [
      [m, k],
      [k, n],
    ],
    types: ['float', 'float'],
  }),
});
