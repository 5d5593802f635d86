import { ceilDiv, defineKernel } from './define.js';
import source from './sample.wgsl';

export interface SampleShape {
  rows: number;
  vocabSize: number;
}

/** Bytes of one row's sampling record (temperature f32, topK u32, random f32, unused u32). */
export const SAMPLING_RECORD_BYTES = 16;

/** The id the kernel writes for a row with no valid (non-NaN) logit. */
export const SAMPLE_NONE = 0xffffffff;

/**
 * Greedy / temperature / top-k sampling, one invocation per row. No `cost`: the work depends on each
 * row's temperature and topK (greedy is one pass; top-k adds passes), which the shape does not carry,
 * and it is mostly comparisons, not FLOPs; the summary reports it as unestimated.
 */
export const sample = defineKernel<SampleShape>({
  name: 'sample',
  label: 'sample',
  source,
  entryPoint: 'main',
  workgroupSize: [64, 1, 1],
  dispatch: ({ rows }) => [ceilDiv(rows, 64), 1, 1],
  inputs: ({ rows, vocabSize }) => ({
    dims: [
      [rows, vocabSize],
      [rows, 4],
    ],
    types: ['float', 'float'],
  }),
});

export function sampleParams(shape: SampleShape): Uint32Array<ArrayBuffer> {
  return Uint32Array.of(shape.rows, shape.vocabSize, 0, 0);
}

export interface RowSampling {
  temperature: number;
  topK: number;
  random: number;
}

/** Packs per-row sampling records into `target` (SAMPLING_RECORD_BYTES each, from byte 0). */
export function packSampling(rows: readonly RowSampling[], target: ArrayBuffer): void {
  const view = new DataView(target);
  rows.forEach((row, i) => {
    const at = i * SAMPLING_RECORD_BYTES;
    view.setFloat32(at, row.temperature, true);
    view.setUint32(at + 4, row.topK, true);
    view.setFloat32(at + 8, row.random, true);
    view.setUint32(at + 12, 0, true);
  });
}
