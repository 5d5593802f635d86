import { ceilDiv, defineKernel } from './define.js';
import { TOKEN_META_BYTES } from './embedding.js';
import source from './attention.wgsl';

export interface AttentionShape {
  tokens: number;
  dModel: number;
  nHeads: number;
  contextLength: number;
  maxSlots: number;
  /** Σ over the batch's tokens of (position + 1): the (token, key) pairs each head scores. */
  attendedKeys: number;
}

/** Largest head dimension the kernel supports (4 · MAX_HEAD_VEC4 in attention.wgsl); it must also be a multiple of 4. */
export const ATTENTION_MAX_HEAD_DIM = 256;

/**
 * FLOPs per (head, token, key): q·k 2·hd, softmax 4 (sub max, exp, rescale, add to sum), p·v 2·hd;
 * plus the final division, hd per (head, token). The query scaling (hd per head and token) is
 * included with the division: 2·hd per (head, token) in all.
 */
export const attention = defineKernel<AttentionShape>({
  name: 'attention',
  label: 'attention',
  source,
  entryPoint: 'main',
  workgroupSize: [64, 1, 1],
  // One invocation per (token, head).
  dispatch: ({ tokens, nHeads }) => [ceilDiv(tokens * nHeads, 64), 1, 1],
  cost: ({ tokens, dModel, nHeads, attendedKeys }) => {
    const hd = dModel / nHeads;
    return {
      flops: nHeads * (attendedKeys * (4 * hd + 4) + tokens * 2 * hd),
      // q per token, one k row and one v row per attended key (all heads together: d floats each).
      bytesRead: tokens * TOKEN_META_BYTES + 4 * tokens * dModel + 4 * 2 * attendedKeys * dModel,
      bytesWritten: 4 * tokens * dModel,
    };
  },
  inputs: ({ tokens, dModel, contextLength, maxSlots }) => ({
    dims: [
      [tokens, 4],
      [tokens, 3 * dModel],
      [maxSlots, contextLength, dModel],
      [maxSlots, contextLength, dModel],
    ],
    types: ['unsigned int', 'float', 'float', 'float'],
  }),
});

export function attentionParams(shape: AttentionShape): Uint32Array<ArrayBuffer> {
  return Uint32Array.of(shape.tokens, shape.dModel, shape.nHeads, shape.contextLength);
}
