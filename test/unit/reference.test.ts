// The CPU reference model and sampler, presets, seeded weights and the safetensors loader: the
// properties the GPU tests lean on (causality, batch independence, the sampler's rules).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  createReferenceKvCache,
  encodeSafetensors,
  flattenBatch,
  getPreset,
  initWeights,
  loadSafetensors,
  namedTensors,
  presets,
  referenceForward,
  referenceSample,
  validateModelConfig,
} from '../../src/engine/model.js';
import type { BatchSequence, ModelConfig } from '../../src/engine/types.js';
import { WgprofError } from '../../src/util/errors.js';

const tiny = presets.tiny;

function seq(slot: number, tokens: number[], startPosition: number, sample = true): BatchSequence {
  return { slot, tokens, startPosition, sample, temperature: 0, topK: 0, random: 0 };
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
  return d;
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if ((row[i] as number) > (row[best] as number)) best = i;
  return best;
}

const bytes = (text: string) => [...new TextEncoder().encode(text)];

describe('referenceForward', () => {
  const weights = initWeights(tiny, 5);

  test('is causal: prefill of n tokens = prefill of n - 1 then one decode step', () => {
    const tokens = bytes('causal check');
    const whole = referenceForward(weights, createReferenceKvCache(tiny, 1), [seq(0, tokens, 0)]);
    const cache = createReferenceKvCache(tiny, 1);
    referenceForward(weights, cache, [seq(0, tokens.slice(0, -1), 0, false)]);
    const stepped = referenceForward(weights, cache, [seq(0, tokens.slice(-1), tokens.length - 1)]);
    assert.ok(maxDiff(whole[0] as Float32Array, stepped[0] as Float32Array) < 1e-5);
  });

  test('sequences in one batch do not see each other (slots are independent)', () => {
    const alone = referenceForward(weights, createReferenceKvCache(tiny, 3), [seq(1, bytes('alpha'), 0)]);
    const batched = referenceForward(weights, createReferenceKvCache(tiny, 3), [seq(2, bytes('a much longer other prompt'), 0), seq(1, bytes('alpha'), 0)]);
    assert.equal(batched.length, 2);
    assert.ok(maxDiff(alone[0] as Float32Array, batched[1] as Float32Array) < 1e-6);
    assert.ok(maxDiff(alone[0] as Float32Array, batched[0] as Float32Array) > 1e-3, 'different prompts give different logits');
  });

  test('returns logits only for sequences that sample, in batch order', () => {
    const out = referenceForward(weights, createReferenceKvCache(tiny, 3), [seq(0, [1, 2], 0, false), seq(1, [3], 0), seq(2, [4, 5], 0)]);
    assert.equal(out.length, 2);
    assert.equal(out[0]?.length, tiny.vocabSize);
    assert.deepEqual(flattenBatch([seq(0, [1, 2], 0, false), seq(1, [3], 4), seq(2, [4, 5], 0)]), {
      tokens: [1, 2, 3, 4, 5],
      slots: [0, 0, 1, 2, 2],
      positions: [0, 1, 4, 0, 1],
      sampleRows: [2, 4],
    });
  });

  test('the seeded tiny model produces varied greedy text, not one repeated byte', () => {
    const cache = createReferenceKvCache(tiny, 1);
    let logits = referenceForward(weights, cache, [seq(0, bytes('Hello'), 0)]);
    const out: number[] = [];
    for (let i = 0; i < 40; i++) {
      const next = argmax(logits[0] as Float32Array);
      out.push(next);
      logits = referenceForward(weights, cache, [seq(0, [next], 5 + i)]);
    }
    assert.ok(new Set(out).size >= 10, `only ${new Set(out).size} distinct bytes in ${out.join(',')}`);
  });
});

describe('referenceSample', () => {
  // max ln 2 → weights [0.5, 1, 0.5], total 2.
  const row = Float32Array.of(0, Math.LN2, 0);

  test('walks the cumulative weights in index order', () => {
    assert.equal(referenceSample(row, 1, 0, 0.2), 0); // goal 0.4 < 0.5
    assert.equal(referenceSample(row, 1, 0, 0.3), 1); // goal 0.6: 0.5, then 1.5
    assert.equal(referenceSample(row, 1, 0, 0.8), 2); // goal 1.6: 1.5, then 2.0
    assert.equal(referenceSample(row, 1, 0, 0), 0);
  });

  test('greedy and topK 1 take the argmax; ties go to the lowest index', () => {
    assert.equal(referenceSample(row, 0, 0, 0.99), 1);
    assert.equal(referenceSample(row, 2, 1, 0.99), 1);
    assert.equal(referenceSample(Float32Array.of(1, 3, 3, 0), 0, 0, 0.5), 1);
  });

  test('top-k keeps the best-ranked logits, breaking ties by lower index', () => {
    // topK 2 keeps index 1 and, of the tied 0 and 2, index 0: total 1.5; goal 0.9·1.5 = 1.35 → 1.
    assert.equal(referenceSample(row, 1, 2, 0.9), 1);
    for (let r = 0; r < 1; r += 0.01) assert.notEqual(referenceSample(row, 1, 2, r), 2);
  });

  test('NaN logits are never sampled; an all-NaN row yields -1', () => {
    assert.equal(referenceSample(Float32Array.of(NaN, 1, NaN), 1, 0, 0.99), 1);
    assert.equal(referenceSample(Float32Array.of(NaN, NaN), 0, 0, 0), -1);
  });
});

describe('presets and weights', () => {
  test('getPreset returns the three presets with GPT-2 proportions', () => {
    assert.deepEqual(getPreset('tiny'), { name: 'tiny', vocabSize: 256, dModel: 64, nLayers: 2, nHeads: 4, contextLength: 128, dFF: 256 });
    assert.equal(getPreset('small').dModel, 256);
    assert.deepEqual(getPreset('gpt2'), { name: 'gpt2', vocabSize: 50257, dModel: 768, nLayers: 12, nHeads: 12, contextLength: 1024, dFF: 3072 });
  });

  test('an unknown preset fails with UNKNOWN_MODEL listing the valid names', () => {
    assert.throws(
      () => getPreset('huge'),
      (error: unknown) => {
        assert.ok(error instanceof WgprofError);
        assert.equal(error.code, 'UNKNOWN_MODEL');
        assert.match(error.message, /"huge".*tiny, small, gpt2/);
        return true;
      },
    );
  });

  test('validateModelConfig rejects shapes the kernels cannot run', () => {
    assert.throws(() => validateModelConfig({ ...tiny, nHeads: 3 }), /INVALID_MODEL_CONFIG: .*dModel 64 must be a multiple of nHeads 3/);
    assert.throws(() => validateModelConfig({ ...tiny, dModel: 60, nHeads: 10 }), /head dimension 6 .* multiple of 4/);
    assert.throws(() => validateModelConfig({ ...tiny, nLayers: 0 }), /nLayers must be a positive integer, got 0/);
  });

  test('initWeights is deterministic per seed and sized by the config', () => {
    const a = initWeights(tiny, 1);
    const b = initWeights(tiny, 1);
    const c = initWeights(tiny, 2);
    assert.deepEqual(a.wte, b.wte);
    assert.deepEqual(a.layers[1]?.fcProjWeight, b.layers[1]?.fcProjWeight);
    assert.notDeepEqual(a.wte, c.wte);
    for (const t of namedTensors(tiny)) {
      const data = t.get(a);
      assert.equal(
        data.length,
        t.shape.reduce((x, y) => x * y, 1),
        t.name,
      );
      assert.ok(data.every(Number.isFinite), t.name);
    }
    // GPT-2's init scaled to the width: std 0.55/√d for wte.
    const std = Math.sqrt(a.wte.reduce((s, v) => s + v * v, 0) / a.wte.length);
    assert.ok(Math.abs(std - 0.55 / 8) < 0.005, `wte std ${std}`);
  });
});

/** A safetensors file from entries (name → dtype, shape, raw bytes), for dtype and error cases. */
function buildSafetensors(entries: { name: string; dtype: string; shape: number[]; data: Uint8Array }[]): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + e.data.byteLength] };
    offset += e.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let at = 8 + json.byteLength;
  for (const e of entries) {
    out.set(e.data, at);
    at += e.data.byteLength;
  }
  return out;
}

function f32Bytes(data: Float32Array): Uint8Array {
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

describe('safetensors', () => {
  const config: ModelConfig = { name: 'micro', vocabSize: 11, dModel: 8, nLayers: 1, nHeads: 2, contextLength: 5, dFF: 12 };
  const weights = initWeights(config, 9);

  test('encodeSafetensors → loadSafetensors round-trips every tensor under its GPT-2 name', () => {
    const file = encodeSafetensors(weights);
    const loaded = loadSafetensors(file, config);
    for (const t of namedTensors(config)) assert.deepEqual(t.get(loaded), t.get(weights), t.name);
    assert.ok(new TextDecoder().decode(file.subarray(8, 400)).includes('"h.0.attn.c_attn.weight"'));
  });

  test('HF checkpoints: a "transformer." prefix, extra tensors, F16 and BF16 data', () => {
    const entries = namedTensors(config).map((t) => ({ name: `transformer.${t.name}`, dtype: 'F32', shape: t.shape, data: f32Bytes(t.get(weights)) }));
    const lnF = entries.findIndex((e) => e.name === 'transformer.ln_f.weight');
    // F16 1.5 = 0x3e00, -2 = 0xc000; BF16 keeps the top 16 bits of an f32 (1.5 = 0x3fc0).
    const halves = new Uint16Array(8).fill(0x3e00);
    halves[1] = 0xc000;
    entries[lnF] = { name: 'transformer.ln_f.weight', dtype: 'F16', shape: [8], data: new Uint8Array(halves.buffer) };
    const lnB = entries.findIndex((e) => e.name === 'transformer.ln_f.bias');
    entries[lnB] = { name: 'transformer.ln_f.bias', dtype: 'BF16', shape: [8], data: new Uint8Array(new Uint16Array(8).fill(0x3fc0).buffer) };
    entries.push({ name: 'transformer.h.0.attn.bias', dtype: 'F32', shape: [1], data: f32Bytes(Float32Array.of(1)) });
    const loaded = loadSafetensors(buildSafetensors(entries), config);
    assert.deepEqual([...loaded.lnFWeight.slice(0, 3)], [1.5, -2, 1.5]);
    assert.deepEqual([...loaded.lnFBias], new Array(8).fill(1.5));
    assert.deepEqual(loaded.layers[0]?.attnWeight, weights.layers[0]?.attnWeight);
  });

  test('a missing tensor, a wrong shape, an unsupported dtype or a non-safetensors file fail with INVALID_WEIGHTS', () => {
    const all = namedTensors(config).map((t) => ({ name: t.name, dtype: 'F32', shape: t.shape, data: f32Bytes(t.get(weights)) }));
    assert.throws(() => loadSafetensors(buildSafetensors(all.filter((e) => e.name !== 'wpe.weight')), config), /INVALID_WEIGHTS: .*no tensor "wpe.weight"/);
    const wrong = all.map((e) => (e.name === 'wte.weight' ? { ...e, shape: [8, 11] } : e));
    assert.throws(() => loadSafetensors(buildSafetensors(wrong), config), /tensor wte.weight has shape \[8, 11\]; model "micro" needs \[11, 8\]/);
    const i64 = all.map((e) => (e.name === 'ln_f.bias' ? { ...e, dtype: 'I64', data: new Uint8Array(64) } : e));
    assert.throws(() => loadSafetensors(buildSafetensors(i64), config), /tensor ln_f.bias has dtype I64; supported: F32, F16, BF16/);
    assert.throws(() => loadSafetensors(new TextEncoder().encode('{"not": "safetensors"}'), config), /INVALID_WEIGHTS: safetensors header length/);
    assert.throws(() => loadSafetensors(buildSafetensors(all), presets.tiny), /model "tiny" needs/);
  });
});
