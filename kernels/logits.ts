import { ceilDiv, defineKernel } from './define.js';
import source from './logits.wgsl';

export interface LogitsShape {
  /** Sampled rows (one per sequence that samples). */
  rows: number;
  vocabSize: number;
  dModel: number;
  /** Rows of x (tokens in the batch) the row indices point into. */
  tokens: number;
}

/** Output block of one workgroup: 64 invocations × (4 rows × 4 vocabulary entries). */
const ROWS_PER_WORKGROUP = 4;
const ENTRIES_PER_WORKGROUP = 256;

/** logits[s, :] = x[rowIndex[s], :] · Wteᵀ (LM head tied to the token embedding). */
export const logits = defineKernel<LogitsShape>({
  name: 'logits',
  label: 'logits',
  source,
  entryPoint: 'main',
  workgroupSize: [64, 1, 1],
  dispatch: ({ rows, vocabSize }) => [ceilDiv(vocabSize, ENTRIES_PER_WORKGROUP), ceilDiv(rows, ROWS_PER_WORKGROUP), 1],
  cost: ({ rows, vocabSize, dModel }) => ({
    flops: 2 * rows * vocabSize * dModel,
    bytesRead: 4 * (rows + rows * dModel + vocabSize * dModel),
    bytesWritten: 4 * rows * vocabSize,
  }),
  inputs: ({ rows, vocabSize, dModel, tokens }) => ({
    dims: [[tokens, dModel], [rows], [vocabSize, dModel]],
    types: ['float', 'unsigned int', 'float'],
  }),
});

export function logitsParams(shape: LogitsShape): Uint32Array<ArrayBuffer> {
  return Uint32Array.of(shape.rows, shape.vocabSize, shape.dModel, shape.tokens);
}
