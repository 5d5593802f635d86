// The kernel registry (STYLE §3): a literal, no registration by import side effect.
import { attention } from './attention.js';
import { embedding } from './embedding.js';
import { kvAppend } from './kvAppend.js';
import { layerNorm } from './layerNorm.js';
import { logits } from './logits.js';
import { matmul, matmulBias, matmulBiasGelu, matmulTiled } from './matmul.js';
import { residualAdd } from './residualAdd.js';
import { sample } from './sample.js';

export const kernels = {
  embedding,
  layerNorm,
  matmul,
  matmulBias,
  matmulBiasGelu,
  matmulTiled,
  kvAppend,
  attention,
  residualAdd,
  logits,
  sample,
} as const;

export type KernelName = keyof typeof kernels;

export * from './attention.js';
export * from './embedding.js';
export * from './kvAppend.js';
export * from './layerNorm.js';
export * from './logits.js';
export * from './matmul.js';
export * from './residualAdd.js';
export * from './sample.js';
// Device-peak calibration (wgprof report's roofline), not engine kernels: outside the registry.
export * from './peakBandwidth.js';
export * from './peakFlops.js';
