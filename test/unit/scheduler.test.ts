import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Scheduler,
  iterationAnnotation,
  reachedLengthLimit,
  type SchedulerConfig,
  type SchedulerOutput,
  type SequenceState,
} from '../../src/engine/scheduler.js';
import { WgprofError } from '../../src/util/errors.js';

function seq(id: number, promptLength: number): SequenceState {
  return { id, promptTokenIds: Array.from({ length: promptLength }, (_, i) => (id * 31 + i) % 256), outputTokenIds: [], numComputedTokens: 0, slot: undefined };
}

/** Plays the engine's part: commit, append a token per sampled chunk, free requests at their length limit. */
function complete(s: Scheduler, out: SchedulerOutput, maxTokens: number): SequenceState[] {
  s.commit(out);
  const finished: SequenceState[] = [];
  for (const chunk of out.chunks) {
    if (!chunk.sample) continue;
    chunk.sequence.outputTokenIds.push(chunk.sequence.outputTokenIds.length + 1);
    if (reachedLengthLimit(chunk.sequence, maxTokens, s.config.contextLength)) {
      s.free(chunk.sequence);
      finished.push(chunk.sequence);
    }
  }
  return finished;
}

const config = (over: Partial<SchedulerConfig> = {}): SchedulerConfig => ({ maxSlots: 4, maxBatchTokens: 16, contextLength: 64, ...over });

describe('Scheduler', () => {
  it('never exceeds the token budget, and every prompt token is fed exactly once, in order', () => {
    const s = new Scheduler(config({ maxSlots: 3, maxBatchTokens: 7 }));
    const seqs = [seq(0, 13), seq(1, 2), seq(2, 9), seq(3, 20), seq(4, 1)];
    for (const x of seqs) s.add(x);
    const fed = new Map<number, number[]>(seqs.map((x) => [x.id, []]));
    let steps = 0;
    while (s.hasWork()) {
      const out = s.schedule();
      const total = out.chunks.reduce((n, c) => n + c.tokenIds.length, 0);
      assert.ok(total <= 7, `step ${steps}: ${total} tokens > budget 7`);
      assert.ok(total > 0, `step ${steps}: nothing scheduled while work remains`);
      assert.equal(total, out.contextTokens + out.generationTokens);
      const slots = out.chunks.map((c) => c.slot);
      assert.equal(new Set(slots).size, slots.length, 'a slot appears twice in one batch');
      for (const c of out.chunks) {
        assert.equal(c.startPosition, c.sequence.numComputedTokens);
        if (c.phase === 'context') fed.get(c.sequence.id)?.push(...c.tokenIds);
      }
      complete(s, out, 5);
      steps++;
      assert.ok(steps < 200, 'did not converge');
    }
    for (const x of seqs) {
      assert.deepEqual(fed.get(x.id), x.promptTokenIds, `request ${x.id} prompt fed`);
      assert.equal(x.outputTokenIds.length, 5);
      assert.equal(x.slot, undefined);
    }
    assert.equal(s.numFreeSlots, 3);
  });

  it('chunks a long prefill under the budget and samples only after the last chunk', () => {
    const s = new Scheduler(config({ maxBatchTokens: 4 }));
    const a = seq(0, 10);
    s.add(a);
    const chunks: Array<{ start: number; n: number; sample: boolean; phase: string }> = [];
    for (let i = 0; i < 3; i++) {
      const out = s.schedule();
      assert.equal(out.chunks.length, 1);
      const c = out.chunks[0]!;
      chunks.push({ start: c.startPosition, n: c.tokenIds.length, sample: c.sample, phase: c.phase });
      complete(s, out, 3);
    }
    assert.deepEqual(chunks, [
      { start: 0, n: 4, sample: false, phase: 'context' },
      { start: 4, n: 4, sample: false, phase: 'context' },
      { start: 8, n: 2, sample: true, phase: 'context' },
    ]);
    // Then it decodes: one token, the one just sampled, at position 10.
    const out = s.schedule();
    assert.equal(out.chunks[0]?.phase, 'generation');
    assert.equal(out.chunks[0]?.startPosition, 10);
    assert.deepEqual(out.chunks[0]?.tokenIds, [a.outputTokenIds[0]]);
  });

  it('schedules decode tokens first, then prefill chunks with what is left of the budget', () => {
    const s = new Scheduler(config({ maxBatchTokens: 5 }));
    const a = seq(0, 3);
    const b = seq(1, 2);
    s.add(a);
    s.add(b);
    complete(s, s.schedule(), 10); // both prefill at once (3 + 2 = 5 tokens)
    assert.equal(a.outputTokenIds.length, 1);
    assert.equal(b.outputTokenIds.length, 1);
    const c = seq(2, 12);
    s.add(c);
    const out = s.schedule();
    assert.deepEqual(
      out.chunks.map((x) => [x.sequence.id, x.phase, x.tokenIds.length]),
      [
        [0, 'generation', 1],
        [1, 'generation', 1],
        [2, 'context', 3],
      ],
    );
    assert.equal(iterationAnnotation(out), 'execute_context_1(3)_generation_2(2)');
  });

  it('admits new requests while others decode (continuous batching)', () => {
    const s = new Scheduler(config({ maxBatchTokens: 8 }));
    const long = seq(0, 4);
    s.add(long);
    complete(s, s.schedule(), 20);
    complete(s, s.schedule(), 20);
    const late = seq(1, 3);
    s.add(late);
    const out = s.schedule();
    assert.deepEqual(out.admitted, [late]);
    assert.deepEqual(
      out.chunks.map((x) => x.sequence.id),
      [0, 1],
    );
    assert.notEqual(late.slot, long.slot);
  });

  it('makes requests wait when every slot is taken, and reuses freed slots', () => {
    const s = new Scheduler(config({ maxSlots: 2, maxBatchTokens: 16 }));
    const [a, b, c] = [seq(0, 2), seq(1, 2), seq(2, 2)];
    s.add(a!);
    s.add(b!);
    s.add(c!);
    let out = s.schedule();
    assert.deepEqual(
      out.admitted.map((x) => x.id),
      [0, 1],
    );
    assert.equal(c!.slot, undefined);
    assert.equal(s.numWaiting, 1);
    assert.equal(s.numFreeSlots, 0);
    // a finishes after one token (maxTokens 1 for it only), freeing slot 0.
    s.commit(out);
    a!.outputTokenIds.push(7);
    b!.outputTokenIds.push(7);
    const freedSlot = a!.slot;
    s.free(a!);
    assert.equal(s.numFreeSlots, 1);
    out = s.schedule();
    assert.deepEqual(out.admitted, [c]);
    assert.equal(c!.slot, freedSlot, 'the freed slot is reused');
    assert.equal(iterationAnnotation(out), 'execute_context_1(2)_generation_1(1)');
  });

  it('counts a chunked-prefill continuation as a context request (vLLM compute_iteration_details)', () => {
    const s = new Scheduler(config({ maxBatchTokens: 6 }));
    const a = seq(0, 2);
    const b = seq(1, 9);
    s.add(a);
    s.add(b);
    let out = s.schedule(); // a: 2 prompt tokens, b: first 4
    assert.equal(iterationAnnotation(out), 'execute_context_2(6)_generation_0(0)');
    complete(s, out, 10);
    out = s.schedule(); // a decodes 1, b continues with 5 (its last chunk)
    assert.equal(iterationAnnotation(out), 'execute_context_1(5)_generation_1(1)');
    assert.equal(out.contextRequests, 1);
    assert.equal(out.contextTokens, 5);
    assert.equal(out.generationRequests, 1);
    assert.equal(out.generationTokens, 1);
    complete(s, out, 10);
    out = s.schedule();
    assert.equal(iterationAnnotation(out), 'execute_context_0(0)_generation_2(2)');
  });

  it('ends a request at maxTokens or when its context is full', () => {
    const x = seq(0, 5);
    x.outputTokenIds.push(1, 2);
    assert.equal(reachedLengthLimit(x, 2, 64), true);
    assert.equal(reachedLengthLimit(x, 3, 64), false);
    assert.equal(reachedLengthLimit(x, 100, 7), true, '5 + 2 = 7 tokens fill a context of 7');
    // Simulated: a context of 8 with a 6-token prompt leaves room for exactly 2 generated tokens.
    const s = new Scheduler(config({ contextLength: 8 }));
    const y = seq(1, 6);
    s.add(y);
    while (s.hasWork()) complete(s, s.schedule(), 100);
    assert.equal(y.outputTokenIds.length, 2);
  });

  it('rejects bad configuration and bad requests with named errors', () => {
    assert.throws(
      () => new Scheduler(config({ maxSlots: 0 })),
      (e: unknown) => e instanceof WgprofError && e.code === 'INVALID_ENGINE_OPTION' && /maxSlots/.test(e.message),
    );
    assert.throws(() => new Scheduler(config({ maxBatchTokens: 2.5 })), /maxBatchTokens must be an integer/);
    assert.throws(() => new Scheduler(config({ maxSlots: 8, maxBatchTokens: 4 })), /maxBatchTokens \(4\) must be ≥ maxSlots \(8\)/);
    const s = new Scheduler(config({ contextLength: 8 }));
    assert.throws(
      () => s.add(seq(0, 0)),
      (e: unknown) => e instanceof WgprofError && e.code === 'EMPTY_PROMPT',
    );
    assert.throws(
      () => s.add(seq(1, 8)),
      (e: unknown) => e instanceof WgprofError && e.code === 'PROMPT_TOO_LONG' && /at most 7 tokens/.test(e.message),
    );
    const ok = seq(2, 3);
    s.add(ok);
    assert.throws(() => s.add(ok), /already added/);
    assert.equal(s.numWaiting, 1, 'the bad requests left no trace');
  });
});
