// Model weights in GPT-2's layout (HF transformers names in the comments): Conv1D matrices are
// [in, out] row-major, so y = x · W + b. Deterministic seeded weights by default; `.safetensors`
// files with GPT-2 tensor names load through loadSafetensors().

import { WgprofError } from '../util/errors.js';
import { validateModelConfig } from './presets.js';
import type { ModelConfig } from './types.js';

export interface LayerWeights {
  /** h.{i}.ln_1.weight / .bias [d] */
  ln1Weight: Float32Array;
  ln1Bias: Float32Array;
  /** h.{i}.attn.c_attn.weight [d, 3d] (q | k | v columns) / .bias [3d] */
  attnWeight: Float32Array;
  attnBias: Float32Array;
  /** h.{i}.attn.c_proj.weight [d, d] / .bias [d] */
  attnProjWeight: Float32Array;
  attnProjBias: Float32Array;
  /** h.{i}.ln_2.weight / .bias [d] */
  ln2Weight: Float32Array;
  ln2Bias: Float32Array;
  /** h.{i}.mlp.c_fc.weight [d, dFF] / .bias [dFF] */
  fcWeight: Float32Array;
  fcBias: Float32Array;
  /** h.{i}.mlp.c_proj.weight [dFF, d] / .bias [d] */
  fcProjWeight: Float32Array;
  fcProjBias: Float32Array;
}

export interface ModelWeights {
  config: ModelConfig;
  /** wte.weight [vocab, d]; also the LM head (tied). */
  wte: Float32Array;
  /** wpe.weight [contextLength, d] */
  wpe: Float32Array;
  layers: LayerWeights[];
  /** ln_f.weight / .bias [d] */
  lnFWeight: Float32Array;
  lnFBias: Float32Array;
}

type LayerKey = keyof LayerWeights;

/** Per layer tensor: our field, GPT-2's name suffix, and its shape. */
function layerTensors(config: ModelConfig): { key: LayerKey; name: string; shape: number[] }[] {
  const { dModel: d, dFF } = config;
  return [
    { key: 'ln1Weight', name: 'ln_1.weight', shape: [d] },
    { key: 'ln1Bias', name: 'ln_1.bias', shape: [d] },
    { key: 'attnWeight', name: 'attn.c_attn.weight', shape: [d, 3 * d] },
    { key: 'attnBias', name: 'attn.c_attn.bias', shape: [3 * d] },
    { key: 'attnProjWeight', name: 'attn.c_proj.weight', shape: [d, d] },
    { key: 'attnProjBias', name: 'attn.c_proj.bias', shape: [d] },
    { key: 'ln2Weight', name: 'ln_2.weight', shape: [d] },
    { key: 'ln2Bias', name: 'ln_2.bias', shape: [d] },
    { key: 'fcWeight', name: 'mlp.c_fc.weight', shape: [d, dFF] },
    { key: 'fcBias', name: 'mlp.c_fc.bias', shape: [dFF] },
    { key: 'fcProjWeight', name: 'mlp.c_proj.weight', shape: [dFF, d] },
    { key: 'fcProjBias', name: 'mlp.c_proj.bias', shape: [d] },
  ];
}

/** Every tensor of a model, GPT-2 names and shapes, with a getter into `weights`. */
export function namedTensors(config: ModelConfig): { name: string; shape: number[]; get(w: ModelWeights): Float32Array }[] {
  const { vocabSize, dModel: d, contextLength } = config;
  const out: { name: string; shape: number[]; get(w: ModelWeights): Float32Array }[] = [
    { name: 'wte.weight', shape: [vocabSize, d], get: (w) => w.wte },
    { name: 'wpe.weight', shape: [contextLength, d], get: (w) => w.wpe },
  ];
  for (let i = 0; i < config.nLayers; i++) {
    for (const t of layerTensors(config)) {
      out.push({ name: `h.${i}.${t.name}`, shape: t.shape, get: (w) => (w.layers[i] as LayerWeights)[t.key] });
    }
  }
  out.push({ name: 'ln_f.weight', shape: [d], get: (w) => w.lnFWeight }, { name: 'ln_f.bias', shape: [d], get: (w) => w.lnFBias });
  return out;
}

/** mulberry32: a small, fast, seedable 32-bit PRNG; uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normalFiller(random: () => number): (out: Float32Array, std: number, mean?: number) => Float32Array {
  return (out, std, mean = 0) => {
    // Box–Muller; 1 - u keeps the log argument in (0, 1].
    for (let i = 0; i < out.length; i += 2) {
      const r = Math.sqrt(-2 * Math.log(1 - random()));
      const theta = 2 * Math.PI * random();
      out[i] = mean + std * r * Math.cos(theta);
      if (i + 1 < out.length) out[i + 1] = mean + std * r * Math.sin(theta);
    }
    return out;
  };
}

/**
 * Deterministic random weights for `config` from `seed`. GPT-2's init (normal, std 0.02 at d = 768,
 * residual projections scaled by 1/√(2·layers)) scaled as 0.55/√d so narrow models keep the same
 * signal; the position embedding is a little stronger than the token embedding and LayerNorm/bias
 * parameters are perturbed, so an untrained tiny model produces varied text rather than echoing its
 * last byte, and tests exercise every parameter.
 */
export function initWeights(config: ModelConfig, seed = 0): ModelWeights {
  validateModelConfig(config);
  const { vocabSize, dModel: d, contextLength, nLayers, dFF } = config;
  const normal = normalFiller(mulberry32(seed));
  const std = 0.55 / Math.sqrt(d);
  const projStd = std / Math.sqrt(2 * nLayers);
  const f = (n: number) => new Float32Array(n);
  const layers: LayerWeights[] = [];
  for (let i = 0; i < nLayers; i++) {
    layers.push({
      ln1Weight: normal(f(d), 0.1, 1),
      ln1Bias: normal(f(d), 0.02),
      attnWeight: normal(f(d * 3 * d), 4 * std),
      attnBias: normal(f(3 * d), 0.02),
      attnProjWeight: normal(f(d * d), 8 * projStd),
      attnProjBias: normal(f(d), 0.02),
      ln2Weight: normal(f(d), 0.1, 1),
      ln2Bias: normal(f(d), 0.02),
      fcWeight: normal(f(d * dFF), 4 * std),
      fcBias: normal(f(dFF), 0.02),
      fcProjWeight: normal(f(dFF * d), 8 * projStd),
      fcProjBias: normal(f(d), 0.02),
    });
  }
  return {
    config,
    wte: normal(f(vocabSize * d), std),
    wpe: normal(f(contextLength * d), 2 * std),
    layers,
    lnFWeight: normal(f(d), 0.1, 1),
    lnFBias: normal(f(d), 0.02),
  };
}

/** Checks that `weights` match `config` tensor by tensor; throws INVALID_WEIGHTS naming the tensor. */
export function validateWeights(weights: ModelWeights, config: ModelConfig): void {
  if (weights === null || typeof weights !== 'object' || !Array.isArray(weights.layers)) {
    throw new WgprofError('INVALID_WEIGHTS', 'weights must be a ModelWeights object (see initWeights / loadSafetensors).');
  }
  if (weights.layers.length !== config.nLayers) {
    throw new WgprofError('INVALID_WEIGHTS', `weights have ${weights.layers.length} layers; model "${config.name}" has ${config.nLayers}.`);
  }
  for (const t of namedTensors(config)) {
    const data = t.get(weights);
    const want = t.shape.reduce((a, b) => a * b, 1);
    if (!(data instanceof Float32Array) || data.length !== want) {
      const got = data instanceof Float32Array ? `${data.length} floats` : typeof data;
      throw new WgprofError('INVALID_WEIGHTS', `tensor ${t.name} has ${got}; model "${config.name}" needs [${t.shape.join(', ')}] = ${want} floats.`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// safetensors: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
// then the raw tensor bytes (offsets relative to the end of the header).

interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function decodeTensor(name: string, entry: SafetensorsEntry, body: Uint8Array): Float32Array {
  const [start, end] = entry.data_offsets;
  const count = entry.shape.reduce((a, b) => a * b, 1);
  const bytes = body.subarray(start, end);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = entry.dtype === 'F32' ? 4 : entry.dtype === 'F16' || entry.dtype === 'BF16' ? 2 : 0;
  if (width === 0) {
    throw new WgprofError('INVALID_WEIGHTS', `tensor ${name} has dtype ${entry.dtype}; supported: F32, F16, BF16.`);
  }
  if (bytes.byteLength !== count * width || end > body.byteLength) {
    throw new WgprofError('INVALID_WEIGHTS', `tensor ${name}: data_offsets [${start}, ${end}] do not hold ${count} ${entry.dtype} values.`);
  }
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    if (entry.dtype === 'F32') out[i] = view.getFloat32(4 * i, true);
    else if (entry.dtype === 'F16') out[i] = halfToFloat(view.getUint16(2 * i, true));
    else out[i] = new Float32Array(Uint32Array.of(view.getUint16(2 * i, true) << 16).buffer)[0] as number;
  }
  return out;
}

/** Parses a safetensors file's header; throws INVALID_WEIGHTS when it is not one. */
export function readSafetensorsHeader(bytes: Uint8Array): { entries: Map<string, SafetensorsEntry>; body: Uint8Array } {
  if (bytes.byteLength < 8) throw new WgprofError('INVALID_WEIGHTS', `a safetensors file needs at least 8 bytes, got ${bytes.byteLength}.`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.byteLength) {
    throw new WgprofError(
      'INVALID_WEIGHTS',
      `safetensors header length ${headerLength} exceeds the file (${bytes.byteLength} bytes); is this a .safetensors file?`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  } catch (error) {
    throw new WgprofError('INVALID_WEIGHTS', `safetensors header is not JSON: ${String(error)}`, { cause: error });
  }
  const entries = new Map<string, SafetensorsEntry>();
  for (const [name, value] of Object.entries(header)) {
    if (name !== '__metadata__') entries.set(name, value as SafetensorsEntry);
  }
  return { entries, body: bytes.subarray(8 + headerLength) };
}

/**
 * Loads GPT-2-named tensors (`wte.weight`, `h.0.attn.c_attn.weight`, ..., optionally prefixed
 * `transformer.` as in HF checkpoints) from a safetensors file into ModelWeights for `config`.
 * Extra tensors (e.g. `h.{i}.attn.bias`, the causal mask buffer) are ignored.
 */
export function loadSafetensors(bytes: Uint8Array, config: ModelConfig): ModelWeights {
  validateModelConfig(config);
  const { entries, body } = readSafetensorsHeader(bytes);
  const get = (name: string, shape: number[]): Float32Array => {
    const entry = entries.get(name) ?? entries.get(`transformer.${name}`);
    if (!entry) {
      throw new WgprofError('INVALID_WEIGHTS', `safetensors file has no tensor "${name}" (nor "transformer.${name}") needed by model "${config.name}".`);
    }
    if (entry.shape.length !== shape.length || entry.shape.some((v, i) => v !== shape[i])) {
      throw new WgprofError(
        'INVALID_WEIGHTS',
        `tensor ${name} has shape [${entry.shape.join(', ')}]; model "${config.name}" needs [${shape.join(', ')}]. Pick the preset/config that ` +
          `matches the file.`,
      );
    }
    return decodeTensor(name, entry, body);
  };
  const tensors = namedTensors(config);
  const loaded = new Map(tensors.map((t) => [t.name, get(t.name, t.shape)]));
  const take = (name: string) => loaded.get(name) as Float32Array;
  const layers: LayerWeights[] = [];
  for (let i = 0; i < config.nLayers; i++) {
    const layer = {} as LayerWeights;
    for (const t of layerTensors(config)) layer[t.key] = take(`h.${i}.${t.name}`);
    layers.push(layer);
  }
  return { config, wte: take('wte.weight'), wpe: take('wpe.weight'), layers, lnFWeight: take('ln_f.weight'), lnFBias: take('ln_f.bias') };
}

/** Writes weights as an F32 safetensors file with GPT-2 tensor names (the inverse of loadSafetensors). */
export function encodeSafetensors(weights: ModelWeights): Uint8Array {
  const tensors = namedTensors(weights.config);
  const header: Record<string, SafetensorsEntry> = {};
  let offset = 0;
  for (const t of tensors) {
    const size = t.get(weights).byteLength;
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (the format recommends it).
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.byteLength;
  for (const t of tensors) {
    const data = t.get(weights);
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}
