import { ceilDiv, defineKernel } from './define.js';
import source from './layerNorm.wgsl';

export interface LayerNormShape {
  rows: number;
  /** Normalized width (d). */
  cols: number;
}

/**
 * FLOPs per element: mean 1 (add), variance 3 (sub, mul, add), normalize and affine 4 (sub, mul by
 * 1/σ, mul γ, add β). Per-row scalars (divisions, rsqrt) are not counted.
 */
export const LAYER_NORM_FLOPS_PER_ELEMENT = 8;

/** y = (x - mean) / √(var + 1e-5) · γ + β over each row; one invocation per row. */
export const layerNorm = defineKernel<LayerNormShape>({
  name: 'layerNorm',
  label: 'layerNorm',
  source,
  entryPoint: 'main',
  workgroupSize: [64, 1, 1],
  dispatch: ({ rows }) => [ceilDiv(rows, 64), 1, 1],
  // Logical bytes: x once, γ and β once (the kernel's later passes over a row hit cache).
  cost: ({ rows, cols }) => ({
    flops: LAYER_NORM_FLOPS_PER_ELEMENT * rows * cols,
    bytesRead: 4 * (rows * cols + 2 * cols),
    bytesWritten: 4 * rows * cols,
  }),
  inputs: ({ rows, cols }) => ({ dims: [[rows, cols], [cols], [cols]], types: ['float', 'float', 'float'] }),
});

export function layerNormParams(shape: LayerNormShape): Uint32Array<ArrayBuffer> {
  return Uint32Array.of(shape.rows, shape.cols, 0, 0);
}
