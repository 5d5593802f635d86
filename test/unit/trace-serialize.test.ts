// The byte-level trace writer (serializeTraceBytes, ByteOut) and the gzip pipelines behind writeTrace:
// same text as serializeTrace, Kineto's number format digit for digit, and Node's parallel deflate
// (segments primed with the previous 32 KiB) giving one valid gzip member. No GPU.

import assert from 'node:assert/strict';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { describe, it } from 'node:test';
import { gunzipSync as zlibGunzip, gzipSync as zlibGzip } from 'node:zlib';
import { gunzipSync } from 'fflate';
import { CallbackSink, concatBytes, encodeTrace, fmtUs, serializeTrace, serializeTraceBytes, writeTrace } from '../../src/trace/index.js';
import { validateTrace } from '../../src/report/index.js';
import type { GzipLevel } from '../../src/trace/index.js';
import { jsonText } from '../../src/trace/json.js';
import { ByteOut } from '../../src/trace/out.js';
import { WgprofError } from '../../src/util/errors.js';
import { NASTY_STRINGS, manyDispatchRecord, twoStepRecord } from './fixtures/trace-records.js';

const TIME_NS = 1_795_829_617_273_139_504n;
const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const written = (write: (out: ByteOut) => void): string => {
  const out = new ByteOut(1024);
  write(out);
  return decode(out.take());
};
const full = () => twoStepRecord({ withMemory: true, withFlops: true, recordShapes: true, withStack: true });

describe('ByteOut', () => {
  it('writes timestamps exactly as fmtUs (Kineto: µs with 3 decimals)', () => {
    const samples = [0, 1, 999, 1000, 1001, 999_999, 1_000_000, 999_999_999, 1e9, 1e9 + 1, 1e9 + 999_000, 4_972_591_005_123, 2 ** 53 - 1];
    let x = 12345;
    for (let i = 0; i < 2000; i++) {
      x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
      samples.push(Math.floor((x / 2_147_483_648) * 8e15));
    }
    for (const ns of samples)
      assert.equal(
        written((out) => out.us(ns)),
        fmtUs(ns),
        `ns ${ns}`,
      );
    assert.equal(
      written((out) => out.us(4_972_591_005_123)),
      '4972591005.123',
    );
    assert.equal(
      written((out) => out.us(42)),
      '0.042',
    );
  });

  it('writes numbers and values exactly as jsonText (so JSON.parse gives buildTrace’s values)', () => {
    const numbers = [0, -0, 7, -7, 2 ** 31, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53 + 2, 1.5, -2.048, 1e21, 1e-7, 0.1 + 0.2, NaN, Infinity, -Infinity];
    for (const v of numbers)
      assert.equal(
        written((out) => out.num(v)),
        jsonText(v),
        `number ${v}`,
      );
    const sparse: number[] = [1];
    sparse[2] = 3;
    const values: unknown[] = [
      [4, 2, 1],
      [],
      [[]],
      [
        [32, 32],
        [32, -32],
      ],
      [1, [2, [3, [4]]]],
      [1.5, 2],
      [1, NaN],
      sparse,
      ['float32', 'f16'],
      { a: [1, 2], b: 'x' },
      'say "hi"',
      null,
      true,
      10n,
    ];
    for (const v of values)
      assert.equal(
        written((out) => out.value(v)),
        jsonText(v),
        JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)),
      );
  });

  it('hands out chunks that later writes never touch, growing for an event larger than a chunk', () => {
    const out = new ByteOut(1024);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) {
      out.text(`"chunk ${i}:` + 'x'.repeat(i * 7) + '"');
      if (out.pending() >= 1024) chunks.push(out.take());
    }
    chunks.push(out.take());
    const expected = Array.from({ length: 300 }, (_, i) => `"chunk ${i}:` + 'x'.repeat(i * 7) + '"').join('');
    assert.equal(decode(concatBytes(chunks)), expected);
  });
});

describe('serializeTraceBytes', () => {
  it('is serializeTrace’s text as UTF-8, in chunks of about chunkChars bytes, counted', () => {
    for (const nasty of NASTY_STRINGS) {
      const record = full();
      record.dispatches[0]!.kernel = nasty;
      record.steps[0]!.annotation = `${nasty} 🚀`;
      for (const chunkChars of [1024, 65_536]) {
        const text = [...serializeTrace(record, { chunkChars })].join('');
        const chunks = serializeTraceBytes(record, { chunkChars });
        const parts = [...chunks];
        assert.equal(decode(concatBytes(parts)), text, JSON.stringify(nasty));
        for (const part of parts.slice(0, -1)) assert.ok(part.length >= chunkChars && part.length < chunkChars + 2048, `chunk of ${part.length}`);
        assert.equal(chunks.stats.bytes, new TextEncoder().encode(text).length);
        assert.equal(chunks.stats.events, (JSON.parse(text) as { traceEvents: unknown[] }).traceEvents.length);
      }
    }
  });

  it('checks the record before the first chunk', () => {
    const record = twoStepRecord();
    record.dispatches[0]!.gpuEndNs = NaN;
    assert.throws(
      () => serializeTraceBytes(record),
      (e: unknown) => e instanceof WgprofError && e.code === 'TRACE_INVALID_RECORD',
    );
  });

  it('feeds encodeTrace as it is, giving the same bytes as text chunks', () => {
    const record = full();
    for (const gzip of [false, true]) {
      const fromBytes = concatBytes([...encodeTrace(serializeTraceBytes(record), { gzip })]);
      const fromText = concatBytes([...encodeTrace(serializeTrace(record), { gzip })]);
      assert.deepEqual(fromBytes, fromText, `gzip ${gzip}`);
    }
  });
});

describe('Node gzip in writeTrace', () => {
  const gz = async (record = manyDispatchRecord(3000), options: { gzipLevel?: GzipLevel; useGzip?: boolean } = {}): Promise<Uint8Array> => {
    let bytes: Uint8Array = new Uint8Array();
    await writeTrace(record, { sink: new CallbackSink((_n, b) => void (bytes = b)), timeNs: TIME_NS, gzipEngine: 'node-zlib', traceName: 't', ...options });
    return bytes;
  };

  it('deflates megabyte segments in parallel into one gzip member that any reader inflates', async () => {
    const record = manyDispatchRecord(3000);
    const text = [...serializeTrace(record, { traceName: 't' })].join('');
    assert.ok(text.length > 2.2 * 1024 * 1024, `${text.length} chars: at least 3 segments`);
    const bytes = await gz(record);
    assert.deepEqual([...bytes.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3], 'gzip header, mtime 0');
    assert.equal(zlibGunzip(bytes).toString('utf8'), text, 'node zlib (checks CRC-32 and size)');
    assert.equal(decode(gunzipSync(bytes)), text, 'fflate');
    assert.deepEqual(validateTrace(JSON.parse(text)), []);
    // Each segment starts from the previous one's last 32 KiB: within 0.2% of one gzip stream.
    const single = zlibGzip(new TextEncoder().encode(text), { level: 6 }).length;
    assert.ok(bytes.length <= single * 1.002, `${bytes.length} B vs ${single} B as one stream`);
    assert.deepEqual(await gz(record), bytes, 'byte-stable');
  });

  it('honours the level (0: stored, 9: smallest) and writes XFL as zlib does', async () => {
    const record = manyDispatchRecord(600);
    const sizes = new Map<number, number>();
    for (const level of [0, 1, 6, 9] as const) {
      const bytes = await gz(record, { gzipLevel: level });
      assert.equal(bytes[8], level === 9 ? 2 : level < 2 ? 4 : 0, `XFL for level ${level}`);
      assert.equal(decode(gunzipSync(bytes)), [...serializeTrace(record, { traceName: 't' })].join(''));
      sizes.set(level, bytes.length);
    }
    assert.ok(sizes.get(0)! > sizes.get(1)! && sizes.get(1)! > sizes.get(6)! && sizes.get(6)! >= sizes.get(9)!, JSON.stringify([...sizes]));
  });

  it('falls back to one streaming gzip where zlib.crc32 is missing (Node < 20.15)', async () => {
    const zlib = createRequire(import.meta.url)('node:zlib') as { crc32?: unknown };
    const crc32 = zlib.crc32;
    const record = manyDispatchRecord(1500);
    const parallel = await gz(record);
    zlib.crc32 = undefined;
    syncBuiltinESMExports();
    try {
      const streamed = await gz(record);
      assert.notDeepEqual(streamed, parallel, 'a different (single-stream) encoding');
      assert.equal(decode(gunzipSync(streamed)), decode(gunzipSync(parallel)));
    } finally {
      zlib.crc32 = crc32;
      syncBuiltinESMExports();
    }
  });

  it("gzipEngine 'compression-stream' (the platform's CompressionStream) writes a gzip that inflates to the same text; 'auto' in Node is node-zlib", async () => {
    const record = manyDispatchRecord(1500);
    const text = [...serializeTrace(record, { traceName: 't' })].join('');
    let streamed: Uint8Array = new Uint8Array();
    const written = await writeTrace(record, {
      sink: new CallbackSink((_n, b) => void (streamed = b)),
      timeNs: TIME_NS,
      gzipEngine: 'compression-stream',
      traceName: 't',
    });
    assert.equal(written.bytes, streamed.length);
    assert.equal(zlibGunzip(streamed).toString('utf8'), text, 'node zlib (checks CRC-32 and size)');
    let auto: Uint8Array = new Uint8Array();
    await writeTrace(record, { sink: new CallbackSink((_n, b) => void (auto = b)), timeNs: TIME_NS, traceName: 't' });
    assert.deepEqual(auto, await gz(record));
  });

  it('a sink that fails while CompressionStream output drains rejects the write and aborts the sink', async () => {
    let aborted = false;
    let writes = 0;
    const sink = {
      location: 'test',
      open: async () => ({
        write: async () => {
          if (++writes === 2) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        },
        commit: async () => 'never',
        abort: async () => void (aborted = true),
      }),
    };
    await assert.rejects(writeTrace(manyDispatchRecord(3000), { sink, timeNs: TIME_NS, gzipEngine: 'compression-stream' }), /ENOSPC/);
    assert.equal(aborted, true);
  });

  it("'compression-stream' takes no gzipLevel: another level is refused, naming both, before the sink opens", async () => {
    let opened = false;
    const inner = new CallbackSink(() => undefined);
    const sink = { location: 'test', open: (name: string) => ((opened = true), inner.open(name)) };
    await assert.rejects(
      writeTrace(twoStepRecord(), { sink, timeNs: TIME_NS, gzipEngine: 'compression-stream', gzipLevel: 9 }),
      (e: unknown) => e instanceof WgprofError && e.code === 'TRACE_BAD_OPTION' && /'compression-stream'/.test(e.message) && /gzipLevel 9/.test(e.message),
    );
    assert.equal(opened, false);
  });

  it('refuses an unknown gzip engine, naming the ones there are', async () => {
    await assert.rejects(
      writeTrace(twoStepRecord(), { sink: new CallbackSink(() => undefined), timeNs: TIME_NS, gzipEngine: 'brotli' as 'auto' }),
      (e: unknown) => e instanceof WgprofError && e.code === 'TRACE_BAD_OPTION' && /'compression-stream'/.test(e.message),
    );
  });

  it('refuses a gzip level outside 0-9 before opening the sink', async () => {
    let opened = false;
    const sink = {
      location: 'test',
      open: async () => {
        opened = true;
        return new CallbackSink(() => undefined).open('x');
      },
    };
    for (const gzipLevel of [10, -1, 2.5, Number.NaN]) {
      await assert.rejects(
        writeTrace(twoStepRecord(), { sink, timeNs: TIME_NS, gzipLevel: gzipLevel as GzipLevel }),
        (e: unknown) => e instanceof WgprofError && e.code === 'TRACE_BAD_OPTION' && /gzipLevel/.test(e.message),
      );
    }
    assert.equal(opened, false);
  });
});
