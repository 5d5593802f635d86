// The whole model on dawn.node (SwiftShader) against the CPU reference: the `tiny` preset, three
// requests of different prompt lengths in different slots, prefill then decode steps, chunked prefill
// mixed with decode, GPU sampling, and the errors a caller sees for bad batches and lost devices.
//
// "Relative error" here is max |gpu - cpu| / max |cpu| over one logits row (the whole row's scale,
// so near-zero logits do not blow up the ratio); the bound is 1e-3.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { requestGpuDevice, type GpuRuntime } from '../../src/gpu/device.js';
import { setHintReceiver } from '../../src/instrument/hints.js';
import {
  createModelRunner,
  createReferenceKvCache,
  getPreset,
  initWeights,
  presets,
  referenceForward,
  referenceSample,
  type ModelWeights,
  type ReferenceKvCache,
} from '../../src/engine/model.js';
import type { BatchSequence, ModelRunner } from '../../src/engine/types.js';
import { WgprofError } from '../../src/util/errors.js';
import { argmax, bytes, MODEL_REL_TOL, prefillThenDecode, relativeError, seq, tinyPrompts } from '../shared/gpu-kernel-harness.js';

const tiny = presets.tiny;

let rt: GpuRuntime;
before(async () => {
  rt = await requestGpuDevice();
});
after(() => rt.destroy());

/** Runs `batch` on both; asserts the logits agree; returns the CPU logits. */
async function compareStep(runner: ModelRunner, weights: ModelWeights, cache: ReferenceKvCache, batch: BatchSequence[], what: string): Promise<Float32Array[]> {
  rt.device.pushErrorScope('validation');
  const gpu = await runner.forwardLogits(batch);
  const error = await rt.device.popErrorScope();
  assert.equal(error, null, `validation error: ${error?.message}`);
  const cpu = referenceForward(weights, cache, batch);
  assert.equal(gpu.length, cpu.length, `${what}: one logits row per sampling sequence`);
  cpu.forEach((row, i) => {
    assert.equal(gpu[i]?.length, tiny.vocabSize);
    const rel = relativeError(gpu[i] as Float32Array, row);
    assert.ok(rel <= MODEL_REL_TOL, `${what}, row ${i}: relative error ${rel} > ${MODEL_REL_TOL}`);
  });
  return cpu;
}

describe('tiny model on WebGPU vs the CPU reference', () => {
  test('prefill of 5/11/17-token prompts in slots 2/0/3, then 3 decode steps', async () => {
    const weights = initWeights(tiny, 7);
    const runner = await createModelRunner(rt.device, tiny, { maxSlots: 4, maxBatchTokens: 48, weights });
    try {
      const cache = createReferenceKvCache(tiny, 4);
      const prompts = tinyPrompts();
      assert.deepEqual(
        prompts.map((p) => p.tokens.length),
        [5, 11, 17],
      );
      const generated = await prefillThenDecode(prompts, 3, (batch, what) => compareStep(runner, weights, cache, batch, what));
      // The three requests really are different (attention reads their own slots).
      assert.notDeepEqual(generated[0], generated[1]);
    } finally {
      runner.destroy();
    }
  });

  test('chunked prefill (a chunk that does not sample) mixed with decode, and slot reuse from position 0', async () => {
    const weights = initWeights(tiny, 3);
    const runner = await createModelRunner(rt.device, tiny, { maxSlots: 3, maxBatchTokens: 32, weights });
    try {
      const cache = createReferenceKvCache(tiny, 3);
      const prompt = bytes('abcdefghijklmnopqrstu');
      await compareStep(runner, weights, cache, [seq(0, bytes('xyz'), 0)], 'first request');
      // Slot 1: first chunk without sampling, next to slot 0's decode step.
      await compareStep(runner, weights, cache, [seq(0, [65], 3), seq(1, prompt.slice(0, 9), 0, false)], 'chunk 1 + decode');
      await compareStep(runner, weights, cache, [seq(1, prompt.slice(9), 9), seq(0, [66], 4)], 'chunk 2 + decode');
      // Slot 0 reused by a new request from position 0.
      await compareStep(runner, weights, cache, [seq(0, bytes('new'), 0), seq(1, [67], prompt.length)], 'slot reuse');
    } finally {
      runner.destroy();
    }
  });

  test('forward() samples on the GPU: greedy = CPU argmax, top-k with given randoms = the CPU sampler', async () => {
    const weights = initWeights(tiny, 11);
    const runner = await createModelRunner(rt.device, tiny, { maxSlots: 4, maxBatchTokens: 32, weights });
    try {
      const cache = createReferenceKvCache(tiny, 4);
      const batch = [
        seq(0, bytes('greedy'), 0, true, 0, 0, 0.5),
        seq(1, bytes('top-k five'), 0, true, 0.8, 5, 0.62),
        seq(2, bytes('full'), 0, true, 1.5, 0, 0.37),
        seq(3, bytes('quiet'), 0, false),
      ];
      rt.device.pushErrorScope('validation');
      const sampled = await runner.forward(batch);
      assert.equal(await rt.device.popErrorScope(), null);
      const cpu = referenceForward(weights, cache, batch);
      const want = cpu.map((row, i) => {
        const s = batch[i] as BatchSequence;
        return referenceSample(row, s.temperature, s.topK, s.random);
      });
      assert.equal(sampled.length, 3, 'one token per sampling sequence');
      assert.deepEqual(sampled, want);
      assert.equal(sampled[0], argmax(cpu[0] as Float32Array));
      // A decode step with the sampled tokens keeps both sides in step.
      const next = [seq(0, [sampled[0] as number], 6), seq(1, [sampled[1] as number], 10, true, 0.8, 5, 0.1)];
      const sampled2 = await runner.forward(next);
      const cpu2 = referenceForward(weights, cache, next);
      assert.deepEqual(sampled2, [referenceSample(cpu2[0] as Float32Array, 0, 0, 0), referenceSample(cpu2[1] as Float32Array, 0.8, 5, 0.1)]);
    } finally {
      runner.destroy();
    }
  });

  test('each dispatch is announced to the profiler with its kernel and shape, one pass per kernel', async () => {
    const runner = await createModelRunner(rt.device, tiny, { maxSlots: 2, maxBatchTokens: 16, seed: 1 });
    const names: string[] = [];
    const shapes: unknown[] = [];
    setHintReceiver(rt.device, (kernel, shape) => {
      names.push(kernel.label);
      shapes.push(shape);
    });
    try {
      await runner.forward([seq(0, bytes('hi'), 0), seq(1, bytes('there'), 0, false)]);
    } finally {
      setHintReceiver(rt.device, undefined);
      runner.destroy();
    }
    const layer = ['layerNorm', 'matmulBias', 'kvAppend', 'attention', 'matmulBias', 'residualAdd', 'layerNorm', 'matmulBiasGelu', 'matmulBias', 'residualAdd'];
    assert.deepEqual(names, ['embedding', ...layer, ...layer, 'layerNorm', 'logits', 'sample']);
    assert.deepEqual(shapes[2], { m: 7, n: 3 * 64, k: 64 });
    // attendedKeys: positions 0..1 and 0..4 → (1 + 2) + (1 + 2 + 3 + 4 + 5).
    assert.equal((shapes[4] as { attendedKeys: number }).attendedKeys, 18);
    assert.deepEqual(shapes.at(-1), { rows: 1, vocabSize: 256 });
  });
});

describe('model runner errors', () => {
  let runner: ModelRunner;
  before(async () => {
    runner = await createModelRunner(rt.device, tiny, { maxSlots: 2, maxBatchTokens: 8, seed: 0 });
  });
  after(() => runner.destroy());

  const cases: [string, BatchSequence[], RegExp][] = [
    ['slot out of range', [seq(2, [1], 0)], /slot 2 is out of range; expected an integer in \[0, 2\)/],
    ['negative slot', [seq(-1, [1], 0)], /slot -1 is out of range/],
    ['the same slot twice', [seq(0, [1], 0), seq(0, [2], 0)], /slot 0 appears twice/],
    ['more tokens than maxBatchTokens', [seq(0, [1, 2, 3, 4, 5], 0), seq(1, [1, 2, 3, 4], 0)], /9 tokens, more than the runner's maxBatchTokens 8/],
    ['token id ≥ vocab', [seq(0, [1, 256], 0)], /tokens\[1\] is 256; token ids must be integers in \[0, 256\)/],
    ['position + tokens past the context length', [seq(0, [1, 2], 127)], /startPosition 127 \+ 2 tokens = 129 exceeds the model's contextLength 128/],
    ['a gap in the KV cache', [seq(1, [1], 5)], /startPosition 5 is past the 0 positions/],
    ['empty tokens', [seq(0, [], 0)], /tokens must be a non-empty array/],
    ['negative temperature', [seq(0, [1], 0, true, -1)], /temperature -1 must be a finite number ≥ 0/],
    ['random of 1', [seq(0, [1], 0, true, 1, 0, 1)], /random 1 must be a number in \[0, 1\)/],
  ];
  for (const [what, batch, message] of cases) {
    test(`rejects ${what} with INVALID_BATCH`, async () => {
      await assert.rejects(runner.forward(batch), (error: unknown) => {
        assert.ok(error instanceof WgprofError, String(error));
        assert.equal(error.code, 'INVALID_BATCH');
        assert.match(error.message, message);
        return true;
      });
    });
  }

  test('a rejected batch leaves the runner usable; an empty batch does nothing', async () => {
    assert.deepEqual(await runner.forward([]), []);
    const ids = await runner.forward([seq(0, [1, 2, 3], 0)]);
    assert.equal(ids.length, 1);
    assert.ok((ids[0] as number) >= 0 && (ids[0] as number) < 256);
  });

  test('a model whose buffers exceed the device limits fails up front with DEVICE_LIMIT_TOO_LOW', async () => {
    await assert.rejects(
      createModelRunner(rt.device, getPreset('gpt2'), { maxSlots: 1, maxBatchTokens: 8 }),
      (error: unknown) => error instanceof WgprofError && error.code === 'DEVICE_LIMIT_TOO_LOW' && /maxStorageBufferBindingSize/.test(error.message),
    );
  });

  test('bad options and weights for another model are rejected', async () => {
    await assert.rejects(
      createModelRunner(rt.device, tiny, { maxSlots: 0, maxBatchTokens: 8 }),
      /INVALID_RUNNER_OPTION: maxSlots must be a positive integer, got 0/,
    );
    await assert.rejects(createModelRunner(rt.device, tiny, { maxSlots: 1, maxBatchTokens: 70_000 }), /INVALID_RUNNER_OPTION: maxBatchTokens 70000 exceeds/);
    await assert.rejects(
      createModelRunner(rt.device, tiny, { maxSlots: 1, maxBatchTokens: 8, weights: initWeights(presets.small, 0) }),
      /INVALID_WEIGHTS: weights have 4 layers; model "tiny" has 2/,
    );
  });

  test('forward after destroy() fails with RUNNER_DESTROYED', async () => {
    const other = await createModelRunner(rt.device, tiny, { maxSlots: 1, maxBatchTokens: 4, seed: 0 });
    other.destroy();
    await assert.rejects(other.forward([seq(0, [1], 0)]), /RUNNER_DESTROYED/);
  });

  test('forward on a lost device fails with DEVICE_LOST', async () => {
    // Dawn's null backend: the same API without GPU work, so its pipelines compile instantly.
    const own = await requestGpuDevice({ backend: 'null' });
    try {
      const lostRunner = await createModelRunner(own.device, tiny, { maxSlots: 1, maxBatchTokens: 4, seed: 0 });
      own.device.destroy();
      await own.device.lost;
      await assert.rejects(lostRunner.forward([seq(0, [1], 0)]), (error: unknown) => {
        assert.ok(error instanceof WgprofError);
        assert.equal(error.code, 'DEVICE_LOST');
        assert.match(error.message, /reason "destroyed"/);
        return true;
      });
    } finally {
      own.destroy();
    }
  });
});
