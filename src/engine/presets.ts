// Model shapes the engine can build by name. tiny and small read bytes (vocab 256, the byte
// tokenizer); gpt2 has GPT-2 small's shape (124M parameters) for real-size profiling runs.

import { WgprofError } from '../util/errors.js';
import { ATTENTION_MAX_HEAD_DIM } from '../../kernels/attention.js';
import type { ModelConfig } from './types.js';

export const presets = {
  tiny: Object.freeze({ name: 'tiny', vocabSize: 256, dModel: 64, nLayers: 2, nHeads: 4, contextLength: 128, dFF: 256 }),
  small: Object.freeze({ name: 'small', vocabSize: 256, dModel: 256, nLayers: 4, nHeads: 8, contextLength: 512, dFF: 1024 }),
  gpt2: Object.freeze({ name: 'gpt2', vocabSize: 50257, dModel: 768, nLayers: 12, nHeads: 12, contextLength: 1024, dFF: 3072 }),
} as const satisfies Record<string, ModelConfig>;

export type PresetName = keyof typeof presets;

export const presetNames = Object.keys(presets) as PresetName[];

/** The preset called `name`; throws UNKNOWN_MODEL listing the valid names otherwise. */
export function getPreset(name: string): ModelConfig {
  if (!Object.hasOwn(presets, name)) {
    throw new WgprofError('UNKNOWN_MODEL', `unknown model preset ${JSON.stringify(name)}; valid presets: ${presetNames.join(', ')}.`);
  }
  return presets[name as PresetName];
}

/** Checks a config's fields and the kernels' limits; returns it unchanged or throws INVALID_MODEL_CONFIG. */
export function validateModelConfig(config: ModelConfig): ModelConfig {
  const fail = (message: string): never => {
    throw new WgprofError('INVALID_MODEL_CONFIG', `model config ${JSON.stringify(config?.name ?? '?')}: ${message}`);
  };
  if (config === null || typeof config !== 'object') fail(`expected a ModelConfig object, got ${config === null ? 'null' : typeof config}.`);
  for (const key of ['vocabSize', 'dModel', 'nLayers', 'nHeads', 'contextLength', 'dFF'] as const) {
    const value = config[key];
    if (!Number.isInteger(value) || value < 1) fail(`${key} must be a positive integer, got ${String(value)}.`);
  }
  if (config.dModel % config.nHeads !== 0) {
    fail(`dModel ${config.dModel} must be a multiple of nHeads ${config.nHeads} (head dimension = dModel / nHeads).`);
  }
  const headDim = config.dModel / config.nHeads;
  if (headDim > ATTENTION_MAX_HEAD_DIM || headDim % 4 !== 0) {
    fail(`head dimension ${headDim} (dModel / nHeads) must be a multiple of 4 and at most ${ATTENTION_MAX_HEAD_DIM} (the attention kernel reads vec4 rows).`);
  }
  return config;
}
