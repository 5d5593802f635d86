// The engine loop against a deterministic CPU fake of the ModelRunner contract (no GPU): the fake
// keeps each slot's tokens as its "KV cache" and samples from a hash of them, so any mistake in
// positions, slots or chunking changes the outputs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createEngine, type Engine, type StepReport } from '../../src/engine/engine.js';
import { resolveModelConfig } from '../../src/engine/engine.js';
import type { BatchSequence, ModelConfig, ModelRunner } from '../../src/engine/types.js';
import type { EngineProfilerHooks } from '../../src/profiler/hooks.js';
import { WgprofError } from '../../src/util/errors.js';
import { setLogSink } from '../../src/util/log.js';

const fakeConfig: ModelConfig = { name: 'fake', vocabSize: 256, dModel: 8, nLayers: 1, nHeads: 1, contextLength: 48, dFF: 32 };

class FakeRunner implements ModelRunner {
  readonly config = fakeConfig;
  readonly batches: BatchSequence[][] = [];
  destroyed = false;
  failOnCall: number | undefined;
  private calls = 0;
  private readonly cache: number[][];

  constructor(
    readonly maxSlots = 4,
    readonly maxBatchTokens = 16,
  ) {
    this.cache = Array.from({ length: maxSlots }, () => []);
  }

  async forward(batch: BatchSequence[]): Promise<number[]> {
    await new Promise((resolve) => setTimeout(resolve, 0));
    const call = this.calls++;
    if (call === this.failOnCall) throw new Error('simulated GPU failure');
    this.batches.push(batch.map((b) => ({ ...b, tokens: [...b.tokens] })));
    const total = batch.reduce((n, b) => n + b.tokens.length, 0);
    assert.ok(total <= this.maxBatchTokens, `batch of ${total} tokens exceeds ${this.maxBatchTokens}`);
    assert.equal(new Set(batch.map((b) => b.slot)).size, batch.length, 'slot used twice in a batch');
    const out: number[] = [];
    for (const b of batch) {
      assert.ok(b.slot >= 0 && b.slot < this.maxSlots);
      const kv = this.cache[b.slot]!;
      assert.ok(b.startPosition <= kv.length, `slot ${b.slot}: start ${b.startPosition} skips past ${kv.length} cached tokens`);
      kv.length = b.startPosition; // a reused slot is overwritten from position 0
      kv.push(...b.tokens);
      assert.ok(kv.length <= this.config.contextLength, 'context overflow');
      if (b.sample) {
        let h = 2166136261;
        for (const t of kv) h = Math.imul(h ^ t, 16777619) >>> 0;
        const noise = b.temperature === 0 ? 0 : Math.floor(b.random * 26);
        out.push(97 + ((h + noise) % 26)); // lowercase letters: readable, and stop strings are easy to pick
      }
    }
    return out;
  }

  async forwardLogits(): Promise<Float32Array[]> {
    throw new Error('not used');
  }

  destroy(): void {
    this.destroyed = true;
  }
}

async function fakeEngine(
  options: { maxSlots?: number; maxBatchTokens?: number; seed?: number; profiler?: EngineProfilerHooks } = {},
): Promise<{ engine: Engine; runner: FakeRunner }> {
  const runner = new FakeRunner(options.maxSlots ?? 4, options.maxBatchTokens ?? 16);
  const engineOptions: Parameters<typeof createEngine>[0] = { runner };
  if (options.seed !== undefined) engineOptions.seed = options.seed;
  if (options.profiler) engineOptions.profiler = options.profiler;
  return { engine: await createEngine(engineOptions), runner };
}

function isCode(code: string): (e: unknown) => boolean {
  return (e: unknown) => e instanceof WgprofError && e.code === code;
}

describe('engine loop (fake runner)', () => {
  it('generates maxTokens tokens with text, finish reason and timings', async () => {
    const { engine, runner } = await fakeEngine();
    const result = await engine.generate('hello there', { maxTokens: 5, seed: 3 });
    assert.equal(result.tokenIds.length, 5);
    assert.equal(result.finishReason, 'length');
    assert.equal(result.text, String.fromCharCode(...result.tokenIds));
    assert.deepEqual(result.promptTokenIds, [...Buffer.from('hello there')]);
    assert.equal(result.seed, 3);
    assert.equal(result.timings.interTokenLatenciesMs.length, 4);
    assert.ok(result.timings.ttftMs !== null && result.timings.ttftMs >= 0);
    assert.ok(result.timings.totalMs >= (result.timings.ttftMs ?? 0));
    assert.equal(engine.stats.generatedTokens, 5);
    assert.equal(engine.stats.promptTokens, 11);
    await engine.destroy();
    assert.ok(runner.destroyed);
  });

  it('is deterministic for a seed, across engines and batch compositions', async () => {
    const a = await fakeEngine();
    const solo = await a.engine.generate('abc', { maxTokens: 8, temperature: 1, seed: 11 });
    const other = await a.engine.generate('abc', { maxTokens: 8, temperature: 1, seed: 12 });
    assert.notDeepEqual(solo.tokenIds, other.tokenIds, 'a different seed samples differently');
    const b = await fakeEngine({ maxBatchTokens: 4 });
    const [x, again] = await b.engine.generate(['the quick brown fox', 'abc'], { maxTokens: 8, temperature: 1, seed: 11 });
    assert.deepEqual(again?.tokenIds, solo.tokenIds);
    assert.equal(x?.tokenIds.length, 8);
    await a.engine.destroy();
    await b.engine.destroy();
  });

  it('lets a request join mid-run; it finishes first and both equal their solo runs', async () => {
    const long = { prompt: 'a long running request', params: { maxTokens: 20, seed: 1 } };
    const short = { prompt: 'short', params: { maxTokens: 3, seed: 2 } };
    const solo = await fakeEngine();
    const longSolo = await solo.engine.generate(long.prompt, long.params);
    const shortSolo = await solo.engine.generate(short.prompt, short.params);

    const { engine } = await fakeEngine();
    const h1 = engine.addRequest(long.prompt, long.params);
    let report: StepReport | null = null;
    // Step until the long request is decoding.
    for (let i = 0; i < 5; i++) report = await engine.step();
    assert.equal(report?.generationRequests, 1);
    const h2 = engine.addRequest(short.prompt, short.params);
    let shortDoneAt = -1;
    let longDoneAt = -1;
    h2.result.then(() => (shortDoneAt = engine.stats.steps));
    h1.result.then(() => (longDoneAt = engine.stats.steps));
    const reports: StepReport[] = [];
    for (let r = await engine.step(); r; r = await engine.step()) reports.push(r);
    await Promise.all([h1.result, h2.result]);
    assert.ok(shortDoneAt > 0 && shortDoneAt < longDoneAt, `short finished at step ${shortDoneAt}, long at ${longDoneAt}`);
    assert.equal(reports[0]?.annotation, 'execute_context_1(5)_generation_1(1)');
    assert.deepEqual((await h1.result).tokenIds, longSolo.tokenIds);
    assert.deepEqual((await h2.result).tokenIds, shortSolo.tokenIds);
    await solo.engine.destroy();
    await engine.destroy();
  });

  it('serves concurrent generate() calls from one loop, each as if alone', async () => {
    const solo = await fakeEngine();
    const a1 = await solo.engine.generate('first caller', { maxTokens: 6, seed: 1 });
    const b1 = await solo.engine.generate(['second', 'third'], { maxTokens: 4, seed: 2 });
    const { engine, runner } = await fakeEngine({ maxBatchTokens: 32 });
    const [a2, b2] = await Promise.all([
      engine.generate('first caller', { maxTokens: 6, seed: 1 }),
      engine.generate(['second', 'third'], { maxTokens: 4, seed: 2 }),
    ]);
    assert.deepEqual(a2.tokenIds, a1.tokenIds);
    assert.deepEqual(
      b2.map((r) => r.tokenIds),
      b1.map((r) => r.tokenIds),
    );
    assert.equal(runner.batches[0]?.length, 3, 'all three requests shared the first iteration');
    assert.equal(engine.hasUnfinishedRequests(), false);
    await solo.engine.destroy();
    await engine.destroy();
  });

  it('startProfile() with no profiler configured is vLLM\'s "Profiling is not enabled"', async () => {
    const { engine } = await fakeEngine();
    assert.throws(
      () => engine.startProfile(),
      (e: unknown) =>
        isCode('PROFILER_NOT_ENABLED')(e) &&
        /Profiling is not enabled\. Create the engine with profiler hooks, or with a profilerConfig/.test((e as Error).message),
    );
    await engine.destroy();
  });

  it('calls the profiler hooks in vLLM order with the iteration annotation', async () => {
    const calls: string[] = [];
    const profiler: EngineProfilerHooks = {
      step: () => calls.push('step'),
      beginIteration: (a) => calls.push(`begin ${a}`),
      endIteration: () => calls.push('end'),
      frontendSpan: (name, fn) => {
        calls.push(`span ${name}`);
        return fn();
      },
      attach: () => calls.push('attach'),
      detach: () => calls.push('detach'),
      start: () => calls.push('start'),
      stop: async () => {
        calls.push('stop');
        return ['trace.json.gz'];
      },
    };
    const { engine } = await fakeEngine({ profiler, maxBatchTokens: 4 });
    engine.startProfile();
    engine.addRequest('abcdef', { maxTokens: 2 });
    const reports: StepReport[] = [];
    for (let r = await engine.step(); r; r = await engine.step()) reports.push(r);
    assert.deepEqual(await engine.stopProfile(), ['trace.json.gz']);
    assert.deepEqual(
      reports.map((r) => [r.step, r.annotation, r.sampledTokens]),
      [
        [0, 'execute_context_1(4)_generation_0(0)', 0],
        [1, 'execute_context_1(2)_generation_0(0)', 1],
        [2, 'execute_context_0(0)_generation_1(1)', 1],
      ],
    );
    assert.deepEqual(calls, [
      'start',
      'span add_request',
      'span tokenize',
      'step',
      'span schedule',
      'begin execute_context_1(4)_generation_0(0)',
      'end',
      'span detokenize',
      'step',
      'span schedule',
      'begin execute_context_1(2)_generation_0(0)',
      'end',
      'span detokenize',
      'step',
      'span schedule',
      'begin execute_context_0(0)_generation_1(1)',
      'end',
      'span detokenize',
      'stop',
    ]);
    assert.equal(await engine.step(), null, 'no work: no iteration, no profiler.step()');
    assert.equal(calls.filter((c) => c === 'step').length, 3);
    await engine.destroy();
  });

  it('stops at a stop string (excluded from the text) and at a full context', async () => {
    const { engine } = await fakeEngine();
    const free = await engine.generate('stop test', { maxTokens: 12, seed: 5 });
    const stop = free.text.slice(4, 6);
    const cut = free.text.indexOf(stop);
    const stopped = await engine.generate('stop test', { maxTokens: 12, seed: 5, stop: ['zzzzzz', stop] });
    assert.equal(stopped.finishReason, 'stop');
    assert.equal(stopped.stopReason, stop);
    assert.equal(stopped.text, free.text.slice(0, cut));
    assert.deepEqual(stopped.tokenIds, free.tokenIds.slice(0, cut + 2), 'token ids keep the stop string');
    // Context 48: a 45-byte prompt leaves room for 3 tokens.
    const full = await engine.generate('x'.repeat(45), { maxTokens: 10 });
    assert.equal(full.finishReason, 'length');
    assert.equal(full.tokenIds.length, 3);
    await engine.destroy();
  });

  it('rejects bad requests clearly without disturbing the others', async () => {
    const { engine } = await fakeEngine();
    const good = engine.addRequest('fine', { maxTokens: 4, seed: 9 });
    assert.throws(
      () => engine.addRequest('y'.repeat(48)),
      (e: unknown) => isCode('PROMPT_TOO_LONG')(e) && /48 tokens.*at most 47/.test((e as Error).message),
    );
    assert.throws(
      () => engine.addRequest('ok', { maxTokens: 0 }),
      (e: unknown) => isCode('INVALID_SAMPLING_PARAMS')(e) && /maxTokens must be an integer ≥ 1.*\(got 0\)/.test((e as Error).message),
    );
    assert.throws(() => engine.addRequest('ok', { temperature: -1 }), /temperature must be a finite number ≥ 0/);
    assert.throws(() => engine.addRequest('ok', { stop: [''] }), /stop\[0\] must be a non-empty string/);
    assert.throws(() => engine.addRequest(''), isCode('EMPTY_PROMPT'));
    assert.throws(
      () => engine.addRequest({ promptTokenIds: [1, 256] }),
      (e: unknown) => isCode('INVALID_TOKEN_ID')(e) && /promptTokenIds\[1\] is 256/.test((e as Error).message),
    );
    await assert.rejects(engine.generate(['fine', 'z'.repeat(60)]), (e: unknown) => isCode('PROMPT_TOO_LONG')(e) && /prompts\[1\]/.test((e as Error).message));
    assert.equal(engine.stats.requestsAdded, 1, 'nothing of the rejected generate() was queued');
    const next = engine.addRequest('next');
    assert.equal(next.id, good.id + 1, 'the rejected call gave its request ids back (default seeds stay put)');
    await engine.run();
    assert.equal((await good.result).tokenIds.length, 4);
    await engine.destroy();
  });

  it('rejects the requests of a failed forward and keeps serving the others', async () => {
    const restore = setLogSink(() => undefined);
    try {
      const { engine, runner } = await fakeEngine();
      const reference = await (await fakeEngine()).engine.generate('later', { maxTokens: 3, seed: 4 });
      runner.failOnCall = 0;
      const victim = engine.addRequest('victim', { maxTokens: 3 });
      const report = await engine.step();
      assert.deepEqual(report?.failedRequestIds, [victim.id]);
      await assert.rejects(victim.result, (e: unknown) => isCode('MODEL_FORWARD_FAILED')(e) && /simulated GPU failure/.test((e as Error).message));
      const later = await engine.generate('later', { maxTokens: 3, seed: 4 });
      assert.deepEqual(later.tokenIds, reference.tokenIds, 'the freed slot is clean for the next request');
      assert.equal(engine.stats.requestsFailed, 1);
      await engine.destroy();
    } finally {
      restore();
    }
  });

  it('aborts a request, and destroy() rejects what is left', async () => {
    const { engine } = await fakeEngine();
    const a = engine.addRequest('abort me', { maxTokens: 10 });
    const b = engine.addRequest('keep me', { maxTokens: 10 });
    await engine.step();
    a.abort();
    const aborted = await a.result;
    assert.equal(aborted.finishReason, 'abort');
    await engine.step();
    await engine.destroy();
    await assert.rejects(b.result, isCode('ENGINE_DESTROYED'));
    assert.throws(() => engine.addRequest('x'), isCode('ENGINE_DESTROYED'));
    await assert.rejects(engine.step(), isCode('ENGINE_DESTROYED'));
  });

  it('validates engine options and model shapes', async () => {
    await assert.rejects(createEngine({ runner: new FakeRunner(4, 16), maxSlots: 8, maxBatchTokens: 4 }), /maxBatchTokens \(4\) must be ≥ maxSlots \(8\)/);
    await assert.rejects(createEngine({ runner: new FakeRunner(2, 16), maxSlots: 4 }), /holds 2 slots/);
    await assert.rejects(createEngine({ runner: new FakeRunner(), seed: 0.5 }), /seed must be a safe integer/);
    await assert.rejects(createEngine({}), /needs `model`/);
    assert.throws(() => resolveModelConfig({ ...fakeConfig, nHeads: 3 }), /multiple of nHeads/);
    assert.throws(() => resolveModelConfig({ ...fakeConfig, dModel: 0 }), isCode('INVALID_MODEL_CONFIG'));
    assert.throws(
      () => resolveModelConfig('huge' as 'tiny'),
      (e: unknown) => isCode('UNKNOWN_MODEL')(e) && /valid presets: tiny, small, gpt2/.test((e as Error).message),
    );
    await assert.rejects(createEngine({ model: 'gpt3' as 'tiny' }), isCode('UNKNOWN_MODEL'));
    assert.equal(resolveModelConfig('tiny').dModel, 64);
  });
});
