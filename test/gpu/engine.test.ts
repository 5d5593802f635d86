// The engine with the real GPU model runner (dawn.node; SwiftShader without a GPU), tiny model.
// Everything runs inside a validation error scope that must stay empty.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createEngine, type Engine, type StepReport } from '../../src/engine/engine.js';
import { getPreset } from '../../src/engine/presets.js';
import { createReferenceKvCache, referenceForward, referenceSample, type ReferenceKvCache } from '../../src/engine/reference.js';
import type { BatchSequence, ModelConfig, ModelRunner } from '../../src/engine/types.js';
import { initWeights, type ModelWeights } from '../../src/engine/weights.js';
import { requestGpuDevice, type GpuRuntime } from '../../src/gpu/device.js';
import { WgprofError } from '../../src/util/errors.js';
import { setLogSink } from '../../src/util/log.js';

const SEED = 3;

/** The model on the CPU (kernels' reference implementation), behind the same ModelRunner contract. */
class ReferenceRunner implements ModelRunner {
  readonly maxSlots = 4;
  readonly maxBatchTokens = 128;
  private readonly weights: ModelWeights;
  private readonly cache: ReferenceKvCache;
  constructor(
    readonly config: ModelConfig,
    seed: number,
  ) {
    this.weights = initWeights(config, seed);
    this.cache = createReferenceKvCache(config, this.maxSlots);
  }
  async forward(batch: BatchSequence[]): Promise<number[]> {
    const logits = referenceForward(this.weights, this.cache, batch);
    const sampling = batch.filter((b) => b.sample);
    return logits.map((row, i) => {
      const s = sampling[i] as BatchSequence;
      return referenceSample(row, s.temperature, s.topK, s.random);
    });
  }
  async forwardLogits(batch: BatchSequence[]): Promise<Float32Array[]> {
    return referenceForward(this.weights, this.cache, batch);
  }
  destroy(): void {}
}

function isCode(code: string): (e: unknown) => boolean {
  return (e: unknown) => e instanceof WgprofError && e.code === code;
}

describe('engine on the GPU (tiny)', () => {
  let gpu: GpuRuntime;
  let engine: Engine;

  before(async () => {
    gpu = await requestGpuDevice();
    gpu.device.pushErrorScope('validation');
    engine = await createEngine({ model: 'tiny', device: gpu.device, seed: SEED });
  });

  after(async () => {
    await engine?.destroy();
    const error = await gpu?.device.popErrorScope();
    gpu?.destroy();
    assert.equal(error ?? null, null, `validation error: ${error?.message}`);
  });

  it('is deterministic for a seed and matches the CPU reference model token for token', async () => {
    const prompt = 'Hello, WebGPU';
    const first = await engine.generate(prompt, { maxTokens: 6, temperature: 1, seed: 5 });
    const again = await engine.generate(prompt, { maxTokens: 6, temperature: 1, seed: 5 });
    const other = await engine.generate(prompt, { maxTokens: 6, temperature: 1, seed: 6 });
    assert.equal(first.tokenIds.length, 6);
    assert.deepEqual(again.tokenIds, first.tokenIds);
    assert.notDeepEqual(other.tokenIds, first.tokenIds, 'another seed samples another sequence');
    assert.equal(first.text, engine.tokenizer.decode(first.tokenIds));

    const greedy = await engine.generate(prompt, { maxTokens: 6, temperature: 0 });
    const cpu = await createEngine({ runner: new ReferenceRunner(getPreset('tiny'), SEED) });
    try {
      const cpuGreedy = await cpu.generate(prompt, { maxTokens: 6, temperature: 0 });
      assert.deepEqual(greedy.tokenIds, cpuGreedy.tokenIds, 'GPU engine (greedy) = CPU reference engine');
      const cpuSampled = await cpu.generate(prompt, { maxTokens: 6, temperature: 1, seed: 5 });
      assert.deepEqual(first.tokenIds, cpuSampled.tokenIds, 'GPU engine (seeded sampling) = CPU reference engine');
    } finally {
      await cpu.destroy();
    }
  });

  it('lets a request join while another decodes; it finishes first and both equal their solo runs', async () => {
    const long = { prompt: 'A long request that keeps decoding', params: { maxTokens: 14, temperature: 1, seed: 21 } };
    const short = { prompt: 'short one', params: { maxTokens: 3, temperature: 1, seed: 22 } };
    const longSolo = await engine.generate(long.prompt, long.params);
    const shortSolo = await engine.generate(short.prompt, short.params);

    const h1 = engine.addRequest(long.prompt, long.params);
    const first = await engine.step();
    assert.equal(first?.annotation, `execute_context_1(${long.prompt.length})_generation_0(0)`);
    assert.equal(first?.sampledTokens, 1);
    const second = await engine.step();
    assert.equal(second?.annotation, 'execute_context_0(0)_generation_1(1)');

    const h2 = engine.addRequest(short.prompt, short.params);
    let longDone = false;
    void h1.result.then(() => (longDone = true));
    let shortFinishedWhileLongRan = false;
    const reports: StepReport[] = [];
    for (let r = await engine.step(); r; r = await engine.step()) {
      reports.push(r);
      if (r.finishedRequestIds.includes(h2.id)) shortFinishedWhileLongRan = !longDone && !r.finishedRequestIds.includes(h1.id);
    }
    assert.equal(reports[0]?.annotation, `execute_context_1(${short.prompt.length})_generation_1(1)`, 'the new request joined the decoding one');
    assert.equal(reports[1]?.annotation, 'execute_context_0(0)_generation_2(2)');
    assert.ok(shortFinishedWhileLongRan, 'the short request finished while the long one was still decoding');
    assert.deepEqual((await h1.result).tokenIds, longSolo.tokenIds, 'long request: batched = solo');
    assert.deepEqual((await h2.result).tokenIds, shortSolo.tokenIds, 'short request: batched = solo');
    for (const r of reports) {
      assert.equal(r.contextTokens + r.generationTokens <= engine.maxBatchTokens, true);
      assert.ok(r.durationMs > 0);
    }
  });

  it('rejects bad requests clearly while other requests complete', async () => {
    const good = engine.addRequest('still fine', { maxTokens: 4, seed: 1 });
    await engine.step();
    assert.throws(
      () => engine.addRequest('x'.repeat(200)),
      (e: unknown) => isCode('PROMPT_TOO_LONG')(e) && /200 tokens.*context is 128/.test((e as Error).message),
    );
    assert.throws(() => engine.addRequest('ok', { maxTokens: 0 }), isCode('INVALID_SAMPLING_PARAMS'));
    await assert.rejects(engine.generate(['fine', 'y'.repeat(128)], { maxTokens: 2 }), isCode('PROMPT_TOO_LONG'));
    await assert.rejects(
      createEngine({ model: 'tiny-ish' as 'tiny', device: gpu.device }),
      (e: unknown) => isCode('UNKNOWN_MODEL')(e) && /tiny, small, gpt2/.test((e as Error).message),
    );
    await engine.run();
    const result = await good.result;
    assert.equal(result.tokenIds.length, 4);
    assert.equal(result.finishReason, 'length');
  });

  it('rejects everything with DEVICE_LOST when its device is lost', async () => {
    const restore = setLogSink(() => undefined);
    const other = await requestGpuDevice();
    try {
      // The CPU runner spares a second set of pipeline compiles; the loss is the real device's.
      const doomed = await createEngine({ runner: new ReferenceRunner(getPreset('tiny'), SEED), device: other.device });
      const pending = doomed.addRequest('never finishes', { maxTokens: 4 });
      other.device.destroy();
      await other.device.lost;
      await assert.rejects(pending.result, (e: unknown) => isCode('DEVICE_LOST')(e) && /Create a new engine/.test((e as Error).message));
      assert.throws(() => doomed.addRequest('more'), isCode('DEVICE_LOST'));
      await assert.rejects(doomed.step(), isCode('DEVICE_LOST'));
      await doomed.destroy();
    } finally {
      other.destroy();
      restore();
    }
    // The engine on the healthy device is unaffected.
    assert.equal((await engine.generate('still here', { maxTokens: 2 })).tokenIds.length, 2);
  });

  it('gives the same tokens when the prompt is prefilled in chunks', async () => {
    const prompt = 'chunked prefill must not change the output';
    const whole = await engine.generate(prompt, { maxTokens: 5, temperature: 0 });
    const chunked = await createEngine({ model: 'tiny', device: gpu.device, seed: SEED, maxBatchTokens: 8, maxSlots: 2 });
    try {
      const reports: StepReport[] = [];
      const handle = chunked.addRequest(prompt, { maxTokens: 5, temperature: 0 });
      for (let r = await chunked.step(); r; r = await chunked.step()) reports.push(r);
      assert.ok(reports.slice(0, 5).every((r) => r.annotation === 'execute_context_1(8)_generation_0(0)'));
      assert.deepEqual((await handle.result).tokenIds, whole.tokenIds);
    } finally {
      await chunked.destroy();
    }
  });
});

describe("engine on Dawn's null backend (no GPU work; CPU-overhead runs)", () => {
  it('completes every request with in-vocabulary tokens instead of failing on meaningless readbacks', async () => {
    const engine = await createEngine({ model: 'tiny', backend: 'null', seed: SEED });
    try {
      const results = await engine.generate(['abc', 'hello world'], { maxTokens: 5, seed: 1 });
      assert.equal(results.length, 2);
      for (const r of results) {
        assert.equal(r.tokenIds.length, 5);
        assert.ok(
          r.tokenIds.every((id) => Number.isInteger(id) && id >= 0 && id < 256),
          `ids in vocab: ${r.tokenIds.join(',')}`,
        );
      }
    } finally {
      await engine.destroy();
    }
  });
});
