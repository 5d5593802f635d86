// The model side of the engine in one import: presets, weights, the GPU runner and the CPU reference.
export { createModelRunner, modelDeviceLimits } from './runner.js';
export type { ModelRunnerOptions } from './runner.js';
export { getPreset, presetNames, presets, validateModelConfig } from './presets.js';
export type { PresetName } from './presets.js';
export { encodeSafetensors, initWeights, loadSafetensors, mulberry32, namedTensors, validateWeights } from './weights.js';
export type { LayerWeights, ModelWeights } from './weights.js';
export { createReferenceKvCache, flattenBatch, referenceForward, referenceSample } from './reference.js';
export type { ReferenceKvCache } from './reference.js';
export { compileKernel, createKernelBindGroup, encodeKernel, pipelineConstants } from './kernel-runner.js';
export type { CompiledKernel } from './kernel-runner.js';
