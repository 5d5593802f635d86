import { ceilDiv, defineKernel } from './define.js';
import source from './embedding.wgsl';

export interface EmbeddingShape {
  /** Tokens in the batch (rows of the output). */
  tokens: number;
  dModel: number;
  vocabSize: number;
  contextLength: number;
}

/** Bytes of one per-token metadata record (token id, slot, position, unused: 4 × u32). */
export const TOKEN_META_BYTES = 16;

/** out[t, :] = wte[token[t], :] + wpe[position[t], :]. */
export const embedding = defineKernel<EmbeddingShape>({
  name: 'embedding',
  label: 'embedding',
  source,
  entryPoint: 'main',
  workgroupSize: [64, 1, 1],
  dispatch: ({ tokens, dModel }) => [ceilDiv(dModel, 64), tokens, 1],
  // One add per output element; reads each token's metadata record and two embedding rows.
  cost: ({ tokens, dModel }) => ({
    flops: tokens * dModel,
    bytesRead: tokens * TOKEN_META_BYTES + 4 * 2 * tokens * dModel,
    bytesWritten: 4 * tokens * dModel,
  }),
  inputs: ({ tokens, dModel, vocabSize, contextLength }) => ({
    dims: [
      [tokens, 4],
      [vocabSize, dModel],
      [contextLength, dModel],
    ],
    types: ['unsigned int', 'float', 'float'],
  }),
});

/** The kernel's uniform block. */
export function embeddingParams(shape: EmbeddingShape): Uint32Array<ArrayBuffer> {
  return Uint32Array.of(shape.tokens, shape.dModel, shape.vocabSize, shape.contextLength);
}
