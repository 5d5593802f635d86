import { ceilDiv, defineKernel } from './define.js';
import { TOKEN_META_BYTES } from './embedding.js';
import source from './kvAppend.wgsl';

export interface KvAppendShape {
  tokens: number;
  dModel: number;
  contextLength: number;
  maxSlots: number;
}

/** Copies each token's k and v (from the fused qkv rows) into one layer's caches at (slot, position). */
export const kvAppend = defineKernel<KvAppendShape>({
  name: 'kvAppend',
  label: 'kvAppend',
  source,
  entryPoint: 'main',
  workgroupSize: [64, 1, 1],
  dispatch: ({ tokens, dModel }) => [ceilDiv(dModel, 64), tokens, 1],
  // A copy: no arithmetic. Reads metadata + the k and v thirds of qkv; writes them to the caches.
  cost: ({ tokens, dModel }) => ({
    flops: 0,
    bytesRead: tokens * TOKEN_META_BYTES + 4 * 2 * tokens * dModel,
    bytesWritten: 4 * 2 * tokens * dModel,
  }),
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

export function kvAppendParams(shape: KvAppendShape): Uint32Array<ArrayBuffer> {
  return Uint32Array.of(shape.tokens, shape.dModel, shape.contextLength, shape.maxSlots);
}
