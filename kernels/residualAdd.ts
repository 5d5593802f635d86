import { ceilDiv, defineKernel } from './define.js';
import source from './residualAdd.wgsl';

export interface ResidualAddShape {
  rows: number;
  cols: number;
}

/** x += y, in place. */
export const residualAdd = defineKernel<ResidualAddShape>({
  name: 'residualAdd',
  label: 'residualAdd',
  source,
  entryPoint: 'main',
  workgroupSize: [64, 1, 1],
  dispatch: ({ rows, cols }) => [ceilDiv(cols, 64), rows, 1],
  cost: ({ rows, cols }) => ({ flops: rows * cols, bytesRead: 4 * 2 * rows * cols, bytesWritten: 4 * rows * cols }),
  inputs: ({ rows, cols }) => ({
    dims: [
      [rows, cols],
      [rows, cols],
    ],
    types: ['float', 'float'],
  }),
});

export function residualAddParams(shape: ResidualAddShape): Uint32Array<ArrayBuffer> {
  return Uint32Array.of(shape.rows, shape.cols, 0, 0);
}
