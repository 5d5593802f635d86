// FrontendProfiler: CPU spans of the API layer over the whole start..stop range.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrontendProfiler } from '../../src/profiler/frontend.js';

function fakeClock(): { nowNs: () => number; advance: (ns: number) => void } {
  let t = 1_000;
  return { nowNs: () => t, advance: (ns) => void (t += ns) };
}

describe('FrontendProfiler', () => {
  it('records nothing and returns fn() unchanged while not running', () => {
    const f = new FrontendProfiler();
    assert.equal(
      f.span('tokenize', () => 42),
      42,
    );
    assert.equal(f.stop(), null, 'stop without start hands over nothing');
  });

  it('records nested sync spans with args, ordered by start, parents first', () => {
    const clock = fakeClock();
    const f = new FrontendProfiler({ nowNs: clock.nowNs });
    assert.equal(f.start(), true);
    const value = f.span(
      'add_request',
      () => {
        clock.advance(10);
        const inner = f.span('tokenize', () => {
          clock.advance(5);
          return 'ids';
        });
        clock.advance(10);
        return inner;
      },
      { request_id: 7 },
    );
    assert.equal(value, 'ids');
    const spans = f.stop();
    assert.deepEqual(spans, [
      { name: 'add_request', cat: 'cpu_op', startNs: 1_000, endNs: 1_025, args: { request_id: 7 } },
      { name: 'tokenize', cat: 'cpu_op', startNs: 1_010, endNs: 1_015 },
    ]);
  });

  it('a duplicate start is ignored and keeps the spans recorded so far', () => {
    const f = new FrontendProfiler();
    f.start();
    f.span('a', () => 1);
    assert.equal(f.start(), false);
    assert.equal(f.stop()?.length, 1);
  });

  it('a throwing fn propagates its error and its span is still recorded', () => {
    const clock = fakeClock();
    const f = new FrontendProfiler({ nowNs: clock.nowNs });
    f.start();
    assert.throws(
      () =>
        f.span('bad', () => {
          clock.advance(3);
          throw new Error('boom');
        }),
      /boom/,
    );
    assert.deepEqual(f.stop(), [{ name: 'bad', cat: 'cpu_op', startNs: 1_000, endNs: 1_003 }]);
  });

  it('a promise result ends the span when it settles; one still open at stop() is dropped', async () => {
    const clock = fakeClock();
    const f = new FrontendProfiler({ nowNs: clock.nowNs });
    f.start();
    let release: () => void = () => {};
    const pending = new Promise<void>((resolve) => (release = resolve));
    const settled = f.span('http_request', async () => {
      clock.advance(100);
    });
    const open = f.span('slow', () => pending);
    await settled;
    const spans = f.stop() ?? [];
    release();
    await open;
    assert.deepEqual(
      spans.map((s) => s.name),
      ['http_request'],
    );
    assert.equal(spans[0]?.endNs, 1_100);
    // Restarted: a promise from the previous window does not leak into the new one.
    f.start();
    assert.deepEqual(f.stop(), []);
  });
});
